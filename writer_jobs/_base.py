"""What the sync and async clients share besides the engine: settings, argument
checks before any I/O, repr, and what a bulk run lends the flows it has them carry out."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any, Literal, Protocol, Unpack
from uuid import UUID

import attrs
import httpx

from generated_client import AuthenticatedClient
from generated_client.models import Job, JobDetails, JobStatus

from . import _engine, _validation
from ._availability import PROBE_MAX, Availability, Probe
from ._budget import Budget
from ._config import (
    ClientConfig,
    ClientSettings,
    log_from_env,
    resolve_config,
    resolve_rate_limit,
    resolve_timeout,
    tls_verify,
)
from ._exactly_once import retry_flow
from ._exceptions import ClientClosedError, ConfigurationError, ServiceUnavailableError

#: The placeholder the generated client holds as its token: the real key lives only
#: in the httpx client's headers (httpx redacts it in reprs), never in an attrs repr.
_log = logging.getLogger("writer_jobs")
#: While the service is unavailable, bulk work says so this often, seconds.
OUTAGE_SAID = 10.0

REDACTED_TOKEN = "[redacted: sent by the httpx client]"  # noqa: S105 - not a secret

HttpBackend = Literal["httpx", "aiohttp"]


class RunControl(Protocol):
    """What a bulk run lends the flows a client carries out for it (the core knows no
    more of the bulk layer): its own pace on top of the client's budget, its view of
    every answer, and its gate, which raises once the run has stopped."""

    #: Async tasks of the run whose request is out (left to finish it if the run stops).
    sending: set[Any]

    def reserve(self) -> float: ...
    def observe(self, outcome: httpx.Response | Exception | None) -> None: ...
    def retrying(self, action: _engine.Sleep) -> None: ...
    def check(self) -> None: ...
    def pause(self, seconds: float) -> None: ...


class ClientBase:
    """Settings and argument handling common to JobsClient and AsyncJobsClient."""

    _config: ClientConfig
    _closed: bool
    _generated: AuthenticatedClient | None = None
    _http_client_type: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(self, api_key: str | None = None, **settings: Unpack[ClientSettings]) -> None:
        """Settings come from the keywords (``ClientSettings``), else WRITER_API_KEY /
        WRITER_BASE_URL, else the defaults. ``rate_limit`` is the account's budget in
        requests a minute, shared by every request of this client ("auto": Writer's 400,
        none for a loopback server). ``verify`` and ``proxy`` configure the HTTP client
        this client builds; pass ``http_client`` to use your own instead (see the README)."""
        log_from_env()
        self._config = resolve_config(api_key, **settings)
        rate_limit = settings.get("rate_limit", "auto")
        verify, proxy = settings.get("verify", True), settings.get("proxy")
        http_client, http_backend = (
            settings.get("http_client"),
            settings.get("http_backend", "httpx"),
        )
        self._closed = False
        #: The account's budget, shared by every request of this client.
        self._budget = Budget(resolve_rate_limit(rate_limit, self._config.base_url))
        #: Whether the service answers, as this client's requests saw it.
        self._availability = Availability(
            self._config.backoff_initial, min(self._config.backoff_max, PROBE_MAX)
        )
        self._outage_said = -math.inf
        #: Bulk work's settings: a transient failure holds a request back rather than
        #: failing it, and no call deadline (the bulk call's own bounds apply).
        self._bulk_config = attrs.evolve(self._config, bulk=True, deadline=None)
        if http_backend not in ("httpx", "aiohttp"):
            raise ConfigurationError(
                f"http_backend must be 'httpx' or 'aiohttp', received {http_backend!r}"
            )
        if http_client is not None:
            self._check_http_client(http_client, verify=verify, proxy=proxy, backend=http_backend)
        self._setup_http(http_client, tls_verify(verify), proxy, http_backend)

    def _queue_steps(
        self, action: _engine.Send, run: RunControl | None
    ) -> Generator[float, None, float | None]:
        """The request's place in the budget, without I/O (the clients' _queue sleep
        what it yields): a long wait a slice at a time, asking again after each (the
        pace may have changed), a place taken before a 429 came given back, and given
        back too when the caller stops during a wait (it closes this generator).
        Returns None (send now), or the wait that would have ended past the call's
        deadline (then nothing is sent)."""
        pace = run.reserve() if run else 0.0  # the run's own cap: one place a request
        while True:
            budget = self._budget
            signals = budget.signals
            delay = budget.reserve()
            until = action.until if run is None else None
            if until is not None and time.monotonic() + max(delay, pace) > until:
                budget.release()
                return max(delay, pace)
            wait = min(delay, budget.recheck)
            try:
                yield max(wait, pace)
            except BaseException:  # stopped or interrupted while queueing: nothing sent
                budget.release()
                raise
            pace = 0.0
            if wait == delay and budget.signals == signals:
                return None
            budget.release()

    def _outage_wait(self, action: _engine.Send) -> float | Probe:
        """How long a bulk request waits for the service to answer again (0.0: send
        it), or the Probe it goes as. Says so in the log every OUTAGE_SAID seconds;
        past the request's bound of continuous unavailability (counted from its bulk
        call's start at the earliest), ServiceUnavailableError stops the bulk work."""
        bound = action.max_unavailable
        wait = self._availability.wait(action.since, bound)
        if isinstance(wait, Probe) or wait <= 0:
            return wait
        down = self._availability.down_for()
        reason = self._availability.reason
        url = self._config.base_url + str(action.kwargs["url"])
        method = str(action.kwargs["method"]).upper()
        # Stopped only once a probe at the bound failed too: an outage shorter than the
        # bound is waited out, however the probes' backoff falls.
        if bound is not None and self._availability.outlasted(action.since, bound):
            raise ServiceUnavailableError(
                f"the API was unavailable for {down:.0f} s in a row ({reason}), longer than "
                f"max_unavailable={bound:g} s: stopped. The journal keeps the run's place: "
                "run again with it to resume",
                method=method,
                url=url,
                unavailable_for=down,
                reason=reason,
            )
        now = time.monotonic()
        if now - self._outage_said >= OUTAGE_SAID:
            self._outage_said = now
            _log.warning(
                "API unavailable for %.0f s (%s), waiting (up to %s in a row)",
                down,
                reason,
                "no limit" if bound is None else f"{bound:g} s",
                extra={"unavailable_for": down, "unavailable_reason": reason},
            )
        return wait

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
        if ours["verify"] is not True or ours["proxy"] is not None or ours["backend"] != "httpx":
            raise ConfigurationError(
                "verify=, proxy= and http_backend= configure the HTTP client this client "
                "builds: with http_client=, set them on your client instead"
            )

    def _setup_http(
        self,
        http_client: Any,
        verify: Any,
        proxy: str | None,
        http_backend: HttpBackend,
    ) -> None:
        raise NotImplementedError

    def _own_http_client(self, verify: Any, proxy: str | None, keepalive: int) -> Any:
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
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=keepalive),
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
        ``generated_client.api`` functions directly (no retries, no checks). Only when
        this client built its own httpx client."""
        self._check_open()
        if self._generated is None:
            raise ConfigurationError(
                f"generated is only available when {type(self).__name__} builds its own "
                "httpx client (not with http_client= or http_backend='aiohttp'): build the "
                "generated client on your httpx client yourself"
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
    @staticmethod
    def _timeout(timeout: object) -> httpx.Timeout | None:
        return None if timeout is CLIENT_TIMEOUT else resolve_timeout(timeout)

    def _retry_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[Job]:
        jid = _validation.job_id(job_id)
        return retry_flow(jid, self._config, self._timeout(timeout))

    def _get_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[JobDetails]:
        call = _engine.get_call(_validation.job_id(job_id))
        return _engine.execute(call, self._config, self._timeout(timeout))

    def _create_flow(
        self, application_id: str, inputs: Mapping[str, str | Sequence[str]], timeout: object
    ) -> _engine.Flow[Job]:
        call = _engine.create_call(
            _validation.application_id(application_id), _validation.inputs(inputs)
        )
        return _engine.execute(call, self._config, self._timeout(timeout))

    def _wait_flow(
        self, job_id: UUID | str, deadline: object, timeout: object
    ) -> _engine.Flow[JobDetails]:
        jid = _validation.job_id(job_id)
        seconds = _validation.timeout_seconds(deadline, name="deadline")
        return _engine.wait_flow(
            jid, self._config, self._timeout(timeout), deadline_seconds=seconds
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
