"""``AsyncJobsClient``: the asyncio single-call client plus the bulk layer's two
methods, and the task driver that carries their plans out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any, Unpack
from uuid import UUID

from generated_client.models import JobDetails

from .._async_client import AsyncSingleCallClient
from .._config import DEFAULT_MAX_UNAVAILABLE
from ._outcome import BulkSummary
from ._plan import (
    Pause,
    Plan,
    Report,
    RetryFailedOptions,
    Work,
    start_run,
    wait_many_plan,
    workers_for,
)
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
        """Hand the items to worker tasks; at the first error (or when this call is
        cancelled) cancel them all and wait until they have stopped, so nothing is
        sent after this returns or raises."""
        todo = iter(work.items)  # one shared iterator: each item goes to one worker

        async def worker() -> None:
            try:
                for item in todo:
                    work.finish(await self._run(work.start(item), run), item)
            except Stopped:
                return  # the run stopped while this request was out: it records nothing

        workers = [asyncio.create_task(worker()) for _ in range(workers_for(work))]
        tasks = list(workers)

        async def watch(plan: Plan) -> None:
            async for _ in self._drive(plan, run):  # the watch plan reports nothing
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
