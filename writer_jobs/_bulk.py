"""Retrying every failed job of an application: the journal, the pacing, the per-job
decisions and the summary, with no I/O of their own (the clients drive them)."""

from __future__ import annotations

import array
import datetime
import enum
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import attrs
import httpx

from generated_client.models import JobDetails, JobStatus
from generated_client.types import Unset

from . import _engine
from ._config import ClientConfig
from ._exceptions import (
    APIError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    WaitTimeoutError,
)

#: How far the server's clock may lag ours when judging "re-triggered since we started".
CLOCK_SKEW = datetime.timedelta(seconds=2)


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
            data["message"] = self.message
        if self.resumed:
            data["resumed"] = True
        return data


@attrs.frozen
class BulkSummary:
    """What a retry_failed run did."""

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
    #: Requests that failed in a way worth retrying (408/429/5xx, connection errors).
    transient_failures: int
    #: Requests this run sent.
    requests: int

    @property
    def ok(self) -> bool:
        """True when no job ended in an error."""
        return not self.outcomes.get(Outcome.ERROR.value)

    def to_json(self) -> dict[str, Any]:
        return {"event": "summary", **attrs.asdict(self), "ok": self.ok}


class Journal:
    """An append-only JSON-lines record of a run, flushed line by line.

    Before a job is retried a ``started`` line is written; after, its outcome. On
    reopening, jobs with a final outcome are skipped, and jobs that were started
    (or errored, or whose line was cut by a crash) are checked with a GET before
    any retry.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self.final: set[UUID] = set()
        self.unsettled: dict[UUID, Resume] = {}
        self.cut_lines = 0
        self._file: IO[str] | None = None
        if self.path is not None:
            self._load(self.path)
            self._file = self.path.open("a", encoding="utf-8")

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            # A line cut by a crash: end it, so the next line starts clean.
            with path.open("ab") as f:
                f.write(b"\n")
        for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                job_id = UUID(entry["job_id"])
                event = entry["event"]
            except (ValueError, KeyError, TypeError):
                self.cut_lines += 1
                continue
            if event == "started":
                try:
                    at = datetime.datetime.fromisoformat(entry["at"])
                except (KeyError, TypeError, ValueError):
                    at = datetime.datetime.now(datetime.UTC)
                listed = entry.get("listed_updated_at")
                listed = float(listed) if isinstance(listed, int | float) else None
                self.final.discard(job_id)
                self.unsettled[job_id] = Resume(at, listed)
            elif event == "outcome" and entry.get("final"):
                self.final.add(job_id)
                self.unsettled.pop(job_id, None)
            elif event != "outcome":
                raise InvalidArgumentError(
                    f"{path}:{number} is not a writer-jobs journal line, received {line[:80]!r}"
                )

    def write(self, entry: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Pacer:
    """Spaces requests to stay under ``per_minute`` for the whole run; on a 429 it
    halves the pace, then recovers a little with every success (AIMD)."""

    def __init__(
        self, per_minute: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_rate = None if per_minute is None else per_minute / 60.0
        self.rate = self.max_rate
        self.rate_limited = 0
        self.transient_failures = 0
        self.requests = 0
        self._clock = clock
        self._next = 0.0
        self._last_halving = -1e9
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Claim the next slot; returns how long to wait before sending."""
        with self._lock:
            self.requests += 1
            if self.rate is None:
                return 0.0
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
            return slot - now

    def observe(self, outcome: httpx.Response | Exception | None) -> None:
        status = outcome.status_code if isinstance(outcome, httpx.Response) else None
        with self._lock:
            if status in _engine.RETRYABLE_STATUSES or isinstance(outcome, httpx.TransportError):
                self.transient_failures += 1
            if status == 429:
                self.rate_limited += 1
                now = self._clock()
                # One halving per burst: the workers that hit the same limit together
                # count as one signal, not as sixteen.
                if (
                    self.rate is not None
                    and self.max_rate is not None
                    and (now - self._last_halving > 1.0)
                ):
                    self.rate = max(self.rate / 2, self.max_rate / 64)
                    self._last_halving = now
            elif self.rate is not None and self.max_rate is not None and self.rate < self.max_rate:
                self.rate = min(self.max_rate, self.rate + self.max_rate / 100)


def _error(
    outcome: Outcome,
    job_id: UUID,
    exc: Exception,
    status: JobStatus | None = None,
    resumed: bool = False,
) -> JobOutcome:
    return JobOutcome(job_id, outcome, status, type(exc).__name__, str(exc), resumed)


@attrs.frozen
class Resume:
    """What the journal says of a job an earlier run started but did not finish."""

    started_at: datetime.datetime
    #: The job's updated_at when that run listed it (None if it was not recorded).
    listed_updated_at: float | None


def _timestamp(value: datetime.datetime | Unset) -> float | None:
    return None if isinstance(value, Unset) else value.timestamp()


def _retriggered_since(details: JobDetails, resume: Resume) -> bool:
    """Was this (failed) job re-triggered after the earlier run listed it?"""
    updated = _timestamp(details.updated_at)
    if updated is None:
        return False
    if resume.listed_updated_at is not None:
        # Exact: the server's own timestamp moved since the listing.
        return abs(updated - resume.listed_updated_at) > 1e-6
    return updated >= (resume.started_at - CLOCK_SKEW).timestamp()


def job_flow(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    wait: bool,
    wait_timeout: float | None,
    resume: Resume | None,
) -> _engine.Flow[JobOutcome]:
    """Retry one failed job safely and say what happened; never raises APIError."""
    resumed = resume is not None
    status: JobStatus | None = None
    try:
        if resume is not None:
            # An earlier run may have re-triggered it: look before touching it.
            details = yield from _engine.execute(_engine.get_call(job_id), config, timeout)
            status = details.status
            if status is JobStatus.FAILED and not _retriggered_since(details, resume):
                job = yield from _engine.retry_flow(job_id, config, timeout)
                status = job.status
        else:
            job = yield from _engine.retry_flow(job_id, config, timeout)
            status = job.status
    except NotFoundError as exc:
        return _error(Outcome.NOT_FOUND, job_id, exc, resumed=resumed)
    except (ConflictError, BadRequestError) as exc:
        # Refused: most likely no longer failed. Say so only once a GET shows it.
        try:
            details = yield from _engine.execute(_engine.get_call(job_id), config, timeout)
        except APIError:
            return _error(Outcome.ERROR, job_id, exc, resumed=resumed)
        if details.status is JobStatus.FAILED:
            return _error(Outcome.ERROR, job_id, exc, details.status, resumed)
        return JobOutcome(job_id, Outcome.NOT_FAILED, details.status, resumed=resumed)
    except APIError as exc:
        return _error(Outcome.ERROR, job_id, exc, status, resumed)
    if wait and status is JobStatus.IN_PROGRESS:
        try:
            details = yield from _engine.wait_flow(
                job_id, config, timeout, deadline_seconds=wait_timeout
            )
            status = details.status
        except (APIError, WaitTimeoutError) as exc:
            # Re-triggered all the same: final, so a rerun does not trigger it again.
            return JobOutcome(
                job_id, Outcome.RETRIED, status, type(exc).__name__, str(exc), resumed
            )
    return JobOutcome(job_id, Outcome.RETRIED, status, resumed=resumed)


class BulkRun:
    """The state of one retry_failed run, shared by the sync and async drivers."""

    def __init__(
        self,
        config: ClientConfig,
        timeout: httpx.Timeout | None,
        *,
        journal: str | os.PathLike[str] | None,
        wait: bool,
        wait_timeout: float | None,
        rate_limit: float | None,
        on_outcome: Callable[[JobOutcome], None] | None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.wait = wait
        self.wait_timeout = wait_timeout
        self.on_outcome = on_outcome
        self.journal = Journal(journal)
        self.pacer = Pacer(rate_limit)
        self.started = time.monotonic()
        self.listed: list[UUID] = []
        # updated_at of each listed job (NaN: unknown), aligned with ``listed``: 8 bytes a job.
        self.listed_updated = array.array("d")
        self._seen: set[UUID] = set()
        self.skipped = 0
        self.outcomes: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.todo_count = 0
        self._lock = threading.Lock()

    def add_listed(self, jobs: Iterable[JobDetails]) -> None:
        for job in jobs:
            if job.id not in self._seen:
                self._seen.add(job.id)
                self.listed.append(job.id)
                updated = _timestamp(job.updated_at)
                self.listed_updated.append(math.nan if updated is None else updated)

    def todo(self) -> Iterator[tuple[UUID, float | None, Resume | None]]:
        """Every job to handle, once: listed ones not yet final, then unsettled ones
        from the journal that the listing no longer shows (they may be in progress).
        Counts them (``todo_count``, ``skipped``) at once; yields them lazily."""
        final, unsettled = self.journal.final, self.journal.unsettled
        self.skipped = sum(1 for job_id in self.listed if job_id in final)
        extra = [j for j in unsettled if j not in self._seen and j not in final]
        self.todo_count = len(self.listed) - self.skipped + len(extra)

        def jobs() -> Iterator[tuple[UUID, float | None, Resume | None]]:
            for job_id, updated in zip(self.listed, self.listed_updated, strict=True):
                if job_id not in final:
                    yield job_id, None if math.isnan(updated) else updated, unsettled.get(job_id)
            for job_id in extra:
                yield job_id, None, unsettled[job_id]

        return jobs()

    def flow(
        self, job_id: UUID, listed_updated_at: float | None, resume: Resume | None
    ) -> _engine.Flow[JobOutcome]:
        """The job's flow, after writing (and flushing) that it is about to start."""
        entry: dict[str, Any] = {
            "event": "started",
            "job_id": str(job_id),
            "at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        if resume is not None and resume.listed_updated_at is not None:
            listed_updated_at = resume.listed_updated_at  # keep the earliest known state
        if listed_updated_at is not None:
            entry["listed_updated_at"] = listed_updated_at
        with self._lock:
            self.journal.write(entry)
        return job_flow(
            job_id,
            self.config,
            self.timeout,
            wait=self.wait,
            wait_timeout=self.wait_timeout,
            resume=resume,
        )

    def record(self, outcome: JobOutcome) -> None:
        with self._lock:
            self.journal.write(outcome.to_json())
            self.outcomes[outcome.outcome.value] = self.outcomes.get(outcome.outcome.value, 0) + 1
            if outcome.status is not None:
                key = outcome.status.value
                self.statuses[key] = self.statuses.get(key, 0) + 1
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def summary(self) -> BulkSummary:
        return BulkSummary(
            total=self.todo_count + self.skipped,
            skipped=self.skipped,
            outcomes=dict(self.outcomes),
            statuses=dict(self.statuses),
            elapsed=time.monotonic() - self.started,
            rate_limited=self.pacer.rate_limited,
            transient_failures=self.pacer.transient_failures,
            requests=self.pacer.requests,
        )

    def close(self) -> None:
        self.journal.close()
