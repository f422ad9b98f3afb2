"""The aiohttp transport for AsyncJobsClient (the ``aiohttp`` extra), used when installed.

httpx's own async transport slows down as concurrency grows; httpx-aiohttp keeps the
httpx API over aiohttp's connection pool. Its exception mapping reports any aiohttp
connection error as ``httpx.ConnectTimeout``, i.e. "never sent", even a connection
dropped after the request went out: that would let a POST be repeated. Here such
errors become ``httpx.ReadError`` (the request may have been processed), and only a
failure to connect stays a connect error.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx


def _remap(exc: httpx.TransportError) -> httpx.TransportError:
    import aiohttp

    cause = exc.__cause__
    if not isinstance(exc, httpx.ConnectTimeout) or cause is None:
        return exc
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc), request=_request_of(exc))
    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", ())
    if isinstance(cause, connect_timeout):
        return exc
    return httpx.ReadError(f"{type(cause).__name__}: {cause}", request=_request_of(exc))


def _request_of(exc: httpx.TransportError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:
        return None


class _RemappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise _remap(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


def aiohttp_transport(
    verify: ssl.SSLContext | bool, limits: httpx.Limits
) -> httpx.AsyncBaseTransport | None:
    """An aiohttp-backed transport, or None when the aiohttp extra is not installed."""
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return None

    class SafeAiohttpTransport(AiohttpTransport):
        """httpx-aiohttp with exceptions that say whether the request may have been sent."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response: httpx.Response = await super().handle_async_request(request)
            except httpx.TransportError as exc:
                raise _remap(exc) from exc.__cause__
            stream: Any = response.stream
            response.stream = _RemappedStream(stream)
            return response

    transport: httpx.AsyncBaseTransport = SafeAiohttpTransport(verify=verify, limits=limits)
    return transport
