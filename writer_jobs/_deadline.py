"""A total deadline per attempt for the sync client's own transport.

httpx's timeouts bound each socket operation: a server trickling its response
headers a byte every half second never trips a 60 s read timeout. Each read and
write of the connections this client makes is clamped to what is left of the
attempt's deadline (set by the client around each request, per thread), so the
whole exchange, headers included, ends in time. The async client bounds the same
span with ``asyncio.timeout``.
"""

from __future__ import annotations

import contextvars
import ssl
import time
import typing

import httpcore
import httpx

#: The monotonic time by which the current attempt must be done (None: no deadline).
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "writer_jobs_deadline", default=None
)


_MESSAGE = "the response did not arrive in full within the attempt's deadline"


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error(f"{_MESSAGE} (connect + read timeout)")
    return remaining if timeout is None else min(timeout, remaining)


def _bounded(
    operation: typing.Callable[[float | None], typing.Any],
    timeout: float | None,
    error: type[Exception],
) -> typing.Any:
    clamped = _clamp(timeout, error)
    try:
        return operation(clamped)
    except error:
        if clamped != timeout:  # the deadline, not the per-read timeout, ran out
            raise error(f"{_MESSAGE} (connect + read timeout)") from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = _bounded(
            lambda t: self._stream.read(max_bytes, t), timeout, httpcore.ReadTimeout
        )
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _bounded(lambda t: self._stream.write(buffer, t), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def install(client: httpx.Client) -> None:
    """Clamp the connections of the transports httpx built for ``client`` (its own and
    the environment's proxy mounts). httpx has no public way to hand httpcore a
    network backend; a transport without one (a user's) is left as it is."""
    transports = [client._transport, *client._mounts.values()]
    for each in transports:
        pool = getattr(each, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(
            backend, _DeadlineBackend
        ):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
