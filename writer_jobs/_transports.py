"""Carrying out the engine's ``Send`` through httpx, the one HTTP stack (the aiohttp
backend was removed: see the changelog): ``SyncHttpx`` over an ``httpx.Client``,
``AsyncHttpx`` over an ``httpx.AsyncClient``, this client's own or the user's.

Every request gets the same policy, whoever built the HTTP client: this client's base
URL, key, timeouts, no redirects; the body read within the size cap; one deadline per
attempt (connect + read timeout, from connecting to the last byte, and no later than
the call's ``until``) however slowly a server trickles bytes: sync, the httpcore
connections are wrapped so it bounds every socket operation; async, ``asyncio.timeout``
bounds the attempt. Failures come back as the httpx exception that says whether the
request may have arrived. ``before_write`` runs before each write of a request's bytes:
a caller that stopped raises there, so a request still connecting or waiting for a
pooled connection sends nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import time
import typing
from typing import Any, TypeVar

import httpcore
import httpx

from ._config import ClientConfig
from ._engine import Send
from ._exceptions import APIError, ResponseValidationError

R = TypeVar("R")

DEADLINE_TEXT = "the response did not arrive in full within the attempt's deadline"

#: The moment the current attempt must be over by (monotonic; None: no limit), per
#: thread/task.
ATTEMPT_UNTIL: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "writer_jobs_attempt_deadline", default=None
)

#: Called before each write of request bytes (per thread/task): a caller's gate, which
#: raises once it has stopped, so a request whose connection opened after that (stuck
#: connecting, or waiting for a pooled connection) sends nothing.
BEFORE_WRITE: contextvars.ContextVar[typing.Callable[[], None] | None] = contextvars.ContextVar(
    "writer_jobs_before_write", default=None
)


def attempt_until(config: ClientConfig, action: Send) -> tuple[float | None, float | None]:
    """(seconds, the moment it ends by) of one attempt: connect + read timeout, and no
    later than the call's ``action.until``."""
    timeout = action.timeout or config.timeout
    now = time.monotonic()
    until = None if timeout.read is None else now + timeout.read + (timeout.connect or 0.0)
    if action.until is not None and (until is None or action.until < until):
        until = action.until
    return (None, None) if until is None else (max(until - now, 0.0), until)


class BodyReader:
    """Collects a streamed body within the size cap and the attempt's deadline."""

    __slots__ = ("_chunks", "_limit", "_received", "_until", "method", "path", "status")

    def __init__(
        self, config: ClientConfig, action: Send, status: int, until: float | None
    ) -> None:
        self.method = action.kwargs["method"].upper()
        self.path = action.kwargs["url"]
        self.status = status
        self._limit = config.max_response_bytes
        self._until = until
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
        if self._until is not None and time.monotonic() > self._until:
            raise httpx.ReadTimeout(f"{DEADLINE_TEXT} (connect + read timeout)")

    def body(self) -> bytes:
        return b"".join(self._chunks)


def build_request(
    http: httpx.Client | httpx.AsyncClient, config: ClientConfig, action: Send, owned: bool
) -> httpx.Request:
    kwargs = action.kwargs
    return http.build_request(
        kwargs["method"],
        config.base_url + kwargs["url"],
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        # Ours was built with these headers; a user's client gets them per request.
        headers=None if owned else config.headers,
        timeout=action.timeout or config.timeout,
    )


def _wrap_backends(
    http: httpx.Client | httpx.AsyncClient, kind: type[Any], wrapper: type[Any]
) -> bool:
    """Wrap the network backend of httpx's own transports (the client's and its proxy
    mounts). httpx has no public way to hand httpcore a backend; outside this client's
    calls the wrapper changes nothing. False when a transport cannot be wrapped (a
    custom one, left as is)."""
    wrapped = True
    for transport in [http._transport, *http._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, kind):
            if not isinstance(backend, wrapper):
                pool._network_backend = wrapper(backend)  # type: ignore[union-attr]
        elif transport is not None:
            wrapped = False
    return wrapped


# --- sync ------------------------------------------------------------------------------


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    until = ATTEMPT_UNTIL.get()
    if until is None:
        return timeout
    remaining = until - time.monotonic()
    if remaining <= 0:
        raise error(f"{DEADLINE_TEXT} (connect + read timeout)")
    return remaining if timeout is None else min(timeout, remaining)


def _bounded(
    operation: typing.Callable[[float | None], R], timeout: float | None, error: type[Exception]
) -> R:
    clamped = _clamp(timeout, error)
    try:
        return operation(clamped)
    except error:
        if clamped != timeout:  # the attempt's limit, not the per-read timeout, ran out
            raise error(f"{DEADLINE_TEXT} (connect + read timeout)") from None
        raise


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _bounded(lambda t: self._stream.read(max_bytes, t), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if (before_write := BEFORE_WRITE.get()) is not None:
            before_write()
        _bounded(lambda t: self._stream.write(buffer, t), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class SyncHttpx:
    """Sends through an httpx.Client: this client's own, or one the user passed.
    httpx's timeouts bound each socket operation, so its connections are wrapped to
    bound the whole attempt (and to run ``before_write``)."""

    def __init__(self, config: ClientConfig, http: httpx.Client, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned
        _wrap_backends(http, httpcore.NetworkBackend, _BoundedBackend)

    def send(
        self, action: Send, before_write: typing.Callable[[], None] | None = None
    ) -> httpx.Response | Exception:
        """``before_write`` runs before each write of the request's bytes (it may raise
        to send nothing); with a custom transport (no httpcore stream) it is not called."""
        token = ATTEMPT_UNTIL.set(attempt_until(self.config, action)[1])
        gate_token = BEFORE_WRITE.set(before_write)
        try:
            try:
                response = self.http.send(
                    build_request(self.http, self.config, action, self.owned),
                    stream=True,
                    follow_redirects=False,
                )
            except httpx.HTTPError as exc:
                return exc
            try:
                body = BodyReader(self.config, action, response.status_code, ATTEMPT_UNTIL.get())
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
        finally:
            BEFORE_WRITE.reset(gate_token)
            ATTEMPT_UNTIL.reset(token)

    def close(self) -> None:
        if self.owned:
            self.http.close()


# --- async -----------------------------------------------------------------------------


class _GatedStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if (before_write := BEFORE_WRITE.get()) is not None:
            before_write()
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _GatedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GatedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _GatedStream(
            await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _GatedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class AsyncHttpx:
    """Sends through an httpx.AsyncClient: this client's own, or the user's."""

    def __init__(self, config: ClientConfig, http: httpx.AsyncClient, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned
        # A user's client may hold connections opened before the wrap: not gated.
        self.gates_writes = owned and _wrap_backends(
            http, httpcore.AsyncNetworkBackend, _GatedBackend
        )

    async def send(
        self, action: Send, before_write: typing.Callable[[], None] | None = None
    ) -> httpx.Response | Exception:
        seconds, until = attempt_until(self.config, action)
        token = BEFORE_WRITE.set(before_write)
        try:
            async with asyncio.timeout(seconds):
                return await self._exchange(action, until)
        except TimeoutError:
            return httpx.ReadTimeout(
                f"{DEADLINE_TEXT} of {seconds:g} s (connect + read timeout, within the call's)"
            )
        finally:
            BEFORE_WRITE.reset(token)

    async def _exchange(self, action: Send, until: float | None) -> httpx.Response | Exception:
        request = build_request(self.http, self.config, action, self.owned)
        try:
            response = await self.http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            return exc
        try:
            body = BodyReader(self.config, action, response.status_code, until)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
            response._content = body.body()  # as httpx's own aread() does
            return response
        except (httpx.HTTPError, APIError) as exc:
            return exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        if self.owned:
            await self.http.aclose()
