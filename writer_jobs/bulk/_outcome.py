"""What a run reports: each job's outcome (journal line, ``on_outcome``) and the summary."""

from __future__ import annotations

import enum
from typing import Any
from uuid import UUID

import attrs

from writer_jobs._generated.models import JobStatus


class Outcome(enum.StrEnum):
    """What happened to one job."""

    #: The job was re-triggered (by this run, or by an earlier run of the same journal).
    RETRIED = "retried"
    #: The job was no longer failed, so it was not re-triggered.
    NOT_FAILED = "not_failed"
    #: The API does not know the job.
    NOT_FOUND = "not_found"
    #: Something went wrong; the next run with the same journal checks the job again.
    ERROR = "error"
    #: A dry run: the job would be retried (nothing was sent).
    WOULD_RETRY = "would_retry"


FINAL_OUTCOMES = frozenset({Outcome.RETRIED, Outcome.NOT_FAILED, Outcome.NOT_FOUND})


@attrs.frozen
class JobOutcome:
    """One job's outcome: ``status`` is the last status seen (the final one with wait)."""

    job_id: UUID
    outcome: Outcome
    status: JobStatus | None = None
    error_type: str | None = None
    message: str | None = None
    resumed: bool = False

    @property
    def final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event": "outcome",
            "job_id": str(self.job_id),
            "outcome": self.outcome.value,
            "final": self.final,
            "status": self.status.value if self.status else None,
        }
        if self.error_type:
            data["error_type"] = self.error_type
        if self.message is not None:
            data["message"] = self.message
        if self.resumed:
            data["resumed"] = True
        return data


@attrs.frozen
class BulkSummary:
    """What a retry_failed run did. ``ok`` is the one-word answer: nothing is left to do."""

    #: Failed jobs found, plus jobs an earlier run left unsettled.
    total: int
    #: Jobs skipped because the journal already had their final outcome.
    skipped: int
    #: Outcomes of this run, by outcome name.
    outcomes: dict[str, int]
    #: Last status seen of the jobs this run handled, by status name.
    statuses: dict[str, int]
    elapsed: float
    #: Responses with status 429 seen by this run.
    rate_limited: int
    #: Failed attempts that were retried (408/429/5xx, connection errors).
    transient_failures: int
    #: Requests this run sent.
    requests: int
    #: Failed jobs the selection left out (outside its times or error, over its limit).
    unselected: int = 0
    #: False if the list of failed jobs was still changing when the run stopped listing
    #: (another client retrying them): a job may have been missed; run again.
    listing_settled: bool = True
    #: Seconds the service was unavailable during the run (503s, connections failing):
    #: the run waited them out.
    unavailable_seconds: float = 0.0
    #: Jobs an earlier run of the same journal started but did not finish, which this
    #: run checked with a GET before anything else (part of ``total``; none is sent twice).
    resumed: int = 0
    #: Jobs this run re-triggered that were seen ``failed`` again (with ``wait=True``,
    #: their final status). The same journal never retries them again: a new run
    #: (another journal, or none) does.
    failed_again: int = 0

    @property
    def errors(self) -> int:
        """Jobs whose outcome is ``error`` (the next run with the same journal checks them)."""
        return self.outcomes.get(Outcome.ERROR.value, 0)

    @property
    def ok(self) -> bool:
        """True when every job was handled without error, none failed again and the
        listing held still: nothing is left to retry. (The CLI exits 0 exactly then.)"""
        return not self.errors and not self.failed_again and self.listing_settled

    def to_json(self) -> dict[str, Any]:
        return {"event": "summary", **attrs.asdict(self), "errors": self.errors, "ok": self.ok}


@attrs.frozen
class BulkProgress:
    """Where a retry_failed run stands, told to ``on_progress`` as it moves."""

    #: Jobs to handle so far (this pass and earlier ones), ``resumed`` included.
    total: int
    #: Of ``total``, jobs an earlier run of the same journal started (checked first).
    resumed: int
    #: Jobs whose retry was sent and answered (with ``wait=True``, still running).
    sent: int
    #: Jobs with their outcome recorded (with ``wait=True``, once they ended).
    finished: int


def error_outcome(
    outcome: Outcome,
    job_id: UUID,
    exc: Exception,
    status: JobStatus | None = None,
    resumed: bool = False,
) -> JobOutcome:
    return JobOutcome(job_id, outcome, status, type(exc).__name__, str(exc), resumed)
