"""The synchronous client's single calls (``JobsClient`` adds the bulk layer's two)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import httpx

from generated_client.models import Job, JobDetails, JobStatus

from . import _engine
from ._availability import Probe
from ._base import CLIENT_TIMEOUT, ClientBase, RunControl
from ._exceptions import ConfigurationError
from ._transports import SyncHttpx

T = TypeVar("T")


class SingleCallClient(ClientBase):
    """A synchronous client for the Writer async jobs API (its single calls).

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
        #: The ends (set when each is over) of threads a stopped run left finishing a
        #: request: close() waits for them.
        self._held: set[threading.Event] = set()
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

    def _run(self, flow: _engine.Flow[T], run: RunControl | None = None) -> T:
        """Carry out a flow's actions; within a bulk run, paced and stoppable."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    if run is None:
                        time.sleep(action.seconds)
                    else:
                        run.retrying(action)
                        run.pause(action.seconds)
                    action = flow.send(None)
                else:
                    probe = self._clear_outage(action, run)
                    outcome: httpx.Response | Exception | None = None
                    late: float | None = None
                    try:
                        late = self._queue(action, run)
                        if late is None:
                            outcome = self._send(action, None if run is None else run.check)
                    finally:
                        # Whatever ended it (an answer, Ctrl-C, a stopped run), a probe
                        # is given back: no answer (None) tells nothing.
                        self._availability.observe(outcome, probe)
                    if late is not None:
                        action = flow.send(_engine.NotSent(late))
                        continue
                    self._budget.observe(outcome)
                    if run is not None:
                        run.observe(outcome)
                    action = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result

    def _clear_outage(self, action: _engine.Send, run: RunControl | None) -> Probe | None:
        """While the service is unavailable, a bulk request waits for it; returns the
        Probe when it is let through as the one probing it (the caller gives it back)."""
        if not action.bulk:
            return None
        while True:
            outage = self._outage_wait(action)
            if isinstance(outage, Probe):
                return outage
            if outage <= 0:
                return None
            if run is None:
                time.sleep(outage)
            else:
                run.pause(outage)

    def _queue(self, action: _engine.Send, run: RunControl | None) -> float | None:
        """Wait for the request's place in the budget (see _queue_steps); within a run,
        stoppable. Returns None, or the wait that would have ended past the call's
        deadline (then nothing is sent)."""
        with contextlib.closing(self._queue_steps(action, run)) as steps:
            try:
                while True:
                    wait = next(steps)
                    if run is None:
                        if wait > 0:
                            time.sleep(wait)
                    else:
                        if wait > 0:
                            run.pause(wait)
                        run.check()
            except StopIteration as done:
                late: float | None = done.value
                return late

    # --- the API ----------------------------------------------------------------
    def retry(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT
    ) -> Job:
        """Re-trigger a failed job; returns the job as the API accepted it.

        Safe to retry: if an attempt's outcome is unknown, the job is fetched before
        another POST, and when it is no longer ``failed`` its state is returned.
        Raises InvalidArgumentError (before any I/O) if ``job_id`` is not a UUID.
        """
        return self._run(self._retry_flow(job_id, timeout))

    def get(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT
    ) -> JobDetails:
        """One job, with its status, error, result data and timestamps."""
        return self._run(self._get_flow(job_id, timeout))

    def create(
        self,
        application_id: str,
        inputs: Mapping[str, str | Sequence[str]],
        *,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> Job:
        """Start a job for an application: ``inputs`` maps input names to a value or values."""
        return self._run(self._create_flow(application_id, inputs, timeout))

    def wait(
        self,
        job_id: UUID | str,
        *,
        deadline: float | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> JobDetails:
        """Poll until the job is ``completed`` or ``failed`` and return it.

        Polls 1 s apart, growing to 10 s. ``deadline`` is how long to wait in all, in
        seconds (None: no limit); past it, WaitTimeoutError carries the last state.
        ``timeout`` is per request, as on every method.
        """
        return self._run(self._wait_flow(job_id, deadline, timeout))

    def list(
        self,
        application_id: str,
        *,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> Iterator[JobDetails]:
        """Every job of an application (optionally with one status), fetched a page at a time."""
        pager = self._pager(application_id, status, page_size)
        request_timeout = self._timeout(timeout)
        return self._pages(pager, request_timeout)

    def _pages(self, pager: _engine.Pager, timeout: httpx.Timeout | None) -> Iterator[JobDetails]:
        while (call := pager.next_call()) is not None:
            page = self._run(_engine.execute(call, self._config, timeout))
            yield from pager.accept(page)

    # --- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool, unless it is an http_client you passed in (that
        one is yours to close), once the requests a stopped ``retry_failed`` left to
        finish are answered. Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            # Requests a stopped run left to finish (each bounded by its timeout): their
            # answers must come back before the pool closes and before the program can
            # end (the run lock goes with it), or a rerun checks their jobs too early.
            for end in list(self._held):
                end.wait()
            self._held.clear()
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
