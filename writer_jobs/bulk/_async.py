"""``AsyncJobsClient``: the asyncio single-call client plus the bulk layer's two
methods, and the task driver that carries their plans out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any
from uuid import UUID

import httpx

from writer_jobs._generated.models import JobDetails

from .._async_client import AsyncSingleCallClient
from .._base import CLIENT_TIMEOUT
from ._batch import BatchProgress, BatchSummary, RowsInput, start_batch
from ._hold import DEFAULT_MAX_UNAVAILABLE, HoldBack, Stopped, client_state
from ._outcome import BulkProgress, BulkSummary, JobOutcome
from ._plan import (
    Pause,
    Plan,
    Report,
    Work,
    start_run,
    start_wait_many,
    workers_for,
)
from ._rows import RowResult
from ._run import BulkRun
from ._selection import Selection


class AsyncJobsClient(AsyncSingleCallClient):
    __doc__ = AsyncSingleCallClient.__doc__

    async def retry_failed(
        self,
        application_id: str,
        *,
        concurrency: int = 16,
        wait: bool = False,
        wait_deadline: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        rate_limit: float | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
        select: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> BulkSummary:
        """Retry every failed job of an application, safely and resumably.

        Lists every failed job, retries them with ``retry()``'s guarantee through
        ``concurrency`` workers, then lists again until a pass finds no failed job it
        has not handled. With ``wait=True`` one watcher follows the re-triggered jobs
        with list pages until each ends (``wait_deadline`` seconds at most each).

        Each job's outcome goes to ``on_outcome`` as it happens and, with
        ``journal`` (a path), is appended to it as a JSON line, flushed per line.
        Rerun with the same journal to resume: final outcomes are skipped, and jobs
        an interrupted run may have touched are checked with a GET before any retry.
        A job this run (or its journal's earlier runs) re-triggered is never retried
        again by it, even if it failed again: to retry those, start a new run (a new
        journal). ``on_progress`` is told a ``BulkProgress`` when the jobs to
        handle are known (before any is sent: a place to ask for confirmation), and
        as each is sent and finishes.

        Every request draws on the client's budget (its ``rate_limit``); this
        ``rate_limit`` (requests a minute) is an extra cap for this run only.
        Returns a BulkSummary. Only one run per application and base URL at a time
        on this machine (RunInProgressError); see the README for the guarantees.
        ``RetryFailedOptions`` says what each keyword does.
        """
        run, plan = start_run(self, application_id, locals())
        try:
            async for _ in self._drive(plan, run.hold, run):  # its plan reports nothing
                pass
            return run.summary()
        finally:
            run.close()

    # --- batch (see _batch) -----------------------------------------------------------
    async def batch(
        self,
        application_id: str,
        rows: RowsInput,
        *,
        results: str | os.PathLike[str] | None = None,
        key: str | None = None,
        max_attempts: int = 3,
        concurrency: int = 16,
        rate_limit: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
        skip_invalid: bool = False,
        create_unresolved: bool = False,
        dry_run: bool = False,
        on_result: Callable[[RowResult], None] | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> BatchSummary:
        """Create a job per row, watch each to its end, retry what fails, and write each
        row's result once; returns a :class:`BatchSummary`.

        ``rows``: an iterable of mappings (input name to a str or a list of str), or the
        path of a CSV or JSONL file (every row is checked before anything is sent; bad
        ones raise InvalidArgumentError naming their lines, or with ``skip_invalid``
        get an ``invalid`` result). ``key``: the column naming each row in the results
        (not sent). ``results``: a path (JSONL, or CSV by its extension) written a
        record per row as it ends, with a journal beside it (``RESULTS.journal``): run
        again with the same results to resume; rows done are not sent again.

        Every row's job is created once: creates go one at a time, each journaled
        before it is sent; one whose answer is lost is settled from the application's
        job list (the job it made, none: created again, or ``unresolved`` with its
        candidate jobs when another program creating jobs makes it unprovable; those
        are created again only with ``create_unresolved``). Jobs are watched with list
        pages; one that fails is retried (exactly once per attempt) up to
        ``max_attempts`` runs in all. ``on_result`` gets each ``RowResult``,
        ``on_progress`` a ``BatchProgress`` as the run moves. ``rate_limit``,
        ``max_unavailable`` and ``timeout`` are as for ``retry_failed``; ``dry_run``
        checks the rows and sends nothing.
        """
        run, plan, preview = start_batch(self, application_id, rows, locals())
        if preview is not None:
            return preview
        assert run is not None and plan is not None
        try:
            async for _ in self._drive(plan, run.hold, run):  # a batch's plan reports nothing
                pass
            return run.batch_summary()
        finally:
            run.close()

    async def wait_many(
        self,
        job_ids: Iterable[UUID | str],
        *,
        deadline: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> AsyncIterator[JobDetails]:
        """Wait for many jobs at once, yielding each as it finishes; see
        ``JobsClient.wait_many()``."""
        hold, plan = start_wait_many(self, job_ids, deadline, max_unavailable)
        async for job in self._drive(plan, hold):
            yield job

    async def aclose(self) -> None:
        """Close the connection pool, unless it is an http_client you passed in (that
        one is yours to close), once the requests a stopped ``retry_failed`` left to
        finish are answered. Calling it again does nothing."""
        finishing = client_state(self).finishing
        if finishing and not self._closed:
            # Their answers must come back before the pool closes (the server may still
            # carry them out), so the process (asyncio.run, the CLI) cannot end under them.
            await asyncio.wait(set(finishing))
        await super().aclose()

    async def _drive(
        self, plan: Plan, hold: HoldBack, run: BulkRun | None = None
    ) -> AsyncIterator[JobDetails]:
        """Carry out a plan's steps in this task; yields what it reports."""
        result: Any = None
        while True:
            try:
                step = plan.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(step, Pause):
                hold.check()
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Report):
                for job in step.jobs:
                    yield job
            elif isinstance(step, Work):
                assert run is not None
                await self._work(run, step)
            else:
                result = await self._run(step, hold)

    async def _work(self, run: BulkRun, work: Work) -> None:
        """Hand the items to worker tasks; at the first error (or when this call is
        cancelled) cancel them all and wait until they have stopped, so nothing is
        sent after this returns or raises."""
        todo = iter(work.items)  # one shared iterator: each item goes to one worker

        async def worker() -> None:
            try:
                for item in todo:
                    work.finish(await self._run(work.start(item), run.hold), item)
            except Stopped:
                return  # the run stopped while this request was out: it records nothing

        workers = [asyncio.create_task(worker()) for _ in range(workers_for(work))]
        tasks = list(workers)

        async def watch(plan: Plan) -> None:
            async for _ in self._drive(plan, run.hold, run):  # the watch plan reports nothing
                pass

        if work.watch is not None:
            plan = work.watch(lambda: not all(w.done() for w in workers))
            tasks.append(asyncio.create_task(watch(plan)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            if not all(task.done() for task in tasks):  # an error, or this call cancelled
                run.gate.stop()
            # A task whose request is out is left to finish it (as a sync worker does):
            # cancelling would only abandon the answer, not the request, which the
            # server may still carry out. It sends nothing more (the gate) and holds the
            # run lock until it ends, so a resume cannot check its job too early.
            cancel = [task for task in tasks if task not in run.hold.sending]
            for task in cancel:
                task.cancel()
            if cancel:
                await asyncio.wait(cancel)
            for task in tasks:
                if task in run.hold.sending and not task.done():
                    run.hold_until_done(task)
                    finishing = client_state(self).finishing
                    finishing.add(task)
                    task.add_done_callback(finishing.discard)
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error
