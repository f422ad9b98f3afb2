"""The async httpx backend: an ``httpx.AsyncClient``, bounded by ``asyncio.timeout``, its
httpcore streams gated before each write."""

from __future__ import annotations

import ssl
import typing
from typing import Any

import httpcore
import httpx

from .._config import ClientConfig
from .._engine import Send
from .._exceptions import APIError
from ._attempt import BEFORE_WRITE, BodyReader, attempt_deadline, build_request, within


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


def _gate_connections(http: httpx.AsyncClient) -> bool:
    """Wrap the network backend of httpx's own transports (as the sync backend does);
    False when one cannot be (a custom transport): its writes are not gated."""
    gated = True
    for transport in [http._transport, *http._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.AsyncNetworkBackend):
            if not isinstance(backend, _GatedBackend):
                pool._network_backend = _GatedBackend(backend)  # type: ignore[union-attr]
        elif transport is not None:
            gated = False
    return gated


class AsyncHttpx:
    """Sends through an httpx.AsyncClient: this client's own, or the user's."""

    def __init__(self, config: ClientConfig, http: httpx.AsyncClient, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned
        # A user's client may hold connections opened before the wrap: not gated.
        self.gates_writes = _gate_connections(http) and owned

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
