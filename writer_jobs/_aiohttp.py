"""AsyncJobsClient's fast path: the engine's requests sent with aiohttp directly
(the ``aiohttp`` extra), when it is installed.

Measured before this module existed: httpx's async client tops out around 550
requests/s at concurrency 64 here, and httpx over an aiohttp transport around 2,400:
most of the remaining cost was httpx's per-request URL parsing, header and model
work, not the network. So the async client hands the engine's ``Send`` actions to an
aiohttp session itself and builds an ``httpx.Response`` only from the bytes read.

Failures come back as the httpx exceptions the engine classifies, chosen by whether
the request may have reached the server: only a failure to connect is "not sent".
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ._engine import Send
from ._exceptions import APIError


class AiohttpSender:
    """Sends ``Send`` actions through one aiohttp session (created on first use,
    inside the running event loop)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits,
        default_timeout: httpx.Timeout,
    ) -> None:
        import aiohttp  # ImportError: the extra is missing, and the caller falls back
        import yarl

        self._aiohttp = aiohttp
        self._yarl = yarl
        self._base_url = base_url
        self._headers = headers
        self._ssl: ssl.SSLContext | bool = (
            verify
            if isinstance(verify, ssl.SSLContext) or verify is False
            else httpx.create_ssl_context(verify=True)
        )
        self._limits = limits
        self._default_timeout = default_timeout
        self._timeouts: dict[tuple[float | None, ...], Any] = {}
        self._session: Any = None

    def _timeout(self, timeout: httpx.Timeout | None) -> Any:
        timeout = timeout or self._default_timeout
        key = (timeout.connect, timeout.read, timeout.pool)  # httpx.Timeout is unhashable
        cached = self._timeouts.get(key)
        if cached is None:
            cached = self._aiohttp.ClientTimeout(
                total=None,
                connect=timeout.pool,
                sock_connect=timeout.connect,
                sock_read=timeout.read,
            )
            self._timeouts[key] = cached
        return cached

    def _get_session(self) -> Any:
        if self._session is None:
            connector = self._aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                ssl=self._ssl,
            )
            self._session = self._aiohttp.ClientSession(
                headers=self._headers,
                connector=connector,
                auto_decompress=True,
            )
        return self._session

    async def send(
        self, action: Send, body_reader: Any, deadline: float | None
    ) -> httpx.Response | Exception:
        """One request; the body is read through ``body_reader(action, status, deadline)``
        (size cap and deadline). Returns the response, or the httpx exception that
        describes the failure."""
        kwargs = action.kwargs
        method = kwargs["method"].upper()
        url = self._yarl.URL(self._base_url + kwargs["url"], encoded=True)
        aiohttp = self._aiohttp
        try:
            async with self._get_session().request(
                method,
                url,
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                headers=kwargs.get("headers"),
                allow_redirects=False,
                timeout=self._timeout(action.timeout),
            ) as response:
                reader = body_reader(action, response.status, deadline)
                async for chunk in response.content.iter_chunked(65536):
                    reader.add(chunk)
                return httpx.Response(
                    response.status,
                    headers=[
                        (k, v) for k, v in response.raw_headers if k.lower() not in _DECODED
                    ],  # aiohttp decoded the body
                    content=reader.body(),
                    extensions={"reason_phrase": (response.reason or "").encode()},
                )
        except aiohttp.ClientConnectorError as exc:  # includes TLS verification failures
            return httpx.ConnectError(f"{type(exc).__name__}: {exc}")
        except aiohttp.ConnectionTimeoutError as exc:
            return httpx.ConnectTimeout(f"connecting timed out: {exc}")
        except (TimeoutError, aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError) as exc:
            return httpx.ReadTimeout(f"reading timed out: {exc or type(exc).__name__}")
        except aiohttp.ClientPayloadError as exc:
            return httpx.RemoteProtocolError(f"the response was cut short: {exc}")
        except aiohttp.ClientResponseError as exc:  # a malformed status line or headers
            return httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}")
        except aiohttp.ClientError as exc:  # disconnected, reset: the request may have arrived
            return httpx.ReadError(f"{type(exc).__name__}: {exc}")
        except (httpx.HTTPError, APIError) as exc:  # from the body reader: deadline, size cap
            return exc
        except OSError as exc:
            return httpx.ReadError(f"{type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


#: aiohttp has already decoded the body: these headers no longer describe it.
_DECODED = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})
