"""The synchronous client's single calls (``JobsClient`` adds the bulk layer's two)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

import httpx

from writer_jobs._generated.models import Job, JobDetails, JobStatus

from . import _engine
from ._base import CLIENT_TIMEOUT, Admission, ClientBase
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
    _transport_type = SyncHttpx
    _keepalive = 20
    _transport: SyncHttpx

    @property
    def http_client(self) -> httpx.Client:
        """The httpx.Client requests go through (yours, if you passed one)."""
        return self._transport.http

    # --- I/O: carry out the engine's actions ---------------------------------------
    def _run(self, flow: _engine.Flow[T], admission: Admission | None = None) -> T:
        """Carry out a flow's actions (``admission``: a layer above's, see Admission)."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    self._pause(action.seconds, admission)
                    action = flow.send(None)
                else:
                    action = flow.send(self._exchange(action, admission))
        except StopIteration as done:
            result: T = done.value
            return result

    def _exchange(self, action: _engine.Send, admission: Admission | None) -> _engine.Received:
        """Carry out ``_exchange_steps``: sleep its waits, send when it says so."""
        steps = self._exchange_steps(action, admission)
        try:  # closed whatever ends it (its place given back, its ticket observed)
            step = next(steps)
            while True:
                if step is None:
                    self._check_open()
                    writing = None if admission is None else admission.writing
                    step = steps.send(self._transport.send(action, writing))
                else:
                    self._pause(step, admission)
                    step = next(steps)
        except StopIteration as done:
            received: _engine.Received = done.value
            return received
        finally:
            steps.close()

    @staticmethod
    def _pause(seconds: float, admission: Admission | None) -> None:
        if admission is not None:
            admission.sleep(seconds)  # wakes, raising, when the layer stops
        elif seconds > 0:
            time.sleep(seconds)

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
        request_timeout = self._request_timeout(timeout)
        return self._pages(pager, request_timeout)

    def _pages(self, pager: _engine.Pager, timeout: httpx.Timeout | None) -> Iterator[JobDetails]:
        while (call := pager.next_call()) is not None:
            page = self._run(_engine.execute(call, self._config, timeout))
            yield from pager.accept(page)

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
