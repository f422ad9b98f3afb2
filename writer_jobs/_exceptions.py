"""Every exception writer-jobs raises, in one place.

WriterJobsError
├── InvalidArgumentError (also a ValueError): bad input, raised before any network I/O
├── ConfigurationError (also a ValueError): no API key, a refused base URL
├── ClientClosedError (also a RuntimeError): the client was used after close()
├── WaitTimeoutError (also a TimeoutError): wait() passed its deadline
├── RunInProgressError (also a RuntimeError): another retry_failed run holds the application
└── APIError: anything that went wrong talking to the API
    ├── APIStatusError: the API answered with a non-2xx status
    │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
    │   ├── NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
    │   └── RateLimitError 429, InternalServerError >= 500
    ├── APIConnectionError: no (complete) answer: refused, reset, cut short
    │   └── APITimeoutError
    ├── RetryOutcomeUnknownError: a retry may have taken effect and the job failed again
    └── ResponseValidationError: a 2xx whose body breaks the spec
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # no runtime import: `from writer_jobs import WriterJobsError` stays light
    import httpx

    from writer_jobs._generated.models import JobDetails

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "Hint",
    "InternalServerError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryOutcomeUnknownError",
    "RunInProgressError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WriterJobsError",
]


class Hint(enum.Enum):
    """What a person can do about an error, named once where it is raised. ``str()``
    of the error ends with it in the library's words (the value); a front end says it
    in its own (the CLI names its flags): ``error.explain(words)``."""

    PASS_API_KEY = "pass api_key= or set the WRITER_API_KEY environment variable"  # noqa: S105
    KEY_NOT_IN_URL = "pass api_key= instead"
    USE_HTTPS = "Use https://, or pass allow_insecure_http=True if you really mean it"
    CHECK_THE_JOB = "check it with get() before retrying it yourself"


class WriterJobsError(Exception):
    """Base of every error raised by writer-jobs. ``hint``: what to do about it, when
    known (a ``Hint``); ``problem``: the message without it."""

    def __init__(self, *args: object, hint: Hint | None = None) -> None:
        super().__init__(*args)
        self.hint = hint

    @property
    def problem(self) -> str:
        """What went wrong, without the hint."""
        return super().__str__()

    def explain(self, hint_words: str | None) -> str:
        """The problem followed by ``hint_words`` (another wording of the hint)."""
        problem = self.problem
        if not hint_words:
            return problem
        return f"{problem} {hint_words}" if problem.endswith(".") else f"{problem}; {hint_words}"

    def __str__(self) -> str:
        return self.explain(None if self.hint is None else self.hint.value)


class InvalidArgumentError(WriterJobsError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class ConfigurationError(WriterJobsError, ValueError):
    """The client cannot be configured as asked (no API key, a refused base URL...)."""


class ClientClosedError(WriterJobsError, RuntimeError):
    """The client was used after ``close()``/``aclose()``."""


class WaitTimeoutError(WriterJobsError, TimeoutError):
    """``wait()`` reached its deadline before the job finished; ``last_job`` is the last
    state seen (``None`` if no poll completed)."""

    def __init__(self, message: str, *, last_job: JobDetails | None) -> None:
        super().__init__(message)
        self.last_job = last_job


class APIError(WriterJobsError):
    """Something went wrong talking to the API: ``method`` and ``url`` name the request,
    ``attempts`` is how many were made."""

    def __init__(
        self, message: str, *, method: str, url: str, attempts: int = 1, hint: Hint | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.message = message
        self.method = method
        self.url = url
        self.attempts = attempts

    @property
    def problem(self) -> str:
        return self.message  # notes added to it included


class APIStatusError(APIError):
    """The API answered with a non-2xx status: ``status_code``, ``response``, Writer's
    error body as ``error_type`` (its ``tpe``), ``error_key``, ``error_descriptions``
    (``error_body`` raw), and ``request_id`` and ``retry_after`` (seconds) when sent."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        response: httpx.Response,
        error_type: str | None = None,
        error_key: str | None = None,
        error_descriptions: tuple[str, ...] = (),
        error_body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.response = response
        self.status_code = response.status_code
        self.error_type = error_type
        self.error_key = error_key
        self.error_descriptions = error_descriptions
        self.error_body = error_body
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: the API rejected the request's parameters."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the API key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such job or application."""


class ConflictError(APIStatusError):
    """409: e.g. a job is already running for the application. Not retried."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was understood but cannot be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""


class InternalServerError(APIStatusError):
    """A 5xx (or any status >= 500): the server failed."""


class APIConnectionError(APIError):
    """No complete answer: connection refused, reset, closed or cut mid-body.
    ``may_have_been_processed``: the request may have reached the server."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        may_have_been_processed: bool,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.may_have_been_processed = may_have_been_processed


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, write, read or waiting for a pooled connection)."""


class ServiceUnavailableError(APIError):
    """Bulk work stopped: the service did not answer (503s, connections failing or
    timing out) for ``unavailable_for`` seconds in a row, past ``max_unavailable``
    (``answered``: it had answered since the run began, an outage), or never answered
    since the run began (``answered`` False: a wrong address, a service not running).
    A run with a journal resumes from it when run again."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        unavailable_for: float,
        reason: str,
        answered: bool = True,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.unavailable_for = unavailable_for
        self.reason = reason
        self.answered = answered


class RetryOutcomeUnknownError(APIError):
    """``retry()`` cannot tell whether an earlier POST, whose answer was lost, took
    effect: the job is ``failed``, perhaps re-triggered by it and failed again since.
    Rather than risk triggering it twice, no POST is sent. ``job``: the job as the check
    GET saw it; ``retriggered``: True when the server's own timestamps show a re-trigger
    (by this client or another) after the reference point, False when it cannot tell."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        job: JobDetails,
        retriggered: bool,
        attempts: int = 1,
    ) -> None:
        super().__init__(
            message, method=method, url=url, attempts=attempts, hint=Hint.CHECK_THE_JOB
        )
        self.job = job
        self.retriggered = retriggered
        self.may_have_been_processed = True


class RunInProgressError(WriterJobsError, RuntimeError):
    """Another ``retry_failed`` run on this machine works on the same application and
    base URL (or the same journal); ``holder`` describes it (pid, host, start time,
    journal) as far as it could be read."""

    def __init__(self, message: str, *, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


class ResponseValidationError(APIError):
    """A response that breaks the spec: bad JSON, a missing field, a wrong type, a body
    over the size limit (an enum value the spec does not list is kept: a newer server).
    ``response`` is the raw response; ``field`` and ``value`` say what was wrong, if known."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        response: httpx.Response | None,
        field: str | None = None,
        value: Any = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.response = response
        self.field = field
        self.value = value


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP status (any integer, not only known ones)."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)
