"""What the sync and async clients share besides the engine: settings, argument
checks, reading a response within the size cap, and repr."""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import httpx

from generated_client.models import JobStatus

from . import _engine, _validation
from ._bulk import BulkRun, JobOutcome
from ._config import (
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_PAGE_SIZE,
    DEFAULT_TIMEOUT,
    ClientConfig,
    resolve_config,
    resolve_timeout,
)
from ._exceptions import (
    ClientClosedError,
    ConfigurationError,
    InvalidArgumentError,
    ResponseValidationError,
)

#: The placeholder the generated client holds as its token: the real key lives only
#: in the httpx client's headers (httpx redacts it in reprs), never in an attrs repr.
REDACTED_TOKEN = "[redacted: sent by the httpx client]"  # noqa: S105 - not a secret


def _setup_logging_from_env() -> None:
    level = os.environ.get("WRITER_LOG", "").strip().upper()
    if level in {"DEBUG", "INFO"}:
        logger = logging.getLogger("writer_jobs")
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
            )
            logger.addHandler(handler)
        logger.setLevel(level)


_setup_logging_from_env()


def _tls_verify(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext | bool:
    """``verify`` as httpx wants it: a CA bundle path becomes an SSLContext trusting it."""
    if isinstance(verify, str | os.PathLike):
        try:
            return ssl.create_default_context(cafile=os.fspath(verify))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"verify must name a readable PEM CA bundle, received {verify!r} ({exc})"
            ) from None
    if isinstance(verify, ssl.SSLContext | bool):
        return verify
    raise ConfigurationError(
        f"verify must be True, False, a CA bundle path or an ssl.SSLContext, "
        f"received {type(verify).__name__}"
    )


class ClientBase:
    """Settings and argument handling common to JobsClient and AsyncJobsClient."""

    _config: ClientConfig
    _closed: bool

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        allow_insecure_http: bool = False,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        page_size: int = DEFAULT_PAGE_SIZE,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        """Settings come from the keywords, else WRITER_API_KEY / WRITER_BASE_URL, else
        the defaults. ``transport``, ``verify`` and ``limits`` go to the httpx client
        (a sync transport for JobsClient, an async one for AsyncJobsClient)."""
        self._config = resolve_config(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            max_retry_after=max_retry_after,
            max_response_bytes=max_response_bytes,
            page_size=page_size,
        )
        self._closed = False
        self._setup_http(transport, _tls_verify(verify), limits)

    def _setup_http(
        self,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits | None,
    ) -> None:
        raise NotImplementedError

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
        self, job_id: UUID | str, timeout: object, request_timeout: object
    ) -> _engine.Flow[Any]:
        jid = _validation.job_id(job_id)
        deadline = _validation.timeout_seconds(timeout)
        return _engine.wait_flow(
            jid, self._config, self._timeout(request_timeout), deadline_seconds=deadline
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
    ) -> BulkRun:
        app = _validation.application_id(application_id)
        _validation.positive_int(concurrency, name="concurrency", maximum=1024)
        deadline = _validation.timeout_seconds(wait_timeout, name="wait_timeout")
        if rate_limit is not None:
            rate = _validation.timeout_seconds(rate_limit, name="rate_limit")
            if not rate:
                raise InvalidArgumentError(
                    f"rate_limit must be > 0 requests per minute or None, received {rate_limit!r}"
                )
        return BulkRun(
            self._config,
            self._timeout(timeout),
            application_id=app,
            journal=journal,
            wait=wait,
            wait_timeout=deadline,
            rate_limit=rate_limit,
            on_outcome=on_outcome,
        )

    def _failed_pager(self, run: BulkRun) -> _engine.Pager:
        return _engine.Pager(run.application_id, JobStatus.FAILED, self._config.page_size)

    def _attempt_seconds(self, action: _engine.Send) -> float | None:
        """How long one attempt may take in all, from connecting to the last byte of
        the body: the connect plus the read timeout (None: no read timeout, no limit)."""
        timeout = action.timeout or self._config.timeout
        if timeout.read is None:
            return None
        return timeout.read + (timeout.connect or 0.0)

    def _body_reader(self, action: _engine.Send, status: int, deadline: float | None) -> BodyReader:
        return BodyReader(
            action.kwargs["method"].upper(),
            action.kwargs["url"],
            status,
            self._config.max_response_bytes,
            deadline,
        )


class BodyReader:
    """Collects a streamed body within the size cap and the attempt's deadline.

    httpx's read timeout bounds each read; a server trickling a byte at a time could
    still hold a call forever, so the whole response must arrive by the attempt's
    deadline. No I/O: the clients feed it the chunks.
    """

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
            raise self._too_large(self._received)
        self._chunks.append(chunk)
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise httpx.ReadTimeout(
                "the response did not arrive in full within the attempt's deadline "
                "(connect + read timeout)"
            )

    def body(self) -> bytes:
        return b"".join(self._chunks)

    def _too_large(self, received: int) -> ResponseValidationError:
        return ResponseValidationError(
            f"{self.method} {self.path} -> {self.status}: the response body is larger than "
            f"max_response_bytes={self._limit} (received at least {received} bytes); not read",
            method=self.method,
            url=self.path,
            response=None,
            value=received,
        )


class _UnsetTimeout:
    def __repr__(self) -> str:
        return "<client default>"


#: "Use the client's timeout" for the per-call ``timeout=`` keyword (None means no timeout).
_UNSET_TIMEOUT: Any = _UnsetTimeout()
