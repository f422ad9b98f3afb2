"""The asyncio client's single calls (``AsyncJobsClient`` adds the bulk layer's two)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

import httpx

from generated_client.models import Job, JobDetails, JobStatus

from . import _engine
from ._availability import Probe
from ._base import CLIENT_TIMEOUT, ClientBase, RunControl
from ._transports import AsyncAiohttp, AsyncHttpx, AsyncTransport

T = TypeVar("T")


class AsyncSingleCallClient(ClientBase):
    """The asyncio twin of ``JobsClient`` (its single calls): the same methods as coroutines,
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
        self._transport: AsyncTransport
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

    async def _run(self, flow: _engine.Flow[T], run: RunControl | None = None) -> T:
        """Carry out a flow's actions; within a bulk run, paced."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    if run is not None:
                        run.check()  # stopped: a task left to finish its request ends
                        run.retrying(action)
                    await asyncio.sleep(action.seconds)
                    action = flow.send(None)
                else:
                    probe = await self._clear_outage(action)
                    outcome: httpx.Response | Exception | None = None
                    late: float | None = None
                    try:
                        late = await self._queue(action, run)
                        if late is None and run is None:
                            outcome = await self._send(action)
                        elif late is None and run is not None:
                            outcome = await self._send_in(run, action)
                    finally:
                        # Whatever ended it (an answer, a cancelled task, a stopped run),
                        # a probe is given back: no answer (None) tells nothing.
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

    async def _clear_outage(self, action: _engine.Send) -> Probe | None:
        """See JobsClient._clear_outage."""
        if not action.bulk:
            return None
        while True:
            outage = self._outage_wait(action)
            if isinstance(outage, Probe):
                return outage
            if outage <= 0:
                return None
            await asyncio.sleep(outage)

    async def _queue(self, action: _engine.Send, run: RunControl | None) -> float | None:
        """Wait for the request's place; see JobsClient._queue (a cancelled task gives
        its place back)."""
        with contextlib.closing(self._queue_steps(action, run)) as steps:
            try:
                while True:
                    if (wait := next(steps)) > 0:
                        await asyncio.sleep(wait)
            except StopIteration as done:
                late: float | None = done.value
                return late

    async def _send_in(self, run: RunControl, action: _engine.Send) -> httpx.Response | Exception:
        """Send within a run: never once it has stopped. From its first write of the
        request's bytes (or from now, where the transport cannot tell) the task is one
        the run lets finish rather than cancel; until then, waiting for a pooled
        connection, it has sent nothing, and a stopped run cancels it or the gate
        refuses its write."""
        run.check()
        task = asyncio.current_task()

        def first_write() -> None:
            if task not in run.sending:
                run.check()
                run.sending.add(task)

        if not self._transport.gates_writes:
            first_write()
        self._check_open()
        try:
            return await self._transport.send(action, first_write)
        finally:
            run.sending.discard(task)

    # --- the API ----------------------------------------------------------------
    async def retry(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT
    ) -> Job:
        """Re-trigger a failed job; see ``JobsClient.retry()``."""
        return await self._run(self._retry_flow(job_id, timeout))

    async def get(
        self, job_id: UUID | str, *, timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT
    ) -> JobDetails:
        """One job; see ``JobsClient.get()``."""
        return await self._run(self._get_flow(job_id, timeout))

    async def create(
        self,
        application_id: str,
        inputs: Mapping[str, str | Sequence[str]],
        *,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> Job:
        """Start a job; see ``JobsClient.create()``."""
        return await self._run(self._create_flow(application_id, inputs, timeout))

    async def wait(
        self,
        job_id: UUID | str,
        *,
        deadline: float | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> JobDetails:
        """Poll until the job finishes; see ``JobsClient.wait()``."""
        return await self._run(self._wait_flow(job_id, deadline, timeout))

    def list(
        self,
        application_id: str,
        *,
        status: JobStatus | str | None = None,
        page_size: int | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> AsyncIterator[JobDetails]:
        """Every job of an application, as an async iterator; see ``JobsClient.list()``."""
        pager = self._pager(application_id, status, page_size)
        return self._pages(pager, self._timeout(timeout))

    async def _pages(
        self, pager: _engine.Pager, timeout: httpx.Timeout | None
    ) -> AsyncIterator[JobDetails]:
        while (call := pager.next_call()) is not None:
            page = await self._run(_engine.execute(call, self._config, timeout))
            for job in pager.accept(page):
                yield job

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
