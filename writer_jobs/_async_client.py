"""The asyncio client's single calls (``AsyncJobsClient`` adds the bulk layer's two)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

import httpx

from writer_jobs._generated.models import Job, JobDetails, JobStatus

from . import _engine
from ._base import CLIENT_TIMEOUT, Admission, ClientBase
from ._transports import AsyncHttpx

T = TypeVar("T")


class AsyncSingleCallClient(ClientBase):
    """The asyncio twin of ``JobsClient`` (its single calls): the same methods as coroutines,
    ``list()`` as an async iterator, ``async with`` and ``aclose()``. Safe to
    share across tasks of one event loop."""

    _http_client_type = httpx.AsyncClient
    _transport_type = AsyncHttpx
    _keepalive = 100
    _transport: AsyncHttpx

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The httpx.AsyncClient requests go through (yours, if you passed one)."""
        return self._transport.http

    # --- I/O: carry out the engine's actions ---------------------------------------
    async def _run(self, flow: _engine.Flow[T], admission: Admission | None = None) -> T:
        """Carry out a flow's actions; see JobsClient._run."""
        try:
            action = next(flow)
            while True:
                if isinstance(action, _engine.Sleep):
                    await self._pause(action.seconds, admission)
                    action = flow.send(None)
                else:
                    action = flow.send(await self._exchange(action, admission))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _exchange(
        self, action: _engine.Send, admission: Admission | None
    ) -> _engine.Received:
        """Carry out ``_exchange_steps`` (a cancelled task gives its place back)."""
        steps = self._exchange_steps(action, admission)
        try:  # closed whatever ends it (its place given back, its ticket observed)
            step = next(steps)
            while True:
                if step is None:
                    self._check_open()
                    writing = None
                    if admission is not None:
                        writing = admission.writing
                        if not self._transport.gates_writes:
                            writing()  # no hook on its writes: counts as writing now
                    step = steps.send(await self._transport.send(action, writing))
                else:
                    await self._pause(step, admission)
                    step = next(steps)
        except StopIteration as done:
            received: _engine.Received = done.value
            return received
        finally:
            steps.close()

    @staticmethod
    async def _pause(seconds: float, admission: Admission | None) -> None:
        if admission is not None:
            admission.check()  # stopped: a task left to finish its request ends
        if seconds > 0:
            await asyncio.sleep(seconds)

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
        return self._pages(pager, self._request_timeout(timeout))

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
