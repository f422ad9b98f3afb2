"""What the sync and async clients share besides the engine: settings, argument
checks before any I/O, and repr."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal
from uuid import UUID

import attrs
import httpx

from generated_client import AuthenticatedClient
from generated_client.models import JobDetails, JobStatus

from . import _engine, _validation
from ._availability import PROBE_MAX, Availability
from ._budget import Budget
from ._bulk import BulkRun, JobOutcome, Selection
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
from ._exceptions import (
    ClientClosedError,
    ConfigurationError,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from ._watch import FINISHED, Watcher, interval

_log = logging.getLogger("writer_jobs")
#: While the service is unavailable, bulk work says so this often, seconds.
OUTAGE_SAID = 10.0

#: The placeholder the generated client holds as its token: the real key lives only
#: in the httpx client's headers (httpx redacts it in reprs), never in an attrs repr.
REDACTED_TOKEN = "[redacted: sent by the httpx client]"  # noqa: S105 - not a secret

HttpBackend = Literal["httpx", "aiohttp"]


class ClientBase:
    """Settings and argument handling common to JobsClient and AsyncJobsClient."""

    _config: ClientConfig
    _closed: bool
    _generated: AuthenticatedClient | None = None
    _http_client_type: type[httpx.Client] | type[httpx.AsyncClient]

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
        http_client: httpx.Client | httpx.AsyncClient | None = None,
        http_backend: HttpBackend = "httpx",
    ) -> None:
        """Settings come from the keywords, else WRITER_API_KEY / WRITER_BASE_URL, else
        the defaults. ``rate_limit`` is the account's budget in requests a minute,
        shared by every request of this client ("auto": Writer's 400, none for a
        loopback server). ``verify`` and ``proxy`` configure the HTTP client this
        client builds; pass ``http_client`` to use your own instead (see the README)."""
        log_from_env()
        self._config = resolve_config(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            deadline=deadline,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            max_response_bytes=max_response_bytes,
            page_size=page_size,
        )
        self._closed = False
        #: Bulk work's settings: a 429 holds a request back rather than failing it, and
        #: no call deadline (the run's own bounds apply: wait_timeout, wait_many's deadline).
        self._bulk_config = attrs.evolve(self._config, bulk=True, deadline=None)
        #: The account's budget, shared by every request of this client.
        self._budget = Budget(resolve_rate_limit(rate_limit, self._config.base_url))
        #: Whether the service answers, as this client's requests saw it.
        self._availability = Availability(
            self._config.backoff_initial, min(self._config.backoff_max, PROBE_MAX)
        )
        self._outage_said = -math.inf
        if http_backend not in ("httpx", "aiohttp"):
            raise ConfigurationError(
                f"http_backend must be 'httpx' or 'aiohttp', received {http_backend!r}"
            )
        if http_client is not None:
            self._check_http_client(http_client, verify=verify, proxy=proxy, backend=http_backend)
        self._setup_http(http_client, tls_verify(verify), proxy, http_backend)

    def _outage_wait(self, action: _engine.Send) -> float:
        """How long a bulk request waits for the service to answer again (0.0: send
        it). Says so in the log every OUTAGE_SAID seconds; past the request's bound of
        continuous unavailability, ServiceUnavailableError stops the bulk work."""
        wait = self._availability.wait()
        if wait <= 0:
            return 0.0
        down = self._availability.down_for()
        reason = self._availability.reason
        bound = action.max_unavailable
        url = self._config.base_url + str(action.kwargs["url"])
        method = str(action.kwargs["method"]).upper()
        if bound is not None and down > bound:
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
        return None if timeout is _UNSET_TIMEOUT else resolve_timeout(timeout)

    def _retry_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[Any]:
        jid = _validation.job_id(job_id)
        return _engine.retry_flow(jid, self._config, self._timeout(timeout))

    def _get_flow(self, job_id: UUID | str, timeout: object) -> _engine.Flow[Any]:
        call = _engine.get_call(_validation.job_id(job_id))
        return _engine.execute(call, self._config, self._timeout(timeout))

    def _create_flow(
        self, application_id: str, inputs: Mapping[str, str | Sequence[str]], timeout: object
    ) -> _engine.Flow[Any]:
        call = _engine.create_call(
            _validation.application_id(application_id), _validation.inputs(inputs)
        )
        return _engine.execute(call, self._config, self._timeout(timeout))

    def _wait_flow(
        self, job_id: UUID | str, deadline: object, timeout: object
    ) -> _engine.Flow[Any]:
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

    def _bulk_run(
        self,
        application_id: str,
        *,
        concurrency: int,
        wait: bool,
        wait_timeout: float | None,
        journal: str | os.PathLike[str] | None,
        rate_limit: float | None,
        on_outcome: Callable[[JobOutcome], None] | None,
        timeout: object,
        select: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = None,
    ) -> BulkRun:
        app = _validation.application_id(application_id)
        _validation.positive_int(concurrency, name="concurrency", maximum=1024)
        deadline = _validation.timeout_seconds(wait_timeout, name="wait_timeout")
        if rate_limit is not None:
            resolve_rate_limit(rate_limit, self._config.base_url)
        return BulkRun(
            self._config,
            self._timeout(timeout),
            application_id=app,
            journal=journal,
            wait=wait,
            wait_timeout=deadline,
            rate_limit=rate_limit,
            on_outcome=on_outcome,
            selection=_validation.instance(select, Selection, name="select"),
            dry_run=bool(dry_run),
            max_unavailable=_validation.timeout_seconds(max_unavailable, name="max_unavailable"),
            unavailable_before=self._availability.unavailable_seconds,
        )

    def _wait_many_config(self, max_unavailable: object) -> ClientConfig:
        bound = _validation.timeout_seconds(max_unavailable, name="max_unavailable")
        return attrs.evolve(self._bulk_config, max_unavailable=bound)

    def _wait_ids(
        self, job_ids: Iterable[UUID | str], deadline: object
    ) -> tuple[list[UUID], float | None]:
        ids = list(dict.fromkeys(_validation.job_id(j) for j in job_ids))
        seconds = _validation.timeout_seconds(deadline, name="deadline")
        return ids, None if seconds is None else time.monotonic() + seconds

    def _next_round(
        self, watchers: dict[str, Watcher], deadline: float | None
    ) -> tuple[Watcher, float] | None:
        """The next watcher with jobs to watch and how long to wait for its round;
        None when none is left. Past the deadline: WaitTimeoutError naming the rest."""
        busy = [w for w in watchers.values() if w.pending]
        if not busy:
            return None
        remaining = [j for w in busy for j in w.pending]
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"{len(remaining)} jobs were still running when wait_many() reached its "
                f"deadline: {', '.join(map(str, remaining[:20]))}"
                + (" ..." if len(remaining) > 20 else ""),
                last_job=None,
            )
        watcher = min(busy, key=lambda w: w.requests)  # round-robin by cost so far
        pause = interval(watcher, self._budget.pace(), triggering=False)
        if deadline is not None:
            pause = min(pause, max(deadline - time.monotonic(), 0.0))
        return watcher, pause

    @staticmethod
    def _watch_or_done(watchers: dict[str, Watcher], details: JobDetails) -> bool:
        """True if the job has ended; else start watching it with its application."""
        if details.status in FINISHED:
            return True
        app = details.application_id
        watchers.setdefault(app, Watcher(app)).add(details.id, _engine.epoch(details.updated_at))
        return False

    def _failed_pager(self, run: BulkRun) -> _engine.Pager:
        return _engine.Pager(
            run.application_id, JobStatus.FAILED, self._config.page_size, overlap=True
        )


class _UnsetTimeout:
    def __repr__(self) -> str:
        return "<client default>"


#: "Use the client's timeout" for the per-call ``timeout=`` keyword (None means no timeout).
_UNSET_TIMEOUT: Any = _UnsetTimeout()
