"""What the sync and async clients share besides the engine: settings, argument checks
before any I/O, repr, the account budget's queue, and the one admission path through
which a layer above (bulk/) has the client carry out its flows' requests."""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any, Literal, Protocol
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated import AuthenticatedClient
from writer_jobs._generated.models import Job, JobDetails, JobStatus

from . import _engine, _validation
from ._budget import Budget
from ._config import (
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT,
    ClientConfig,
    log_from_env,
    resolve_config,
    resolve_rate_limit,
    resolve_timeout,
    tls_verify,
)
from ._exactly_once import retry_flow
from ._exceptions import ClientClosedError, ConfigurationError

#: The placeholder the generated client holds as its token: the real key lives only
#: in the httpx client's headers (httpx redacts it in reprs), never in an attrs repr.
REDACTED_TOKEN = "[redacted: sent by the httpx client]"  # noqa: S105 - not a secret


#: One request's way through the client: it yields seconds to wait, or None to have the
#: request sent (and receives what came back); it returns what the flow receives.
Exchange = Generator[float | None, httpx.Response | Exception, _engine.Received]


class Admission(Protocol):
    """How a layer above (bulk/) has the client carry out its flows' requests: the one
    admission path, written once for both clients (``_exchange_steps``).

    Before a request takes its place in the account's budget, ``admit`` (no I/O) yields
    the seconds it waits first and returns a ticket. ``writing`` runs before each write
    of the request's bytes (raising there sends nothing). ``observe`` is told what came
    back, with the ticket, exactly once per ``admit`` whatever ended the request (None:
    nothing came back: not sent, stopped, cancelled). The client waits through
    ``sleep`` (sync), or calls ``check`` and then awaits (async); both raise once the
    layer has stopped."""

    def admit(self, action: _engine.Send) -> Generator[float, None, object]: ...
    def observe(self, received: httpx.Response | Exception | None, ticket: object) -> None: ...
    def writing(self) -> None: ...
    def check(self) -> None: ...
    def sleep(self, seconds: float) -> None: ...


class ClientBase:
    """Settings and argument handling common to JobsClient and AsyncJobsClient.

    The layers above (bulk/) build on four methods of it, nothing else: ``_settings``
    (what their flows run with), ``_request_timeout``, ``_pace`` and the clients'
    ``_run(flow, admission)``."""

    _config: ClientConfig
    _closed: bool
    _generated: AuthenticatedClient | None = None
    _http_client_type: type[httpx.Client] | type[httpx.AsyncClient]
    #: What sends the requests (SyncHttpx, AsyncHttpx), and the pool's idle connections.
    _transport_type: Any
    _keepalive: int

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        page_size: int = DEFAULT_PAGE_SIZE,
        allow_insecure_http: bool = False,
        rate_limit: float | Literal["auto"] | None = "auto",
        verify: Any = True,
        proxy: str | None = None,
        http_client: Any = None,
        http_backend: Literal["httpx"] = "httpx",
    ) -> None:
        """``api_key`` and ``base_url`` default to WRITER_API_KEY and WRITER_BASE_URL.
        ``timeout`` is per request (seconds or an ``httpx.Timeout``; None: none);
        ``deadline`` the seconds one call may take in all, retries included (None: no
        limit). A transient failure is retried up to ``max_retries`` times, with
        backoff with full jitter from ``backoff_initial`` to ``backoff_max`` seconds,
        honouring ``Retry-After`` up to ``max_retry_after`` seconds. Bodies over
        ``max_response_bytes`` are refused; ``list()`` reads ``page_size`` jobs a page.
        ``rate_limit`` is the ceiling of the account's budget in requests a minute,
        shared by every request of this client: "auto" is Writer's 400 for writer.com
        and its subdomains and no ceiling for every other host; None: no ceiling
        (either way the budget learns from 429s). ``verify`` and ``proxy`` configure
        the httpx client this client builds; pass ``http_client`` (an httpx client) to
        use your own instead. ``http_backend`` is "httpx", the only one (the aiohttp
        backend was removed). Plain http:// is refused but for loopback, unless
        ``allow_insecure_http``. See docs/configuration.md."""
        log_from_env()
        self._closed = False
        _check_backend(http_backend)
        self._config = resolve_config(
            api_key,
            base_url=base_url,
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            max_response_bytes=max_response_bytes,
            page_size=page_size,
            allow_insecure_http=allow_insecure_http,
        )
        #: The account's budget, shared by every request of this client.
        self._budget = Budget(resolve_rate_limit(rate_limit, self._config.base_url))
        if http_client is not None:
            self._check_http_client(http_client, verify=verify, proxy=proxy)
        owned = http_client is None
        if owned:
            http_client = self._own_http_client(tls_verify(verify), proxy)
        self._transport = self._transport_type(self._config, http_client, owned=owned)

    # --- what the layers above build on --------------------------------------------
    def _settings(self, retries: _engine.Retries | None = None) -> ClientConfig:
        """The settings a layer above runs its flows with: ``retries`` as their retry
        policy (None: the client's) and no call deadline (the layer's own bounds apply)."""
        return attrs.evolve(self._config, retries=retries, deadline=None)

    def _request_timeout(self, timeout: object) -> httpx.Timeout | None:
        """A method's ``timeout=`` keyword as the engine takes it (None: the client's)."""
        return None if timeout is CLIENT_TIMEOUT else resolve_timeout(timeout)

    def _pace(self) -> float | None:
        """The pace the account's budget holds to now, requests a minute (None: unpaced)."""
        return self._budget.pace()

    # --- the one admission path: no I/O, carried out by each client's _exchange -----
    def _exchange_steps(self, action: _engine.Send, admission: Admission | None) -> Exchange:
        """One request's way through the client: the layer's admission (if any), its
        place in the account's budget, the send, and what came back told to both."""
        ticket = None if admission is None else (yield from admission.admit(action))
        received: httpx.Response | Exception | None = None
        late: float | None = None
        try:
            late = yield from self._queue_steps(action)
            if late is None:
                received = yield None
        finally:  # whatever ended it: an answer, Ctrl-C, a cancelled task, a stopped run
            if admission is not None:
                admission.observe(received, ticket)
        if late is not None:
            return _engine.NotSent(late)
        self._budget.observe(received)
        return received

    def _queue_steps(self, action: _engine.Send) -> Generator[float, None, float | None]:
        """The request's place in the budget: a long wait a slice at a time, asking
        again after each (the pace may have changed), a place taken before a 429 came
        given back, and given back too when the caller stops during a wait (closing
        this generator). Returns None (send now), or the wait that would have ended
        past the call's ``until`` (then nothing is sent)."""
        budget = self._budget
        while True:
            signals = budget.signals
            delay = budget.reserve()
            if delay <= 0:
                return None
            until = action.until
            if until is not None and time.monotonic() + delay > until:
                budget.release()
                return delay
            wait = min(delay, budget.recheck)
            try:
                yield wait
            except BaseException:  # stopped or interrupted while queueing: nothing sent
                budget.release()
                raise
            if wait == delay and budget.signals == signals:
                return None
            budget.release()

    def _check_http_client(self, http_client: object, **ours: Any) -> None:
        kind = self._http_client_type
        if not isinstance(http_client, kind):
            raise ConfigurationError(
                f"{type(self).__name__} needs http_client to be an {kind.__module__}."
                f"{kind.__name__}, received {type(http_client).__name__}"
            )
        if http_client.follow_redirects:
            raise ConfigurationError(
                "http_client follows redirects: the API key must never follow a redirect "
                "to another host; create it with follow_redirects=False"
            )
        if ours["verify"] is not True or ours["proxy"] is not None:
            raise ConfigurationError(
                "verify= and proxy= configure the HTTP client this client builds: with "
                "http_client=, set them on your client instead"
            )

    def _own_http_client(self, verify: Any, proxy: str | None) -> Any:
        """The httpx client this client builds (when not given one), and the generated
        client on it: the key lives only in the httpx client's headers."""
        config = self._config
        http_client = self._http_client_type(
            base_url=config.base_url,
            headers=config.headers,
            timeout=config.timeout,
            follow_redirects=False,
            verify=verify,
            proxy=proxy,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=self._keepalive),
        )
        generated = AuthenticatedClient(
            base_url=config.base_url, token=REDACTED_TOKEN, timeout=config.timeout
        )
        if isinstance(http_client, httpx.Client):
            self._generated = generated.set_httpx_client(http_client)
        else:
            self._generated = generated.set_async_httpx_client(http_client)
        return http_client

    @property
    def generated(self) -> AuthenticatedClient:
        """The generated client on this client's httpx pool and key, for calling
        ``writer_jobs._generated.api`` functions directly (no retries, no checks). Only when
        this client built its own httpx client."""
        self._check_open()
        if self._generated is None:
            raise ConfigurationError(
                f"generated is only available when {type(self).__name__} builds its own "
                "httpx client (not with http_client=): build the generated client on your "
                "httpx client yourself"
            )
        return self._generated

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """How many times a failed request may be sent again."""
        return self._config.max_retries

    @property
    def timeout(self) -> httpx.Timeout:
        """The default timeout of every request."""
        return self._config.timeout

    def __repr__(self) -> str:
        config: ClientConfig | None = getattr(self, "_config", None)
        if config is None:  # its construction raised
            return f"<{type(self).__name__} not configured>"
        state = "closed" if getattr(self, "_closed", True) else "open"
        return (
            f"<{type(self).__name__} base_url={config.base_url!r} "
            f"max_retries={config.max_retries} {state}>"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                f"this {type(self).__name__} is closed; create a new one to send requests"
            )

    # Argument checks, before any I/O. Each returns what the engine needs.
    def _retry_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[Job]:
        jid = _validation.job_id(job_id)
        return retry_flow(jid, self._config, self._request_timeout(timeout))

    def _get_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[JobDetails]:
        call = _engine.get_call(_validation.job_id(job_id))
        return _engine.execute(call, self._config, self._request_timeout(timeout))

    def _create_flow(
        self, application_id: str, inputs: Mapping[str, str | Sequence[str]], timeout: object
    ) -> _engine.Flow[Job]:
        call = _engine.create_call(
            _validation.application_id(application_id), _validation.inputs(inputs)
        )
        return _engine.execute(call, self._config, self._request_timeout(timeout))

    def _wait_flow(
        self, job_id: UUID | str, deadline: object, timeout: object
    ) -> _engine.Flow[JobDetails]:
        jid = _validation.job_id(job_id)
        seconds = _validation.timeout_seconds(deadline, name="deadline")
        return _engine.wait_flow(
            jid, self._config, self._request_timeout(timeout), deadline=seconds
        )

    def _pager(
        self, application_id: str, status: JobStatus | str | None, page_size: int | None
    ) -> _engine.Pager:
        return _engine.Pager(
            _validation.application_id(application_id),
            None if status is None else _validation.job_status(status),
            self._config.page_size
            if page_size is None
            else _validation.positive_int(page_size, name="page_size", maximum=10_000),
        )


class _UnsetTimeout:
    def __repr__(self) -> str:
        return "<client default>"


#: The per-call ``timeout=`` default: the client's own timeout (None means no timeout).
CLIENT_TIMEOUT: Any = _UnsetTimeout()


def _check_backend(http_backend: object) -> None:
    if http_backend == "aiohttp":
        raise ConfigurationError(
            "http_backend='aiohttp' was removed: httpx is the one HTTP stack (its mocks, "
            "event hooks and instrumentation see every request), and the aiohttp backend "
            "only paid off far past the account's 400 requests a minute. To tune httpx "
            "(limits, HTTP/2, a transport), pass an http_client= you built"
        )
    if http_backend != "httpx":
        raise ConfigurationError(f"http_backend must be 'httpx', received {http_backend!r}")
