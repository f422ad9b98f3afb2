"""The opt-in aiohttp backend (``http_backend="aiohttp"``): several times the requests a
second at high concurrency; httpx's mocks, event hooks and instrumentation cannot see it."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Callable
from typing import Any

import httpx

from .._config import ClientConfig
from .._engine import Send
from .._exceptions import APIError, ConfigurationError
from ._attempt import DEADLINE_TEXT, BodyReader, attempt_deadline, within


def _environment_proxy(base_url: str) -> str | None:
    """The proxy the environment names for ``base_url`` (None: none, or NO_PROXY)."""
    proxies = urllib.request.getproxies_environment()
    url = httpx.URL(base_url)
    for raw in proxies.get("no", "").split(","):
        entry = raw.strip().lstrip(".").lower()
        if entry == "*" or (entry and (url.host == entry or url.host.endswith("." + entry))):
            return None
    return proxies.get(url.scheme) or proxies.get("all")


#: aiohttp has already decoded the body: these headers no longer describe it.
_DECODED = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class AsyncAiohttp:
    """Sends through one aiohttp session (made on first use, inside the running loop).

    Proxies from the environment (``HTTP(S)_PROXY``, ``NO_PROXY``) as httpx reads them,
    or ``proxy``; TLS verified the same way; only a failure to connect is "not sent".
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        verify: ssl.SSLContext | bool,
        proxy: str | None,
        max_connections: int = 100,
    ) -> None:
        try:
            import aiohttp
            import yarl
        except ImportError:
            raise ConfigurationError(
                "http_backend='aiohttp' needs the aiohttp extra: pip install 'writer-jobs[aiohttp]'"
            ) from None
        self.config = config
        self._aiohttp = aiohttp
        self._yarl = yarl
        self._ssl: ssl.SSLContext | bool = (
            verify
            if isinstance(verify, ssl.SSLContext) or verify is False
            else httpx.create_ssl_context(verify=True)
        )
        # Resolved once: aiohttp's trust_env would look it (and ~/.netrc) up every request.
        self._proxy = proxy if proxy is not None else _environment_proxy(config.base_url)
        self._max_connections = max_connections
        self._timeouts: dict[tuple[float | None, ...], Any] = {}
        self._session: Any = None

    def _timeout(self, timeout: httpx.Timeout | None) -> Any:
        timeout = timeout or self.config.timeout
        key = (timeout.connect, timeout.read, timeout.pool)  # httpx.Timeout is unhashable
        cached = self._timeouts.get(key)
        if cached is None:
            total = None if timeout.read is None else timeout.read + (timeout.connect or 0.0)
            cached = self._aiohttp.ClientTimeout(
                total=total,  # the attempt's deadline, headers included
                connect=timeout.pool,
                sock_connect=timeout.connect,
                sock_read=timeout.read,
            )
            self._timeouts[key] = cached
        return cached

    def _get_session(self) -> Any:
        if self._session is None:
            connector = self._aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl)
            self._session = self._aiohttp.ClientSession(
                headers=self.config.headers, connector=connector
            )
        return self._session

    #: aiohttp has no hook before a request's bytes go out: the caller gates earlier.
    gates_writes = False

    async def send(
        self, action: Send, before_write: Callable[[], None] | None = None
    ) -> httpx.Response | Exception:
        seconds, deadline = attempt_deadline(self.config, action)
        timeout = action.timeout or self.config.timeout
        whole = None if timeout.read is None else timeout.read + (timeout.connect or 0.0)
        if seconds is not None and whole is not None and seconds < whole - 1e-3:
            # The call's own deadline is nearer than a whole attempt: bound it here.
            return await within(seconds, self._exchange(action, deadline))
        return await self._exchange(action, deadline)  # aiohttp's total= bounds it

    async def _exchange(self, action: Send, deadline: float | None) -> httpx.Response | Exception:
        kwargs = action.kwargs
        url = self._yarl.URL(self.config.base_url + kwargs["url"], encoded=True)
        aiohttp = self._aiohttp
        try:
            async with self._get_session().request(
                kwargs["method"].upper(),
                url,
                params=kwargs.get("params"),
                json=kwargs.get("json"),
                allow_redirects=False,
                proxy=self._proxy,
                timeout=self._timeout(action.timeout),
            ) as response:
                reader = BodyReader(self.config, action, response.status, deadline)
                async for chunk in response.content.iter_chunked(65536):
                    reader.add(chunk)
                return httpx.Response(
                    response.status,
                    headers=[(k, v) for k, v in response.raw_headers if k.lower() not in _DECODED],
                    content=reader.body(),
                    extensions={"reason_phrase": (response.reason or "").encode()},
                )
        except aiohttp.ClientConnectorError as exc:  # includes TLS verification failures
            return httpx.ConnectError(f"{type(exc).__name__}: {exc}")
        except aiohttp.ConnectionTimeoutError as exc:
            return httpx.ConnectTimeout(f"connecting timed out: {exc}")
        except (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError) as exc:
            return httpx.ReadTimeout(f"reading timed out: {exc or type(exc).__name__}")
        except TimeoutError:  # aiohttp's total timeout: the attempt's deadline
            return httpx.ReadTimeout(f"{DEADLINE_TEXT} (connect + read timeout)")
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
