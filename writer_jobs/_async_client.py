"""AsyncJobsClient: the asyncio client, the twin of JobsClient."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import httpx

from generated_client.models import Job, JobDetails, JobStatus

from . import _engine
from ._base import _UNSET_TIMEOUT, ClientBase
from ._bulk import BulkProgress, BulkRun, BulkSummary, JobOutcome, Selection, Stopped, Todo
from ._config import DEFAULT_MAX_UNAVAILABLE
from ._transports import AsyncAiohttp, AsyncHttpx
from ._watch import Watcher, interval

T = TypeVar("T")


class AsyncJobsClient(ClientBase):
    """The asyncio twin of :class:`JobsClient`: the same methods as coroutines,
    ``list()`` as an async iterator, ``async with`` and ``aclose()``. Safe to
    share across tasks of one event loop."""

    _http_client_type = httpx.AsyncClient

    def _setup_http(
        self,
        http_client: httpx.AsyncClient | None,
        verify: Any,
        proxy: str | None,
        http_backend: str,
    ) -> None:
        self._transport: AsyncHttpx | AsyncAiohttp
        #: Tasks of stopped runs still finishing a request: aclose() waits for them.
        self._held: set[asyncio.Task[Any]] = set()
        #: What sends the requests: "httpx" (the default) or "aiohttp" (when asked).
        self.backend = http_backend
        if http_backend == "aiohttp":
            self._transport = AsyncAiohttp(self._config, verify=verify, proxy=proxy)
            return
        owned = http_client is None
        if http_client is None:
            http_client = self._own_http_client(verify, proxy, keepalive=100)
        self._transport = AsyncHttpx(self._config, http_client, owned=owned)

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The httpx.AsyncClient requests go through (None with the aiohttp backend)."""
        return self._transport.http if isinstance(self._transport, AsyncHttpx) else None

    # --- I/O: carry out the engine's actions ---------------------------------------
    async def _send(self, action: _engine.Send) -> httpx.Response | Exception:
        self._check_open()
        return await self._transport.send(action)

    async def _run(self, flow: _engine.Flow[T], run: BulkRun | None = None) -> T:
        """Carry out a flow's actions; within a bulk run, paced."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    if run is not None:
                        run.gate.check()  # stopped: a task left to finish its request ends
                        run.sleep_for(action)
                    await asyncio.sleep(action.seconds)
                    action = flow.send(None)
                else:
                    late = await self._queue(action, run)
                    if late is not None:
                        action = flow.send(_engine.NotSent(late))
                        continue
                    if run is None:
                        outcome = await self._send(action)
                    else:
                        outcome = await self._send_in(run, action)
                    self._budget.observe(outcome)
                    self._availability.observe(outcome)
                    if run is not None:
                        run.observe(outcome)
                    action = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result

    async def _queue(self, action: _engine.Send, run: BulkRun | None) -> float | None:
        """Wait for the request's place in the budget: a long wait is taken a slice
        at a time, asking again after each (the pace may have changed), and a place
        taken before a 429 came is given back. Returns None, or the wait that would
        have ended past the call's deadline (then nothing is sent)."""
        pace = run.reserve() if run else 0.0  # the run's own cap: one place a request
        cleared = not action.bulk  # bulk: held back while the service is unavailable
        while True:
            if not cleared and (outage := self._outage_wait(action)) > 0:
                await asyncio.sleep(outage)
                continue
            cleared = True  # let through (maybe as the probe): not held again
            budget = self._budget
            signals = budget.signals
            delay = budget.reserve()
            until = action.until if run is None else None
            if until is not None and time.monotonic() + max(delay, pace) > until:
                budget.release()
                return max(delay, pace)
            wait = min(delay, budget.recheck)
            if max(wait, pace) > 0:
                try:
                    await asyncio.sleep(max(wait, pace))
                except BaseException:  # cancelled while queueing: nothing was sent
                    budget.release()
                    raise
            pace = 0.0
            if wait == delay and budget.signals == signals:
                return None
            budget.release()

    async def _send_in(self, run: BulkRun, action: _engine.Send) -> httpx.Response | Exception:
        """Send within a run: never once it has stopped; while sending, the task is
        one the run does not cancel (see _work)."""
        run.gate.check()
        task = asyncio.current_task()
        run.sending.add(task)
        try:
            return await self._send(action)
        finally:
            run.sending.discard(task)

    # --- the API ----------------------------------------------------------------
    async def retry(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT
    ) -> Job:
        """Re-trigger a failed job; see :meth:`JobsClient.retry`."""
        result: Job = await self._run(self._retry_flow(job_id, timeout))
        return result

    async def get(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT
    ) -> JobDetails:
        """One job; see :meth:`JobsClient.get`."""
        result: JobDetails = await self._run(self._get_flow(job_id, timeout))
        return result

    async def create(
        self,
        application_id: str,
        inputs: Mapping[str, str | Sequence[str]],
        *,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> Job:
        """Start a job; see :meth:`JobsClient.create`."""
        result: Job = await self._run(self._create_flow(application_id, inputs, timeout))
        return result

    async def wait(
        self,
        job_id: UUID | str,
        *,
        deadline: float | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> JobDetails:
        """Poll until the job finishes; see :meth:`JobsClient.wait`."""
        result: JobDetails = await self._run(self._wait_flow(job_id, deadline, timeout))
        return result

    async def wait_many(
        self,
        job_ids: Iterable[UUID | str],
        *,
        deadline: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> AsyncIterator[JobDetails]:
        """Wait for many jobs at once, yielding each as it finishes; see
        :meth:`JobsClient.wait_many`."""
        ids, until = self._wait_ids(job_ids, deadline)
        config = self._wait_many_config(max_unavailable)
        watchers: dict[str, Watcher] = {}
        for job_id in ids:
            details = await self._run(_engine.execute(_engine.get_call(job_id), config, None))
            if self._watch_or_done(watchers, details):
                yield details
        while (step := self._next_round(watchers, until)) is not None:
            watcher, pause = step
            await asyncio.sleep(pause)
            for details in await self._run(watcher.round(config, None)):
                yield details

    def list(
        self,
        application_id: str,
        *,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> AsyncIterator[JobDetails]:
        """Every job of an application, as an async iterator; see :meth:`JobsClient.list`."""
        pager = self._pager(application_id, status, page_size)
        return self._pages(pager, self._timeout(timeout))

    async def _pages(
        self, pager: _engine.Pager, timeout: httpx.Timeout | None
    ) -> AsyncIterator[JobDetails]:
        while (call := pager.next_call()) is not None:
            page = await self._run(_engine.execute(call, self._config, timeout))
            for job in pager.accept(page):
                yield job

    async def retry_failed(
        self,
        application_id: str,
        *,
        concurrency: int = 16,
        wait: bool = False,
        wait_timeout: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        rate_limit: float | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
        select: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
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
        """
        run = self._bulk_run(
            application_id,
            concurrency=concurrency,
            wait=wait,
            wait_timeout=wait_timeout,
            journal=journal,
            rate_limit=rate_limit,
            on_outcome=on_outcome,
            timeout=timeout,
            select=select,
            dry_run=dry_run,
            max_unavailable=max_unavailable,
        )
        run.on_progress = on_progress
        try:
            while True:
                pager = self._failed_pager(run)
                while (call := pager.next_call()) is not None:
                    page = await self._run(_engine.execute(call, run.config, run.timeout), run)
                    run.add_listed(pager.accept(page))
                jobs = run.todo(pager.shifted, pager.unverified)
                if jobs is None:
                    run.record_preview()  # a dry run's preview (nothing otherwise)
                    return run.summary(self._availability.unavailable_seconds)
                if jobs:
                    run.tell_progress()
                if jobs and not run.dry_run:
                    await self._work(run, jobs, concurrency)
                elif not jobs:
                    await asyncio.sleep(run.settle_pause())
        finally:
            run.close()

    async def _work(self, run: BulkRun, jobs: Sequence[Todo], concurrency: int) -> None:
        """Hand ``jobs`` to worker tasks; at the first error (or when this call is
        cancelled) cancel them all and wait until they have stopped, so nothing is
        sent after this returns or raises."""
        todo = iter(jobs)  # one shared iterator: each job goes to one worker

        async def worker() -> None:
            try:
                for item in todo:
                    run.finish(await self._run(run.flow(*item), run), item)
            except Stopped:
                return  # the run stopped while this request was out: it records nothing

        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(jobs)))]
        tasks = list(workers)

        async def watch(watcher: Watcher) -> None:
            while True:
                triggering = not all(w.done() for w in workers)
                if not triggering and not watcher.pending:
                    return
                await asyncio.sleep(interval(watcher, self._budget.pace(), triggering=triggering))
                run.expire()
                if watcher.pending:
                    run.ended(await self._run(watcher.round(run.config, run.timeout), run))

        if run.watcher is not None:
            tasks.append(asyncio.create_task(watch(run.watcher)))
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

    # --- lifecycle ----------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connection pool, unless it is an http_client you passed in (that
        one is yours to close). Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            if self._held:
                # Requests a stopped run left to finish: their answers must come back
                # before the pool closes (the server may still carry them out), so the
                # process (asyncio.run, the CLI) cannot end under them.
                await asyncio.wait(set(self._held))
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
