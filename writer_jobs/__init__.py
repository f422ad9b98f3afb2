"""writer-jobs: a typed, retry-safe client for the Writer async jobs API.

    from writer_jobs import JobsClient, JobStatus

    with JobsClient() as client:          # WRITER_API_KEY, WRITER_BASE_URL
        job = client.retry("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
        done = client.wait(job.id, timeout=600)

``Job``, ``JobDetails`` and ``JobStatus`` are the classes generated from
openapi.yaml, under readable names. Every error is a ``WriterJobsError``.

Names are loaded on first use (PEP 562): ``import writer_jobs`` costs almost
nothing, and a script or CLI pays for httpx only when it makes a client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXCEPTIONS = (
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryOutcomeUnknownError",
    "RunInProgressError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WriterJobsError",
)
_WHERE: dict[str, str] = {
    "JobsClient": "writer_jobs._client",
    "AsyncJobsClient": "writer_jobs._async_client",
    "BulkSummary": "writer_jobs._bulk",
    "JobOutcome": "writer_jobs._bulk",
    "Outcome": "writer_jobs._bulk",
    **dict.fromkeys(
        ("Job", "JobDetails", "JobInput", "JobResult", "JobStatus"), "generated_client.models"
    ),
    **dict.fromkeys(_EXCEPTIONS, "writer_jobs._exceptions"),
}

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncJobsClient",
    "AuthenticationError",
    "BadRequestError",
    "BulkSummary",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidArgumentError",
    "Job",
    "JobDetails",
    "JobInput",
    "JobOutcome",
    "JobResult",
    "JobStatus",
    "JobsClient",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RetryOutcomeUnknownError",
    "RunInProgressError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WriterJobsError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'writer_jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:
    from generated_client.models import Job, JobDetails, JobInput, JobResult, JobStatus

    from ._async_client import AsyncJobsClient
    from ._bulk import BulkSummary, JobOutcome, Outcome
    from ._client import JobsClient
    from ._exceptions import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConfigurationError,
        ConflictError,
        InternalServerError,
        InvalidArgumentError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseValidationError,
        RetryOutcomeUnknownError,
        RunInProgressError,
        UnprocessableEntityError,
        WaitTimeoutError,
        WriterJobsError,
    )
