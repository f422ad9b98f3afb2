"""Carrying out the engine's ``Send``: one ``send()`` per HTTP backend.

Every backend applies the same policy, whoever built the HTTP client: this client's
base URL, key, timeouts, no redirects; the body read within the size cap; one deadline
per attempt (connect + read timeout, from connecting to the last byte) however slowly
a server trickles bytes. Failures come back as the httpx exception that says whether
the request may have arrived.

- ``SyncHttpx``: an ``httpx.Client`` (ours or the user's). httpx's timeouts bound each
  socket operation, so connections are clamped to the deadline via httpcore's backend.
- ``AsyncHttpx``: an ``httpx.AsyncClient``, bounded by ``asyncio.timeout``.
- ``AsyncAiohttp`` (``http_backend="aiohttp"``): several times the requests per second
  at high concurrency, invisible to httpx's mocks, event hooks and instrumentation.
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import time
import typing
import urllib.request
from typing import Any, TypeVar

import httpcore
import httpx

from ._config import ClientConfig
from ._engine import Send
from ._exceptions import APIError, ConfigurationError, ResponseValidationError

R = TypeVar("R")

_DEADLINE_TEXT = "the response did not arrive in full within the attempt's deadline"

#: When the current attempt must be done (monotonic; None: no deadline), per thread/task.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "writer_jobs_deadline", default=None
)

#: Called before each write of request bytes (per thread): a bulk run's gate, which
#: raises once the run has stopped, so a request whose connection opened after that
#: (a worker stuck in connect when Ctrl-C came) sends nothing.
_BEFORE_WRITE: contextvars.ContextVar[typing.Callable[[], None] | None] = contextvars.ContextVar(
    "writer_jobs_before_write", default=None
)


def _attempt_deadline(config: ClientConfig, action: Send) -> tuple[float | None, float | None]:
    """(seconds, monotonic deadline) of one attempt: connect + read timeout, and no
    later than the call's own deadline."""
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
        self, method: str, path: str, status: int, limit: int, deadline: float | None
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self._limit = limit
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
            raise httpx.ReadTimeout(f"{_DEADLINE_TEXT} (connect + read timeout)")

    def body(self) -> bytes:
        return b"".join(self._chunks)


def _reader(config: ClientConfig, action: Send, status: int, deadline: float | None) -> BodyReader:
    kwargs = action.kwargs
    return BodyReader(
        kwargs["method"].upper(), kwargs["url"], status, config.max_response_bytes, deadline
    )


def _request(
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


# --- sync httpx ------------------------------------------------------------------------


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error(f"{_DEADLINE_TEXT} (connect + read timeout)")
    return remaining if timeout is None else min(timeout, remaining)


def _bounded(
    operation: typing.Callable[[float | None], R], timeout: float | None, error: type[Exception]
) -> R:
    clamped = _clamp(timeout, error)
    try:
        return operation(clamped)
    except error:
        if clamped != timeout:  # the deadline, not the per-read timeout, ran out
            raise error(f"{_DEADLINE_TEXT} (connect + read timeout)") from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _bounded(lambda t: self._stream.read(max_bytes, t), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if (before_write := _BEFORE_WRITE.get()) is not None:
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
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
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
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _clamp_connections(http: httpx.Client) -> None:
    """Wrap the network backend of httpx's own transports (the client's and its proxy
    mounts). httpx has no public way to hand httpcore a backend; outside this
    client's calls the wrapper changes nothing. A custom transport is left as is."""
    for transport in [http._transport, *http._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(
            backend, _DeadlineBackend
        ):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]


class SyncHttpx:
    """Sends through an httpx.Client: this client's own, or one the user passed."""

    def __init__(self, config: ClientConfig, http: httpx.Client, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned
        _clamp_connections(http)

    def send(
        self, action: Send, before_write: typing.Callable[[], None] | None = None
    ) -> httpx.Response | Exception:
        """``before_write`` runs before each write of the request's bytes (it may raise
        to send nothing); with a custom transport (no httpcore stream) it is not called."""
        token = _DEADLINE.set(_attempt_deadline(self.config, action)[1])
        gate_token = _BEFORE_WRITE.set(before_write)
        try:
            try:
                response = self.http.send(
                    _request(self.http, self.config, action), stream=True, follow_redirects=False
                )
            except httpx.HTTPError as exc:
                return exc
            try:
                body = _reader(self.config, action, response.status_code, _DEADLINE.get())
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
            _BEFORE_WRITE.reset(gate_token)
            _DEADLINE.reset(token)

    def close(self) -> None:
        if self.owned:
            self.http.close()


# --- async -------------------------------------------------------------------------------


async def _within(
    seconds: float | None, exchange: typing.Awaitable[httpx.Response | Exception]
) -> httpx.Response | Exception:
    try:
        async with asyncio.timeout(seconds):
            return await exchange
    except TimeoutError:
        return httpx.ReadTimeout(
            f"{_DEADLINE_TEXT} of {seconds:g} s (connect + read timeout, within the call's)"
        )


class AsyncHttpx:
    """Sends through an httpx.AsyncClient: this client's own, or the user's."""

    def __init__(self, config: ClientConfig, http: httpx.AsyncClient, *, owned: bool) -> None:
        self.config = config
        self.http = http
        self.owned = owned

    async def send(self, action: Send) -> httpx.Response | Exception:
        seconds, deadline = _attempt_deadline(self.config, action)
        return await _within(seconds, self._exchange(action, deadline))

    async def _exchange(self, action: Send, deadline: float | None) -> httpx.Response | Exception:
        request = _request(self.http, self.config, action)
        try:
            response = await self.http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            return exc
        try:
            body = _reader(self.config, action, response.status_code, deadline)
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

    async def send(self, action: Send) -> httpx.Response | Exception:
        seconds, deadline = _attempt_deadline(self.config, action)
        timeout = action.timeout or self.config.timeout
        whole = None if timeout.read is None else timeout.read + (timeout.connect or 0.0)
        if seconds is not None and whole is not None and seconds < whole - 1e-3:
            # The call's own deadline is nearer than a whole attempt: bound it here.
            return await _within(seconds, self._exchange(action, deadline))
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
                reader = _reader(self.config, action, response.status, deadline)
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
            return httpx.ReadTimeout(f"{_DEADLINE_TEXT} (connect + read timeout)")
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
