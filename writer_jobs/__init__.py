"""writer-jobs: a typed, retry-safe client for the Writer async jobs API.

    from writer_jobs import JobsClient, JobStatus

    with JobsClient() as client:          # WRITER_API_KEY, WRITER_BASE_URL
        job = client.retry("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
        done = client.wait(job.id, timeout=600)

``Job``, ``JobDetails`` and ``JobStatus`` are the classes generated from
openapi.yaml, under readable names. Every error is a ``WriterJobsError``.
"""

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
    UnprocessableEntityError,
    WaitTimeoutError,
    WriterJobsError,
)

__version__ = "0.1.0"

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
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WriterJobsError",
    "__version__",
]
