"""The httpx backend, sync (``SyncHttpx``) and async (``AsyncHttpx``): the user's client
or ours, its httpcore connections wrapped so that ``before_write`` runs before each write
of a request's bytes and, sync, so that the attempt's deadline bounds every socket
operation (async, ``asyncio.timeout`` bounds the attempt)."""

from __future__ import annotations

import ssl
import time
import typing
from typing import Any, TypeVar

import httpcore
import httpx

from .._config import ClientConfig
from .._engine import Send
from .._exceptions import APIError
from ._attempt import (
    ATTEMPT_DEADLINE,
    BEFORE_WRITE,
    DEADLINE_TEXT,
    BodyReader,
    attempt_deadline,
    build_request,
    within,
)

R = TypeVar("R")


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
    deadline = ATTEMPT_DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
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
        token = ATTEMPT_DEADLINE.set(attempt_deadline(self.config, action)[1])
        gate_token = BEFORE_WRITE.set(before_write)
        try:
            try:
                response = self.http.send(
                    build_request(self.http, self.config, action),
                    stream=True,
                    follow_redirects=False,
                )
            except httpx.HTTPError as exc:
                return exc
            try:
                body = BodyReader(self.config, action, response.status_code, ATTEMPT_DEADLINE.get())
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
            ATTEMPT_DEADLINE.reset(token)

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
        seconds, deadline = attempt_deadline(self.config, action)
        token = BEFORE_WRITE.set(before_write)
        try:
            return await within(seconds, self._exchange(action, deadline))
        finally:
            BEFORE_WRITE.reset(token)

    async def _exchange(self, action: Send, deadline: float | None) -> httpx.Response | Exception:
        request = build_request(self.http, self.config, action)
        try:
            response = await self.http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            return exc
        try:
            body = BodyReader(self.config, action, response.status_code, deadline)
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
