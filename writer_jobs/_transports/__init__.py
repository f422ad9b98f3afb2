"""Carrying out the engine's ``Send``: one protocol, one module per HTTP backend.

Every backend applies the same policy, whoever built the HTTP client: this client's
base URL, key, timeouts, no redirects; the body read within the size cap; one deadline
per attempt (connect + read timeout, from connecting to the last byte) however
slowly a server trickles bytes (``_attempt``). Failures come back as the httpx
exception that says whether the request may have arrived. ``before_write`` runs
before each write of a request's bytes: a stopped bulk run raises there, so a request
still connecting or waiting for a pooled connection sends nothing.

- ``SyncHttpx``: an ``httpx.Client`` (ours or the user's).
- ``AsyncHttpx``: an ``httpx.AsyncClient``, bounded by ``asyncio.timeout``.
- ``AsyncAiohttp`` (``http_backend="aiohttp"``): several times the requests per second
  at high concurrency, invisible to httpx's mocks, event hooks and instrumentation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx

from .._engine import Send
from ._aiohttp import AsyncAiohttp
from ._httpx import AsyncHttpx, SyncHttpx

__all__ = ["AsyncAiohttp", "AsyncHttpx", "AsyncTransport", "SyncHttpx"]


class AsyncTransport(Protocol):
    """What the async client sends through (``SyncHttpx`` is the sync one's only kind)."""

    #: Whether ``before_write`` runs before the request's bytes go out (False for a
    #: transport with no such hook, or a user's client: the caller gates earlier).
    gates_writes: bool

    async def send(
        self, action: Send, before_write: Callable[[], None] | None = None
    ) -> httpx.Response | Exception: ...

    async def aclose(self) -> None: ...
