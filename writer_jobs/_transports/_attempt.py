"""One attempt's bounds, shared by every backend: its deadline (connect + read
timeout, and no later than the call's deadline) and the body read within the size cap."""

from __future__ import annotations

import asyncio
import contextvars
import time
import typing

import httpx

from .._config import ClientConfig
from .._engine import Send
from .._exceptions import ResponseValidationError

DEADLINE_TEXT = "the response did not arrive in full within the attempt's deadline"

#: When the current attempt must be over (monotonic; None: no limit), per thread/task.
ATTEMPT_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "writer_jobs_attempt_deadline", default=None
)

#: Called before each write of request bytes (per thread/task): a bulk run's gate, which
#: raises once the run has stopped, so a request whose connection opened after that
#: (stuck connecting, or waiting for a pooled connection) sends nothing.
BEFORE_WRITE: contextvars.ContextVar[typing.Callable[[], None] | None] = contextvars.ContextVar(
    "writer_jobs_before_write", default=None
)


def attempt_deadline(config: ClientConfig, action: Send) -> tuple[float | None, float | None]:
    """(seconds, monotonic end) of one attempt: connect + read timeout, and no later
    than the call's deadline (``action.until``)."""
    timeout = action.timeout or config.timeout
    now = time.monotonic()
    deadline = None if timeout.read is None else now + timeout.read + (timeout.connect or 0.0)
    if action.until is not None and (deadline is None or action.until < deadline):
        deadline = action.until
    return (None, None) if deadline is None else (max(deadline - now, 0.0), deadline)


class BodyReader:
    """Collects a streamed body within the size cap and the attempt's deadline."""

    __slots__ = ("_chunks", "_deadline", "_limit", "_received", "method", "path", "status")

    def __init__(
        self, config: ClientConfig, action: Send, status: int, deadline: float | None
    ) -> None:
        self.method = action.kwargs["method"].upper()
        self.path = action.kwargs["url"]
        self.status = status
        self._limit = config.max_response_bytes
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._received = 0

    def add(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self._limit:
            raise ResponseValidationError(
                f"{self.method} {self.path} -> {self.status}: the response body is larger "
                f"than max_response_bytes={self._limit} (received at least "
                f"{self._received} bytes); not read",
                method=self.method,
                url=self.path,
                response=None,
                value=self._received,
            )
        self._chunks.append(chunk)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise httpx.ReadTimeout(f"{DEADLINE_TEXT} (connect + read timeout)")

    def body(self) -> bytes:
        return b"".join(self._chunks)


def build_request(
    http: httpx.Client | httpx.AsyncClient, config: ClientConfig, action: Send
) -> httpx.Request:
    kwargs = action.kwargs
    return http.build_request(
        kwargs["method"],
        config.base_url + kwargs["url"],
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        headers=config.headers,
        timeout=action.timeout or config.timeout,
    )


async def within(
    seconds: float | None, exchange: typing.Awaitable[httpx.Response | Exception]
) -> httpx.Response | Exception:
    """An async exchange bounded by the attempt's deadline."""
    try:
        async with asyncio.timeout(seconds):
            return await exchange
    except TimeoutError:
        return httpx.ReadTimeout(
            f"{DEADLINE_TEXT} of {seconds:g} s (connect + read timeout, within the call's)"
        )
