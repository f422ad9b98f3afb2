"""The fake's in-memory state and semantics, with no HTTP: what each operation does."""

from __future__ import annotations

import datetime
import heapq
import itertools
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from writer_jobs._generated.models import (
    ErrorBody,
    ErrorDetail,
    Job,
    JobDetails,
    JobResult,
    JobStatus,
)
from writer_jobs._generated.types import UNSET

#: The clock's resolution: a job that fails again does so at least this long after its retry.
_TICK = datetime.timedelta(microseconds=1)


class StoreError(Exception):
    """An operation refused, as Writer would: HTTP status, error type, key and description."""

    def __init__(self, status: int, tpe: str, key: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.tpe = tpe
        self.key = key
        self.description = description

    def body(self) -> dict[str, Any]:
        """Writer's documented error body, built with the generated models."""
        detail = ErrorDetail(description=self.description, key=self.key)
        return ErrorBody(tpe=self.tpe, errors=[detail]).to_dict() | {"extras": {}}


def _truncate(moment: datetime.datetime, resolution: float) -> datetime.datetime:
    if not resolution:
        return moment
    epoch = moment.timestamp()
    return datetime.datetime.fromtimestamp(epoch - epoch % resolution, moment.tzinfo)


@attrs.define
class FakeJob:
    id: uuid.UUID
    application_id: str
    status: JobStatus
    created_at: datetime.datetime
    updated_at: datetime.datetime
    completed_at: datetime.datetime | None = None
    error: str | None = None
    result: str | None = None
    inputs: list[dict[str, Any]] = attrs.field(factory=list)
    retries: int = 0

    def job(self) -> Job:
        return Job(id=self.id, status=self.status, created_at=self.created_at)

    def details(self, *, updated_at: bool = True, resolution: float = 0.0) -> JobDetails:
        """The job's body; ``updated_at=False`` leaves that optional field out;
        ``resolution`` (seconds) truncates its timestamps, as a server storing whole
        seconds does."""
        details = JobDetails(
            id=self.id,
            status=self.status,
            application_id=self.application_id,
            created_at=_truncate(self.created_at, resolution),
            updated_at=_truncate(self.updated_at, resolution) if updated_at else UNSET,
        )
        if self.completed_at is not None:
            details.completed_at = _truncate(self.completed_at, resolution)
        if self.error is not None:
            details.error = self.error
        if self.result is not None:
            details.data = JobResult(suggestion=self.result, title="output")
        return details


class JobStore:
    """Jobs by id and by (application, status), in the order they entered that status.

    A job created or retried is ``in_progress`` for ``delay`` seconds, then
    ``failed`` with probability ``failure_ratio`` (drawn from a seeded RNG) or
    ``completed``. With ``fail_again_after`` set, a retried job instead fails again
    that many seconds after the retry (its ``updated_at`` is that moment, always
    later than the retry's, unless ``fail_again_clock_offset`` shifts it: seconds
    added to a re-failure's timestamp, a job clock disagreeing with the one that
    stamped the failure retried). ``clock_offset`` shifts every timestamp (seconds;
    negative: the server's clock is behind). Thread-safe: the server and the test
    thread both use it.
    """

    def __init__(
        self,
        *,
        delay: float | tuple[float, float] = 1.0,
        failure_ratio: float = 0.0,
        seed: int = 0,
        conflict_on_running: bool = False,
        clock: Callable[[], float] = time.monotonic,
        clock_offset: float = 0.0,
        fail_again_after: float | None = None,
        fail_again_clock_offset: float = 0.0,
    ) -> None:
        if fail_again_after is not None and fail_again_after < 0:
            raise ValueError(f"fail_again_after must be >= 0, received {fail_again_after!r}")
        self.delay = delay
        #: List jobs newest ``updated_at`` first (the real API's order) rather than in
        #: the order they entered their status.
        self.newest_first = False
        self.fail_again_after = fail_again_after
        #: Seconds added to a re-failure's timestamp: the job clock that stamps it
        #: disagrees with the one that stamped the failure retried (negative: behind).
        self._fail_again_offset = datetime.timedelta(seconds=fail_again_clock_offset)
        self._offset = datetime.timedelta(seconds=clock_offset)
        self.failure_ratio = failure_ratio
        self.conflict_on_running = conflict_on_running
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._jobs: dict[uuid.UUID, FakeJob] = {}
        self._index: dict[tuple[str, JobStatus], dict[uuid.UUID, None]] = {}
        self._due: list[tuple[float, int, uuid.UUID]] = []
        self._tiebreak = itertools.count()
        #: Retried jobs that will fail again, with the moment they fail.
        self._fail_again: dict[uuid.UUID, datetime.datetime] = {}

    def now(self) -> datetime.datetime:
        """The server's clock: UTC now plus ``clock_offset``."""
        return datetime.datetime.now(datetime.UTC) + self._offset

    # --- state changes -------------------------------------------------------------
    def _move(self, job: FakeJob, status: JobStatus, at: datetime.datetime | None = None) -> None:
        self._index.get((job.application_id, job.status), {}).pop(job.id, None)
        job.status = status
        job.updated_at = at or self.now()
        self._index.setdefault((job.application_id, status), {})[job.id] = None

    def _start(self, job: FakeJob, fail_again: bool = False, ago: float = 0.0) -> None:
        self._move(job, JobStatus.IN_PROGRESS, job.created_at if ago else None)
        job.completed_at = None
        job.error = None
        job.result = None
        delay = self._rng.uniform(*self.delay) if isinstance(self.delay, tuple) else self.delay
        if fail_again and self.fail_again_after is not None:
            delay = self.fail_again_after
            self._fail_again[job.id] = job.updated_at + datetime.timedelta(seconds=delay)
        heapq.heappush(self._due, (self._clock() - ago + delay, next(self._tiebreak), job.id))

    def _settle_due(self) -> None:
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            _, _, job_id = heapq.heappop(self._due)
            job = self._jobs.get(job_id)
            fails_at = self._fail_again.pop(job_id, None)
            if job is None or job.status is not JobStatus.IN_PROGRESS:  # deleted, or ended
                continue
            if fails_at is not None:
                # Settled early (settle_all), it fails now rather than in the future;
                # always at least a tick after the retry (job.updated_at).
                at = max(min(fails_at, self.now()), job.updated_at + _TICK)
                at += self._fail_again_offset
                self._move(job, JobStatus.FAILED, at)
                job.error = "The job failed again after a retry (fake failure)."
            elif self._rng.random() < self.failure_ratio:
                self._move(job, JobStatus.FAILED)
                job.error = "The model timed out while generating (fake failure)."
            else:
                self._move(job, JobStatus.COMPLETED)
                job.result = f"Generated for {job.application_id}"
            job.completed_at = job.updated_at

    # --- operations ------------------------------------------------------------------
    def seed_completed(self, application_id: str, count: int) -> list[uuid.UUID]:
        """Add ``count`` completed jobs that ended minutes to days ago: a long history."""
        with self._lock:
            ids = []
            ages = sorted((self._rng.uniform(60, 3 * 86400) for _ in range(count)), reverse=True)
            for age in ages:
                job = self._new(application_id)
                at = self.now() - datetime.timedelta(seconds=age)
                self._move(job, JobStatus.COMPLETED, at)
                job.created_at = at - datetime.timedelta(seconds=20)
                job.completed_at = at
                job.result = f"Generated for {application_id}"
                ids.append(job.id)
            return ids

    def seed_failed(self, application_id: str, count: int, age: float = 0.0) -> list[uuid.UUID]:
        """Add ``count`` failed jobs to an application, failed ``age`` seconds ago;
        returns their ids."""
        with self._lock:
            ids = []
            for _ in range(count):
                job = self._new(application_id)
                self._move(job, JobStatus.FAILED, self.now() - datetime.timedelta(seconds=age))
                job.error = "Upstream provider error (seeded)."
                job.completed_at = job.updated_at
                ids.append(job.id)
            return ids

    def _new(self, application_id: str, ago: float = 0.0) -> FakeJob:
        now = self.now() - datetime.timedelta(seconds=ago)
        job_id = uuid.UUID(int=self._rng.getrandbits(128), version=4)
        job = FakeJob(job_id, application_id, JobStatus.IN_PROGRESS, now, now)
        self._jobs[job_id] = job
        return job

    def create(
        self, application_id: str, inputs: list[dict[str, Any]], *, ago: float = 0.0
    ) -> FakeJob:
        """A new job, running; ``ago``: created that many seconds before now (another
        program's job, due then)."""
        with self._lock:
            self._settle_due()
            running = self._index.get((application_id, JobStatus.IN_PROGRESS))
            if self.conflict_on_running and running:
                raise StoreError(
                    409,
                    "Conflict",
                    "fail.conflict.jobRunning",
                    f"A job is already running for application {application_id}.",
                )
            job = self._new(application_id, ago)
            job.inputs = inputs
            self._index.setdefault((application_id, JobStatus.IN_PROGRESS), {})[job.id] = None
            self._start(job, ago=ago)
            return job

    def get(self, job_id: uuid.UUID) -> FakeJob:
        with self._lock:
            self._settle_due()
            job = self._jobs.get(job_id)
            if job is None:
                raise StoreError(
                    404, "NotFound", "fail.notFound.resource", f"Job {job_id} not found."
                )
            return job

    def retry(self, job_id: uuid.UUID) -> FakeJob:
        with self._lock:
            job = self.get(job_id)
            if job.status is not JobStatus.FAILED:
                raise StoreError(
                    409,
                    "Conflict",
                    "fail.conflict.jobNotFailed",
                    f"Job {job_id} is {job.status.value}; only failed jobs can be retried.",
                )
            job.retries += 1
            self._start(job, fail_again=True)
            return job

    def list(
        self, application_id: str, status: JobStatus | None, offset: int, limit: int
    ) -> tuple[list[FakeJob], int]:
        with self._lock:
            self._settle_due()
            if status is not None:
                bucket = self._index.get((application_id, status), {})
                if self.newest_first:  # as the real API: pages shift as statuses change
                    ordered = sorted(
                        (self._jobs[i] for i in bucket), key=lambda j: j.updated_at, reverse=True
                    )
                    return ordered[offset : offset + limit], len(bucket)
                page = itertools.islice(bucket, offset, offset + limit)
                return [self._jobs[i] for i in page], len(bucket)
            everything = (
                self._jobs[i] for s in JobStatus for i in self._index.get((application_id, s), {})
            )
            if self.newest_first:  # every list, with a status or without
                jobs = sorted(everything, key=lambda job: job.updated_at, reverse=True)
            else:
                jobs = sorted(everything, key=lambda job: job.created_at)
            return jobs[offset : offset + limit], len(jobs)

    # --- inspection for tests -----------------------------------------------------------
    def job(self, job_id: uuid.UUID) -> FakeJob:
        with self._lock:
            self._settle_due()
            return self._jobs[job_id]

    def counts(self, application_id: str) -> dict[JobStatus, int]:
        with self._lock:
            self._settle_due()
            return {s: len(self._index.get((application_id, s), {})) for s in JobStatus}

    def finish_next(self, application_id: str) -> uuid.UUID | None:
        """End the application's running job due soonest, now (as its delay would:
        completed, or failed as drawn); its id (None: none was running)."""
        with self._lock:
            self._settle_due()
            running = self._index.get((application_id, JobStatus.IN_PROGRESS), {})
            due = [entry for entry in self._due if entry[2] in running]
            if not due:
                return None
            first = min(due)
            self._due.remove(first)
            heapq.heapify(self._due)
            heapq.heappush(self._due, (-math.inf, first[1], first[2]))
            self._settle_due()
            return first[2]

    def delete(self, job_id: uuid.UUID) -> None:
        """Remove a job (deleted by someone, or expired by retention): a GET answers
        404 and no list shows it."""
        with self._lock:
            job = self._jobs.pop(job_id)
            self._index.get((job.application_id, job.status), {}).pop(job_id, None)
            self._fail_again.pop(job_id, None)

    def settle_all(self) -> None:
        """Finish every running job now (for tests that do not want to wait)."""
        with self._lock:
            self._due = [(0.0, t, j) for _, t, j in self._due]
            self._settle_due()
