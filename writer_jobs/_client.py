"""JobsClient: the synchronous client."""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

import httpx

from generated_client import AuthenticatedClient
from generated_client.models import Job, JobDetails, JobStatus

from . import _engine
from ._base import _UNSET_TIMEOUT, REDACTED_TOKEN, ClientBase
from ._bulk import BulkSummary, JobOutcome, Pacer
from ._exceptions import APIError, InvalidArgumentError

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

    def _setup_http(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits | None,
    ) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise InvalidArgumentError(
                f"JobsClient needs a sync transport (httpx.BaseTransport), "
                f"received {type(transport).__name__}"
            )
        config = self._config
        self._http = httpx.Client(
            base_url=config.base_url,
            headers=config.headers,
            timeout=config.timeout,
            follow_redirects=False,
            transport=transport,
            verify=verify,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self._generated = AuthenticatedClient(
            base_url=config.base_url, token=REDACTED_TOKEN, timeout=config.timeout
        ).set_httpx_client(self._http)

    @property
    def generated(self) -> AuthenticatedClient:
        """The generated client, sharing this client's connection pool and key, for
        calling ``generated_client.api`` functions directly (no retries, no checks)."""
        self._check_open()
        return self._generated

    # --- I/O: carry out the engine's actions ---------------------------------------
    def _send(self, action: _engine.Send) -> httpx.Response | Exception:
        self._check_open()
        timeout = action.timeout if action.timeout is not None else httpx.USE_CLIENT_DEFAULT
        request = self._http.build_request(**action.kwargs, timeout=timeout)
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            return exc
        try:
            body = self._body_reader(action, response.status_code)
            for chunk in response.iter_bytes():
                body.add(chunk)
            # What httpx's own Response.read() stores once the stream is consumed; a
            # second Response would cost a fifth of the call (measured).
            response._content = body.body()
            return response
        except (httpx.HTTPError, APIError) as exc:
            return exc
        finally:
            response.close()

    def _run(self, flow: _engine.Flow[T], pacer: Pacer | None = None) -> T:
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    time.sleep(action.seconds)
                    action = flow.send(None)
                elif pacer is None:
                    action = flow.send(self._send(action))
                else:
                    delay = pacer.reserve()
                    if delay > 0:
                        time.sleep(delay)
                    outcome = self._send(action)
                    pacer.observe(outcome)
                    action = flow.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result

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
        timeout: float | None = None,
        request_timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> JobDetails:
        """Poll until the job is ``completed`` or ``failed`` and return it.

        Polls 1 s apart, growing to 10 s. ``timeout`` is the overall deadline in
        seconds (None: no deadline); past it, WaitTimeoutError carries the last state.
        """
        result: JobDetails = self._run(self._wait_flow(job_id, timeout, request_timeout))
        return result

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
        rate_limit: float | None = 400,
        on_outcome: Callable[[JobOutcome], None] | None = None,
        on_total: Callable[[int], None] | None = None,
        timeout: float | httpx.Timeout | None = _UNSET_TIMEOUT,
    ) -> BulkSummary:
        """Retry every failed job of an application; see :meth:`AsyncJobsClient.retry_failed`.

        Runs ``concurrency`` worker threads over this client's connection pool.
        """
        run, pager = self._bulk_run(
            application_id,
            concurrency=concurrency,
            wait=wait,
            wait_timeout=wait_timeout,
            journal=journal,
            rate_limit=rate_limit,
            on_outcome=on_outcome,
            timeout=timeout,
        )
        try:
            while (call := pager.next_call()) is not None:
                page = self._run(_engine.execute(call, self._config, run.timeout), run.pacer)
                run.add_listed(pager.accept(page))
            todo = run.todo()
            if on_total is not None:
                on_total(run.todo_count)
            lock = threading.Lock()

            def worker() -> None:
                while True:
                    with lock:
                        item = next(todo, None)
                    if item is None:
                        return
                    run.record(self._run(run.flow(*item), run.pacer))

            with ThreadPoolExecutor(concurrency, thread_name_prefix="writer-jobs") as pool:
                for future in [pool.submit(worker) for _ in range(concurrency)]:
                    future.result()
            return run.summary()
        finally:
            run.close()

    # --- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool. Calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._http.close()

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
