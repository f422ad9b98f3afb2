"""The call catalogue, the retry policy, polling and paging, with no I/O.

Each operation is a generator that yields actions (``Send`` a request, ``Sleep``)
and receives what the action produced (an ``httpx.Response`` or the exception
sending raised). The clients only carry the actions out, so every decision (what
to retry, how long to wait) is made here, once; whether a retry's POST may be repeated
is proved in ``_exactly_once``. What follows a failed attempt is the call's retry
policy (``Retries``): ``BOUNDED`` by default; a layer above may pass its own.

Words: ``until`` is a moment (``time.monotonic``) a whole thing must be over by (a
call's, an attempt's); ``deadline`` and ``timeout`` are seconds (a call's, a wait's, a
request's). What one request came back with is what it ``received`` (``Received``);
``outcome`` is only ever a job's (bulk/'s ``JobOutcome``).
"""

from __future__ import annotations

import enum
import logging
import math
import random
import time
import typing
from collections.abc import Callable, Generator
from typing import Any, Protocol, TypeVar
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated.api.template import create_job, get_job, list_jobs, retry_job
from writer_jobs._generated.models import (
    CreateJobRequest,
    Job,
    JobDetails,
    JobInput,
    JobList,
    JobStatus,
)

from ._config import ClientConfig
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    Hint,
    ResponseValidationError,
    RetryOutcomeUnknownError,
    WaitTimeoutError,
)
from ._parse import parse_model, status_error

logger = logging.getLogger("writer_jobs")

T = TypeVar("T")

#: Statuses worth another attempt: the server did not (or may not have) done the work.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that certainly mean the request was not processed.
UNPROCESSED_STATUSES = frozenset({429})
#: Transport errors raised before the request left the client.
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# Send and Call are plain slotted classes, not attrs ones: one of each is made per
# request, and a frozen attrs __init__ costs several times more (measured).
class Send:
    """Send one request: the generated request kwargs, the per-request timeout, and
    ``until``, the moment (``time.monotonic``; None: none) its call must be over by."""

    __slots__ = ("kwargs", "timeout", "until")

    def __init__(
        self, kwargs: dict[str, Any], timeout: httpx.Timeout | None, until: float | None = None
    ) -> None:
        self.kwargs = kwargs
        self.timeout = timeout
        self.until = until


@attrs.frozen
class Sleep:
    """Wait this many seconds: before another attempt (``retry_of``: the failure that
    is being retried) or between polls."""

    seconds: float
    retry_of: APIError | None = None


class NotSent:
    """What a driver answers a Send with when it did not send it: waiting ``queued``
    seconds for the account's budget would have ended past the call's deadline."""

    __slots__ = ("queued",)

    def __init__(self, queued: float) -> None:
        self.queued = queued


#: What a Send produced: the response, the exception sending raised, or NotSent.
Received = httpx.Response | Exception | NotSent | None
Flow = Generator[Send | Sleep, Received, T]


class Safety(enum.Enum):
    """How freely an operation may be sent again."""

    #: GETs: retried on any transient failure.
    IDEMPOTENT = "idempotent"
    #: POST .../retry: after an ambiguous failure, GET the job before POSTing again.
    VERIFY_BEFORE_REPEAT = "verify before repeat"
    #: POST .../jobs: no idempotency key, so repeated only when certainly unprocessed.
    ONLY_IF_UNPROCESSED = "only if unprocessed"


class Call:
    """One API call: the generated request kwargs and how to read a 2xx."""

    __slots__ = ("kwargs", "method", "name", "parse", "path", "safety")

    def __init__(
        self,
        name: str,
        kwargs: dict[str, Any],
        parse: Callable[[httpx.Response, str, str], Any],
        safety: Safety,
    ) -> None:
        self.name = name
        self.kwargs = kwargs
        self.parse = parse
        self.safety = safety
        self.method = str(kwargs["method"]).upper()
        self.path = str(kwargs["url"])


#: Statuses after which a job changes no more. One openapi.yaml does not list (a newer
#: server's, kept by the open JobStatus) is likelier a new stage (``queued``) than a new
#: end: NOT finished, wait() polls it until its deadline, retry_failed never retries it.
FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})
KNOWN_STATUSES = frozenset(JobStatus)
_warned: set[str] = set()


def _warn_unknown(status: JobStatus) -> None:
    if status.value not in _warned and len(_warned) < 64:  # once per value, bounded
        _warned.add(status.value)
        logger.warning(
            "the server sent job status %r, which openapi.yaml does not list: kept, "
            "treated as not terminal (wait() keeps polling); update the spec",
            status.value,
        )


def _parser(cls: type[T]) -> Callable[[httpx.Response, str, str], T]:
    def parse(response: httpx.Response, method: str, url: str) -> T:
        obj: Any = parse_model(cls, response, method=method, url=url)
        for job in obj.result if isinstance(obj, JobList) else (obj,):
            if job.status not in KNOWN_STATUSES:
                _warn_unknown(job.status)
        return typing.cast(T, obj)

    return parse


_parse_job = _parser(Job)
parse_details = _parser(JobDetails)
_parse_list = _parser(JobList)


def retry_call(job_id: UUID) -> Call:
    return Call("retry_job", retry_job._get_kwargs(job_id), _parse_job, Safety.VERIFY_BEFORE_REPEAT)


def get_call(job_id: UUID) -> Call:
    return Call("get_job", get_job._get_kwargs(job_id), parse_details, Safety.IDEMPOTENT)


def list_call(application_id: str, status: JobStatus | None, offset: int, limit: int) -> Call:
    kwargs = list_jobs._get_kwargs(
        application_id, offset=offset, limit=limit, **({"status": status} if status else {})
    )
    return Call("list_jobs", kwargs, _parse_list, Safety.IDEMPOTENT)


def create_call(application_id: str, inputs: list[JobInput]) -> Call:
    kwargs = create_job._get_kwargs(application_id, body=CreateJobRequest(inputs=inputs))
    return Call("create_job", kwargs, _parse_job, Safety.ONLY_IF_UNPROCESSED)


@attrs.frozen
class Failure:
    """A failed attempt, classified."""

    error: APIError
    retryable: bool
    #: The request may have been processed (matters for POSTs).
    ambiguous: bool
    retry_after: float | None = None


def _classify(call: Call, received: Received, url: str, attempt: int) -> Failure:
    method = call.method
    if isinstance(received, NotSent):
        text = (
            f"{method} {url}: not sent: the account's budget (rate_limit, and what 429s "
            f"taught it) asked to queue {received.queued:.1f} s more, past the call's "
            "deadline; raise deadline= or lower the load on the account"
        )
        late = APITimeoutError(
            text, method=method, url=url, may_have_been_processed=False, attempts=attempt
        )
        return Failure(late, retryable=False, ambiguous=False)
    if isinstance(received, httpx.Response):
        error = status_error(received, method=method, url=url, attempts=attempt)
        retryable = received.status_code in RETRYABLE_STATUSES
        ambiguous = retryable and received.status_code not in UNPROCESSED_STATUSES
        return Failure(error, retryable, ambiguous, error.retry_after)
    if isinstance(received, APIError):  # raised while reading (body over the size cap)
        return Failure(received, retryable=False, ambiguous=True)
    if isinstance(received, httpx.DecodingError):
        text = f"{method} {url}: the response body could not be decoded: {received}"
        invalid = ResponseValidationError(text, method=method, url=url, response=None)
        return Failure(invalid, retryable=False, ambiguous=True)
    if isinstance(received, httpx.TransportError):
        unsent = isinstance(received, UNSENT_ERRORS)
        timed_out = isinstance(received, httpx.TimeoutException)
        kind = "timed out" if timed_out else "connection failed"
        text = f"{method} {url}: {kind} ({type(received).__name__}: {str(received) or 'no detail'})"
        if unsent:
            text += "; the request was not sent"
        cls = APITimeoutError if timed_out else APIConnectionError
        err = cls(
            text, method=method, url=url, may_have_been_processed=not unsent, attempts=attempt
        )
        retryable = not isinstance(received, httpx.UnsupportedProtocol | httpx.ProxyError)
        return Failure(err, retryable, ambiguous=not unsent)
    if isinstance(received, Exception):
        raise received
    raise RuntimeError(f"unexpected received {received!r}")  # pragma: no cover - a driver bug


class Backoff:
    """Exponential backoff with full jitter: retry n waits uniformly between 0 and
    ``initial * 2**(n-1)``, capped at ``maximum`` (the AWS "full jitter" formula)."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._initial = initial
        self._maximum = maximum

    def delay(self, retry_number: int) -> float:
        ceiling = min(self._maximum, self._initial * 2 ** min(retry_number - 1, 64))
        return random.uniform(0, ceiling)


def _with_note(error: APIError, note: str) -> None:
    error.message = f"{error.message}; {note}"
    error.args = (error.message,)


def _retryable_error(error: APIError) -> bool:
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUSES
    return isinstance(error, APIConnectionError)


class Retries(Protocol):
    """What follows a failed attempt: ``after`` returns how long to wait before the next
    one, or raises the failure's typed error when there is none. ``attempt`` counts the
    call's attempts so far; ``until``: the moment the call must be over by."""

    def after(
        self, call: Call, failure: Failure, attempt: int, config: ClientConfig, until: float | None
    ) -> float: ...


class Bounded:
    """The clients' retries: up to ``max_retries`` more attempts on a transient failure,
    backoff with full jitter, ``Retry-After`` up to ``max_retry_after``, within the
    call's deadline; a POST that may have created a job is never repeated."""

    def after(
        self, call: Call, failure: Failure, attempt: int, config: ClientConfig, until: float | None
    ) -> float:
        error = failure.error
        # No idempotency key: a POST that may have created a job is never repeated.
        unsafe = call.safety is Safety.ONLY_IF_UNPROCESSED and failure.ambiguous
        if not failure.retryable or unsafe or attempt > config.max_retries:
            if unsafe:
                _with_note(
                    error,
                    "the job may have been created: list the application's jobs "
                    "before creating it again",
                )
            elif call.safety is Safety.VERIFY_BEFORE_REPEAT and failure.ambiguous:
                _with_note(error, "the job may have been re-triggered")
                error.hint = Hint.CHECK_THE_JOB
            if failure.retryable and attempt > 1 and not isinstance(error, APIStatusError):
                _with_note(error, f"gave up after {attempt} attempts")  # status errors count them
            error.attempts = attempt
            raise error
        if failure.retry_after is None:
            delay = Backoff(config.backoff_initial, config.backoff_max).delay(attempt)
        elif failure.retry_after > config.max_retry_after:
            _with_note(
                error,
                f"not waiting: the server asked for {failure.retry_after:.0f} s, "
                f"more than max_retry_after={config.max_retry_after:g} s",
            )
            raise error
        else:
            delay = failure.retry_after
        if until is not None and time.monotonic() + delay >= until:
            _with_note(
                error,
                f"gave up after {attempt} attempts: another would end past the call's deadline "
                f"of {config.deadline:g} s",
            )
            if failure.ambiguous and call.safety is not Safety.IDEMPOTENT:
                what = "created" if call.safety is Safety.ONLY_IF_UNPROCESSED else "re-triggered"
                _with_note(error, f"the job may have been {what}")
            error.attempts = attempt
            raise error
        logger.info(
            "%s %s: attempt %d of %d failed (%s); retrying in %.2f s",
            call.method,
            config.base_url + call.path,
            attempt,
            config.max_retries + 1,
            reason(failure.error),
            delay,
            # For handlers that say more than the text (the CLI's "retrying" notice).
            extra={
                "retry_error": failure.error,
                "retry_attempt": attempt,
                "retry_attempts": config.max_retries + 1,
                "retry_delay": delay,
            },
        )
        return delay


#: The retry policy of every call whose settings name none.
BOUNDED = Bounded()


#: After an attempt whose answer was lost (a timeout, a dropped connection; not a 5xx
#: answer: the server said what it did), the check deciding "it did not land, send
#: again" runs no sooner than this many seconds after the failure: a server
#: may apply a request whose answer was lost that much later (one applying it later
#: still is the limit docs/reliability.md states). Not the request's timeout (60 s by
#: default): every lost answer would hold its job that long.
REPEAT_SETTLE = 5.0


def execute(
    call: Call,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    before_repeat: Callable[[float, float | None], Flow[Any | None]] | None = None,
    until: float | None = None,
) -> Flow[Any]:
    """Send ``call``, retrying as its safety and ``config.retries`` (default:
    ``BOUNDED``) allow; return the parsed 2xx body. The whole call is over by ``until``
    (default: ``config.deadline`` seconds from now): no attempt or wait starts that
    would end past it.

    ``before_repeat(sent_at, until)`` runs before an attempt that follows an ambiguous
    one (``sent_at``: when the earliest request that may have taken effect was sent, on
    ``time.monotonic``). A value it returns is the result, and nothing is sent again;
    None proves no earlier request took effect. If it fails, the attempt counts as
    failed and the next one checks again.
    """
    url = config.base_url + call.path  # errors and logs name the full URL
    method = call.method
    retries = config.retries or BOUNDED
    if until is None and config.deadline is not None:
        until = time.monotonic() + config.deadline
    # When the earliest request whose effect is not ruled out was sent (None: none).
    unresolved_since: float | None = None
    # Not before this may the check decide that it did not land (see REPEAT_SETTLE).
    settled_at = -math.inf
    last_error: APIError | None = None
    attempt = 0
    while True:
        attempt += 1
        failure: Failure | None = None
        if unresolved_since is not None and before_repeat is not None:
            wait = settled_at - time.monotonic()
            if wait > 0 and last_error is not None:
                if until is not None and time.monotonic() + wait > until:
                    what = (
                        "created" if call.safety is Safety.ONLY_IF_UNPROCESSED else "re-triggered"
                    )
                    _with_note(last_error, f"an earlier attempt may have {what} the job")
                    raise last_error
                yield Sleep(wait, last_error)
            try:
                settled = yield from before_repeat(unresolved_since, until)
            except RetryOutcomeUnknownError:
                raise
            except APIError as exc:
                failure = Failure(
                    exc, _retryable_error(exc), True, getattr(exc, "retry_after", None)
                )
            else:
                if settled is not None:
                    logger.info(
                        "%s %s: the earlier attempt took effect; not repeating it", method, url
                    )
                    return settled
                unresolved_since = None
        if failure is None:
            logger.debug("%s %s: attempt %d of %d", method, url, attempt, config.max_retries + 1)
            sent_at = time.monotonic()
            received = yield Send(call.kwargs, timeout, until)
            if isinstance(received, httpx.Response) and 200 <= received.status_code < 300:
                return call.parse(received, method, url)
            failure = _classify(call, received, url, attempt)
            if failure.ambiguous:
                if unresolved_since is None:
                    unresolved_since = sent_at
                if not isinstance(received, httpx.Response):  # the answer was lost
                    settled_at = max(settled_at, time.monotonic() + REPEAT_SETTLE)
                last_error = failure.error
        unsafe = call.safety is not Safety.IDEMPOTENT
        if not failure.retryable and not failure.ambiguous and unresolved_since and unsafe:
            what = "created" if call.safety is Safety.ONLY_IF_UNPROCESSED else "re-triggered"
            _with_note(failure.error, f"an earlier attempt may have {what} the job")
        yield Sleep(retries.after(call, failure, attempt, config, until), failure.error)


def reason(error: APIError) -> str:
    """A failure in a word or two, for logs ("status 503", "ConnectError")."""
    if isinstance(error, APIStatusError):
        return f"status {error.status_code}"
    return type(error).__name__


def wait_flow(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    deadline: float | None,
) -> Flow[JobDetails]:
    """Poll the job, 1 s growing to 10 s apart, until it is completed or failed (a
    status the spec does not list is not terminal: polling goes on), for ``deadline``
    seconds at most (None: no limit)."""
    until = None if deadline is None else time.monotonic() + deadline
    interval = 1.0
    while True:
        last: JobDetails = yield from execute(get_call(job_id), config, timeout)
        if last.status in FINISHED:
            return last
        remaining = None if until is None else until - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise WaitTimeoutError(
                f"job {job_id} was still {last.status.value} when wait() reached its "
                f"deadline of {deadline:g} s",
                last_job=last,
            )
        yield Sleep(interval if remaining is None else min(interval, remaining))
        interval = min(interval * 1.5, 10.0)


#: Equal pages in a row that prove a server ignores offset. Two can be an honest list
#: shifted down by jobs entering above between the requests; a third would need the
#: same exact shift again.
IDENTICAL_PAGES = 3


class Pager:
    """Offset/limit paging over list_jobs, with no I/O: which page next, and what it held.

    A page equal to the one before it is what a server ignoring offset sends, but also
    what an honest newest-first list sends when as many jobs entered above it as the
    offset moved (one job failing or created between two one-job pages is enough). So
    the repeat is skipped (its jobs were all seen; ``shifted`` is set: this pass may
    have missed jobs) and paging goes on; only ``IDENTICAL_PAGES`` equal pages in a
    row, which no single shift explains, prove that the server ignores offset (a layer
    that lists again may take them as a shift: ``_proves_ignored_offset``). A layer
    above may page with overlap (bulk/: ``_next_offset`` and ``_ends_at``).
    """

    #: Whether a totalCount the page carries may end the paging.
    trusts_total = True

    def __init__(self, application_id: str, status: JobStatus | None, page_size: int) -> None:
        self.application_id = application_id
        self.status = status
        self.page_size = page_size
        self.offset = 0
        self.done = False
        self.path = ""
        #: The list changed under this pass in a way that may have hidden a job.
        self.shifted = False
        self._previous_ids: list[UUID] | None = None
        #: The offsets of the run of equal pages ending with the previous one.
        self._same_page_offsets: list[int] = []

    def next_call(self) -> Call | None:
        if self.done:
            return None
        call = list_call(self.application_id, self.status, self.offset, self.page_size)
        self.path = call.path
        return call

    def accept(self, page: JobList) -> list[JobDetails]:
        items = list(page.result)
        ids = [job.id for job in items]
        repeated = bool(items) and ids == self._previous_ids
        if repeated:
            self._same_page_offsets.append(self.offset)
            if len(self._same_page_offsets) >= IDENTICAL_PAGES:
                self.done = True
                if not self._proves_ignored_offset():
                    # A layer that looks again (a watch round, a listing pass) takes it
                    # as a list that moved: this pass may have missed jobs.
                    self.shifted = True
                    return []
                offsets = ", ".join(map(str, self._same_page_offsets))
                raise ResponseValidationError(
                    f"GET {self.path} returned the same page for offsets {offsets}: "
                    "the server ignores offset, so paging stops here",
                    method="GET",
                    url=self.path,
                    response=None,
                    field="offset",
                    value=self.offset,
                )
        else:
            self._same_page_offsets = [self.offset]
        self._previous_ids = ids
        if repeated:
            # Jobs entered above and moved the page down onto this offset: every job
            # on it was on the previous page; one may have been skipped past it.
            self.shifted = True
        elif self._ends_at(ids):
            self.done = True
            return []
        total = page.total_count if isinstance(page.total_count, int) else None
        end = self.offset + len(items)
        # A short page proves nothing: servers cap ``limit`` (and may not say so), so
        # without totalCount only an empty page ends the list. After a repeated page
        # totalCount is not trusted: the next page tells a shift from ignored offsets.
        trust_total = self.trusts_total and not repeated
        if not items or (trust_total and total is not None and end >= total):
            self.done = True
        else:
            self.offset = self._next_offset(ids, end)
        return [] if repeated else items

    def _proves_ignored_offset(self) -> bool:
        """Whether ``IDENTICAL_PAGES`` equal pages in a row raise (a user's own listing:
        the server ignores offset) or only end this pass as ``shifted`` (bulk/: a tail
        pushed down by jobs entering, one a page, repeats as often as they enter)."""
        return True

    def _ends_at(self, ids: list[UUID]) -> bool:
        """Whether this (new) page ends the list though it holds jobs (overlap paging)."""
        return False

    def _next_offset(self, ids: list[UUID], end: int) -> int:
        return end
