"""``AsyncJobsClient``: the asyncio single-call client plus the bulk layer's two
methods, and the task driver that carries their plans out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Unpack
from uuid import UUID

import httpx

from generated_client.models import JobDetails

from .._async_client import AsyncSingleCallClient
from .._base import _UNSET_TIMEOUT
from .._config import DEFAULT_MAX_UNAVAILABLE
from ._batch import BatchOptions, BatchProgress, BatchSummary, RowsInput, start_batch
from ._outcome import BulkSummary
from ._plan import (
    Pause,
    Plan,
    Report,
    RetryFailedOptions,
    Work,
    start_run,
    wait_many_plan,
    watch_plan,
)
from ._rows import RowResult
from ._run import BulkRun, Stopped


class AsyncJobsClient(AsyncSingleCallClient):
    __doc__ = AsyncSingleCallClient.__doc__

    async def retry_failed(
        self, application_id: str, **options: Unpack[RetryFailedOptions]
    ) -> BulkSummary:
        """Retry every failed job of an application, safely and resumably.

        Lists every failed job, retries them with ``retry()``'s guarantee through
        ``concurrency`` workers, then lists again until a pass finds no failed job it
        has not handled. With ``wait=True`` one watcher follows the re-triggered jobs
        with list pages until each ends (``wait_timeout`` seconds at most each).

        Each job's outcome goes to ``on_outcome`` as it happens and, with
        ``journal`` (a path), is appended to it as a JSON line, flushed per line.
        Rerun with the same journal to resume: final outcomes are skipped, and jobs
        an interrupted run may have touched are checked with a GET before any retry.
        A job this run (or its journal's earlier runs) re-triggered is never retried
        again by it, even if it failed again: to retry those, start a new run (a new
        journal). ``on_progress`` is told a :class:`BulkProgress` when the jobs to
        handle are known (before any is sent: a place to ask for confirmation), and
        as each is sent and finishes.

        Every request draws on the client's budget (its ``rate_limit``); this
        ``rate_limit`` (requests a minute) is an extra cap for this run only.
        Returns a BulkSummary. Only one run per application and base URL at a time
        on this machine (RunInProgressError); see the README for the guarantees.
        The keywords are those of ``RetryFailedOptions``.
        """
        run, plan = start_run(self, application_id, options)
        try:
            async for _ in self._drive(plan, run):  # retry_failed's plan reports nothing
                pass
            return run.summary(self._availability.unavailable_seconds)
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
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
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
        options = BatchOptions(
            results=results,
            key=key,
            max_attempts=max_attempts,
            concurrency=concurrency,
            rate_limit=rate_limit,
            max_unavailable=max_unavailable,
            skip_invalid=skip_invalid,
            create_unresolved=create_unresolved,
            dry_run=dry_run,
            on_result=on_result,
            on_progress=on_progress,
            timeout=timeout,
        )
        run, plan, preview = start_batch(self, application_id, rows, options)
        if preview is not None:
            return preview
        assert run is not None and plan is not None
        try:
            async for _ in self._drive(plan, run):  # a batch's plan reports nothing
                pass
            return run.batch_summary(self._availability.unavailable_seconds)
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
        :meth:`JobsClient.wait_many`."""
        plan = wait_many_plan(self, job_ids, deadline, max_unavailable)
        async for job in self._drive(plan, None):
            yield job

    async def _drive(self, plan: Plan, run: BulkRun | None) -> AsyncIterator[JobDetails]:
        """Carry out a plan's steps in this task; yields what it reports."""
        result: Any = None
        while True:
            try:
                step = plan.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(step, Pause):
                if run is not None:
                    run.check()
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Report):
                for job in step.jobs:
                    yield job
            elif isinstance(step, Work):
                assert run is not None
                await self._work(run, step)
            else:
                result = await self._run(step, run)

    async def _work(self, run: BulkRun, work: Work) -> None:
        """Hand ``jobs`` to worker tasks; at the first error (or when this call is
        cancelled) cancel them all and wait until they have stopped, so nothing is
        sent after this returns or raises."""
        todo = iter(work.jobs)  # one shared iterator: each job goes to one worker

        async def worker() -> None:
            try:
                for item in todo:
                    run.finish(await self._run(run.start_job(*item), run), item)
            except Stopped:
                return  # the run stopped while this request was out: it records nothing

        workers = [
            asyncio.create_task(worker()) for _ in range(min(work.concurrency, len(work.jobs)))
        ]
        tasks = list(workers)

        async def watch(plan: Plan) -> None:
            async for _ in self._drive(plan, run):  # the watch plan reports nothing
                pass

        if run.watcher is not None:
            triggering = lambda: not all(w.done() for w in workers)  # noqa: E731
            plan = watch_plan(run, run.watcher, triggering, self._budget.pace)
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
            cancel = [task for task in tasks if task not in run.sending]
            for task in cancel:
                task.cancel()
            if cancel:
                await asyncio.wait(cancel)
            for task in tasks:
                if task in run.sending and not task.done():
                    run.hold_until_done(task)
                    self._held.add(task)
                    task.add_done_callback(self._held.discard)
        for task in tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error
