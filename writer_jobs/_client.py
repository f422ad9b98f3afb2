"""JobsClient: the synchronous client."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import httpx

from generated_client.models import Job, JobDetails, JobStatus

from . import _engine
from ._base import _UNSET_TIMEOUT, ClientBase
from ._bulk import BulkProgress, BulkRun, BulkSummary, JobOutcome, Selection, Stopped, Todo
from ._config import DEFAULT_MAX_UNAVAILABLE
from ._exceptions import ConfigurationError
from ._transports import SyncHttpx
from ._watch import Watcher, interval

T = TypeVar("T")


class JobsClient(ClientBase):
    """A synchronous client for the Writer async jobs API.

    ``JobsClient()`` reads ``WRITER_API_KEY`` and ``WRITER_BASE_URL``; keywords
    override them. It holds one connection pool: use it as a context manager, or
    call ``close()``. Safe to share across threads.

    Retries: up to ``max_retries`` more attempts on connection errors, timeouts,
    408, 429, 500, 502, 503 and 504, with exponential backoff and full jitter from
    ``backoff_initial`` up to ``backoff_max`` seconds, honouring ``Retry-After``
    up to ``max_retry_after`` seconds. ``retry()`` never re-triggers a job twice;
    ``create()`` is repeated only when the request certainly was not processed.
    """

    _http_client_type = httpx.Client

    def _setup_http(
        self, http_client: httpx.Client | None, verify: Any, proxy: str | None, http_backend: str
    ) -> None:
        if http_backend != "httpx":
            raise ConfigurationError(
                "JobsClient sends through httpx; http_backend='aiohttp' is for AsyncJobsClient"
            )
        owned = http_client is None
        if http_client is None:
            http_client = self._own_http_client(verify, proxy, keepalive=20)
        self._transport = SyncHttpx(self._config, http_client, owned=owned)

    @property
    def http_client(self) -> httpx.Client:
        """The httpx.Client requests go through (yours, if you passed one)."""
        return self._transport.http

    # --- I/O: carry out the engine's actions ---------------------------------------
    def _send(
        self, action: _engine.Send, before_write: Callable[[], None] | None = None
    ) -> httpx.Response | Exception:
        self._check_open()
        return self._transport.send(action, before_write)

    def _run(self, flow: _engine.Flow[T], run: BulkRun | None = None) -> T:
        """Carry out a flow's actions; within a bulk run, paced and stoppable."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    if run is None:
                        time.sleep(action.seconds)
                    else:
                        run.sleep_for(action)
                        run.gate.sleep(action.seconds)
                    action = flow.send(None)
                else:
                    late = self._queue(action, run)
                    if late is not None:
                        action = flow.send(_engine.NotSent(late))
                        continue
                    outcome = self._send(action, None if run is None else run.gate.check)
                    self._budget.observe(outcome)
                    self._availability.observe(outcome)
                    if run is not None:
                        run.observe(outcome)
                    action = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result

    def _queue(self, action: _engine.Send, run: BulkRun | None) -> float | None:
        """Wait for the request's place in the budget: a long wait is taken a slice
        at a time, asking again after each (the pace may have changed), and a place
        taken before a 429 came is given back. Returns None, or the wait that would
        have ended past the call's deadline (then nothing is sent)."""
        pace = run.reserve() if run else 0.0  # the run's own cap: one place a request
        cleared = not action.bulk  # bulk: held back while the service is unavailable
        while True:
            if not cleared and (outage := self._outage_wait(action)) > 0:
                if run is None:
                    time.sleep(outage)
                else:
                    run.gate.sleep(outage)
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
            try:
                if run is None:
                    if max(wait, pace) > 0:
                        time.sleep(max(wait, pace))
                else:
                    if max(wait, pace) > 0:
                        run.gate.sleep(max(wait, pace))
                    run.gate.check()
            except BaseException:  # stopped or interrupted while queueing: nothing sent
                budget.release()
                raise
            pace = 0.0
            if wait == delay and budget.signals == signals:
                return None
            budget.release()

    # --- the API ----------------------------------------------------------------
    def retry(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT
    ) -> Job:
        """Re-trigger a failed job; returns the job as the API accepted it.

        Safe to retry: if an attempt's outcome is unknown, the job is fetched before
        another POST, and when it is no longer ``failed`` its state is returned.
        Raises InvalidArgumentError (before any I/O) if ``job_id`` is not a UUID.
        """
        result: Job = self._run(self._retry_flow(job_id, timeout))
        return result

    def get(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT
    ) -> JobDetails:
        """One job, with its status, error, result data and timestamps."""
        result: JobDetails = self._run(self._get_flow(job_id, timeout))
        return result

    def create(
        self,
        application_id: str,
        inputs: Mapping[str, str | Sequence[str]],
        *,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> Job:
        """Start a job for an application: ``inputs`` maps input names to a value or values."""
        result: Job = self._run(self._create_flow(application_id, inputs, timeout))
        return result

    def wait(
        self,
        job_id: UUID | str,
        *,
        deadline: float | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> JobDetails:
        """Poll until the job is ``completed`` or ``failed`` and return it.

        Polls 1 s apart, growing to 10 s. ``deadline`` is how long to wait in all, in
        seconds (None: no limit); past it, WaitTimeoutError carries the last state.
        ``timeout`` is per request, as on every method.
        """
        result: JobDetails = self._run(self._wait_flow(job_id, deadline, timeout))
        return result

    def wait_many(
        self,
        job_ids: Iterable[UUID | str],
        *,
        deadline: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> Iterator[JobDetails]:
        """Wait for many jobs at once, yielding each as it finishes (``completed`` or
        ``failed``), in the order they finish.

        One GET a job to learn its application and state, then rounds of list pages
        per application, paced from the client's budget: pages, not a GET per job
        per poll. ``deadline`` is how long to wait in all, in seconds (None: no
        limit); past it, WaitTimeoutError names the jobs still running.
        """
        ids, until = self._wait_ids(job_ids, deadline)
        config = self._wait_many_config(max_unavailable)
        watchers: dict[str, Watcher] = {}
        for job_id in ids:
            details = self._run(_engine.execute(_engine.get_call(job_id), config, None))
            if self._watch_or_done(watchers, details):
                yield details
        while (step := self._next_round(watchers, until)) is not None:
            watcher, pause = step
            time.sleep(pause)
            yield from self._run(watcher.round(config, None))

    def list(
        self,
        application_id: str,
        *,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> Iterator[JobDetails]:
        """Every job of an application (optionally with one status), fetched a page at a time."""
        pager = self._pager(application_id, status, page_size)
        request_timeout = self._timeout(timeout)
        return self._pages(pager, request_timeout)

    def _pages(self, pager: _engine.Pager, timeout: httpx.Timeout | None) -> Iterator[JobDetails]:
        while (call := pager.next_call()) is not None:
            page = self._run(_engine.execute(call, self._config, timeout))
            yield from pager.accept(page)

    def retry_failed(
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
        """Retry every failed job of an application; see :meth:`AsyncJobsClient.retry_failed`.

        Runs ``concurrency`` worker threads over this client's connection pool.
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
                    page = self._run(_engine.execute(call, run.config, run.timeout), run)
                    run.add_listed(pager.accept(page))
                jobs = run.todo(pager.shifted, pager.unverified)
                if jobs is None:
                    run.record_preview()  # a dry run's preview (nothing otherwise)
                    return run.summary(self._availability.unavailable_seconds)
                if jobs:
                    run.tell_progress()
                if jobs and not run.dry_run:
                    self._work(run, jobs, concurrency)
                elif not jobs:
                    run.gate.sleep(run.settle_pause())
        finally:
            run.close()

    def _work(self, run: BulkRun, jobs: Sequence[Todo], concurrency: int) -> None:
        """Hand ``jobs`` to worker threads; stop them all at the first error or Ctrl-C."""
        todo = iter(jobs)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def guarded(body: Callable[[], None]) -> Callable[[], None]:
            def run_body() -> None:
                try:
                    body()
                except Stopped:
                    return
                except BaseException as exc:  # e.g. on_outcome raised, the journal failed
                    errors.append(exc)
                    run.gate.stop()
                finally:
                    run.leave()  # the last thread out releases the run lock of a closed run

            run.enter()
            return run_body

        def worker() -> None:
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                run.gate.check()
                run.finish(self._run(run.flow(*item), run), item)

        workers = [
            threading.Thread(target=guarded(worker), name=f"writer-jobs-{n}", daemon=True)
            for n in range(min(concurrency, len(jobs)))
        ]
        threads = list(workers)
        if run.watcher is not None:

            def watch() -> None:
                watcher = run.watcher
                assert watcher is not None
                while True:
                    triggering = any(w.is_alive() for w in workers)
                    if not triggering and not watcher.pending:
                        return
                    run.gate.sleep(interval(watcher, self._budget.pace(), triggering=triggering))
                    run.expire()
                    if watcher.pending:
                        run.ended(self._run(watcher.round(run.config, run.timeout), run))

            threads.append(threading.Thread(target=guarded(watch), name="writer-jobs-watch"))
        for thread in threads:
            thread.start()
        try:
            while not errors and any(t.is_alive() for t in threads):
                # A bounded join: Ctrl-C reaches this thread, and an error stops the run
                # at once rather than when the slowest request ends.
                next(t for t in threads if t.is_alive()).join(0.25)
        except BaseException:
            _stop(run, threads)
            raise
        if errors:
            _stop(run, threads)
            raise errors[0]

    # --- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool, unless it is an http_client you passed in (that
        one is yours to close). Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _stop(run: BulkRun, threads: Sequence[threading.Thread]) -> None:
    """Stop a run's threads: none sends a request's bytes after this (the gate is
    checked before each write, so one stuck in connect sends nothing); one whose
    request is out finishes it and records nothing, its job stays unsettled in the
    journal. Waits a second at most: the run lock stays held until the last one ends."""
    run.gate.stop()
    give_up = time.monotonic() + 1.0
    for thread in threads:
        thread.join(max(0.0, give_up - time.monotonic()))
