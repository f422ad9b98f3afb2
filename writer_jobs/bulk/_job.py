"""One failed job's retry, as a flow: what to send and what its outcome is."""

from __future__ import annotations

from uuid import UUID

import httpx

from writer_jobs._generated.models import JobStatus

from .. import _engine
from .._config import ClientConfig
from .._exactly_once import retriggered_since, retry_flow
from .._exceptions import (
    APIError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    ResponseValidationError,
    RetryOutcomeUnknownError,
)
from .._parse import epoch
from ._journal import Resume
from ._outcome import JobOutcome, Outcome, error_outcome


def job_flow(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    updated_before: float | None,
    resume: Resume | None,
) -> _engine.Flow[JobOutcome]:
    """Retry one failed job safely and say what happened; never raises APIError."""
    resumed = resume is not None
    status: JobStatus | None = None
    try:
        retry = resume is None
        if resume is not None:
            # An earlier run may have re-triggered it: look before touching it, once a
            # POST it had out when it died can no longer land (as after a lost answer).
            yield _engine.Sleep(_engine.REPEAT_SETTLE)
            details = yield from _engine.execute(_engine.get_call(job_id), config, timeout)
            status = details.status
            if status is JobStatus.FAILED:
                # Now the updated_at before this run's trigger (if it triggers one).
                updated_before = epoch(details.updated_at)
                verdict = None
                if updated_before is not None:
                    verdict = retriggered_since(
                        updated_before, resume.updated_before, resume.server_at_least
                    )
                if verdict is None:
                    return JobOutcome(
                        job_id,
                        Outcome.ERROR,
                        status,
                        "RetryOutcomeUnknownError",
                        f"job {job_id} is failed and an earlier run started it, but its "
                        "updated_at cannot prove whether that run re-triggered it: not "
                        "retried, so it is never triggered twice; check it and retry it "
                        "yourself if it was not",
                        resumed,
                    )
                retry = not verdict
        if retry:
            job = yield from retry_flow(job_id, config, timeout, updated_before=updated_before)
            status = job.status
    except RetryOutcomeUnknownError as exc:
        if exc.retriggered:  # re-triggered (the server's timestamps say so), failed again
            return JobOutcome(job_id, Outcome.RETRIED, exc.job.status, resumed=resumed)
        return error_outcome(Outcome.ERROR, job_id, exc, exc.job.status, resumed)
    except NotFoundError as exc:
        return error_outcome(Outcome.NOT_FOUND, job_id, exc, resumed=resumed)
    except (ConflictError, BadRequestError) as exc:
        # Refused: most likely no longer failed. Say so only once a GET shows it.
        try:
            details = yield from _engine.execute(_engine.get_call(job_id), config, timeout)
        except APIError:
            return error_outcome(Outcome.ERROR, job_id, exc, resumed=resumed)
        if details.status is JobStatus.FAILED:
            return error_outcome(Outcome.ERROR, job_id, exc, details.status, resumed)
        return JobOutcome(job_id, Outcome.NOT_FAILED, details.status, resumed=resumed)
    except ResponseValidationError as exc:
        if exc.method == "POST" and exc.response is not None and exc.response.is_success:
            # The server accepted the retry; only its answer is unreadable: never a failure.
            return error_outcome(Outcome.RETRIED, job_id, exc, resumed=resumed)
        return error_outcome(Outcome.ERROR, job_id, exc, status, resumed)
    except APIError as exc:
        return error_outcome(Outcome.ERROR, job_id, exc, status, resumed)
    return JobOutcome(job_id, Outcome.RETRIED, status, resumed=resumed)
