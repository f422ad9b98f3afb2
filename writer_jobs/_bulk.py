"""Retrying every failed job of an application: the journal, the pacing, the per-job
decisions and the summary, with no I/O of their own (the clients drive them)."""

from __future__ import annotations

import array
import datetime
import enum
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import httpx

from generated_client.models import JobDetails, JobStatus

from . import _engine
from ._budget import Budget
from ._config import ClientConfig
from ._exceptions import (
    APIError,
    BadRequestError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    ResponseValidationError,
    RetryOutcomeUnknownError,
)
from ._journal import Journal, Resume, RunLock
from ._watch import FINISHED, Watcher

_log = logging.getLogger("writer_jobs")


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


@attrs.frozen
class Selection:
    """Which failed jobs a run retries: failed (``updated_at``) at or after
    ``failed_since`` and before ``failed_before``, with an error matching the regular
    expression ``error_matches`` (searched), at most ``limit`` of them (counting the
    jobs an earlier run of the same journal took). A job whose listing lacks what a
    criterion needs is not selected. Recorded in the journal: a resume keeps it."""

    failed_since: datetime.datetime | None = None
    failed_before: datetime.datetime | None = None
    error_matches: str | None = None
    limit: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.error_matches is not None:
            try:
                re.compile(self.error_matches)
            except re.error as exc:
                raise InvalidArgumentError(
                    f"error_matches is not a regular expression ({exc}), "
                    f"received {self.error_matches!r}"
                ) from None
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise InvalidArgumentError(f"limit must be >= 1, received {self.limit!r}")
        for name in ("failed_since", "failed_before"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime.datetime):
                raise InvalidArgumentError(
                    f"{name} must be a datetime, received {type(value).__name__}: {value!r}"
                )

    def matches(self, job: JobDetails) -> bool:
        updated = _engine.epoch(job.updated_at)
        for bound, after in ((self.failed_since, True), (self.failed_before, False)):
            if bound is not None:
                limit = _engine.epoch(bound)
                if updated is None or limit is None or (updated < limit) == after:
                    return False
        if self.error_matches is None:
            return True
        return isinstance(job.error, str) and re.search(self.error_matches, job.error) is not None

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self, value_serializer=_iso_value)
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Selection | None:
        if not data:
            return None
        times = {
            k: datetime.datetime.fromisoformat(data[k])
            for k in ("failed_since", "failed_before")
            if data.get(k)
        }
        return cls(**{**data, **times})


def _iso_value(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.isoformat()
    return value


def _error(
    outcome: Outcome,
    job_id: UUID,
    exc: Exception,
    status: JobStatus | None = None,
    resumed: bool = False,
) -> JobOutcome:
    return JobOutcome(job_id, outcome, status, type(exc).__name__, str(exc), resumed)


class ServerClock:
    """A lower bound of the server's clock, from the ``Date`` headers of the run's
    responses: the client's own clock is never compared with the server's."""

    def __init__(self) -> None:
        # max(Date - monotonic time of reading it): read late, so it errs low.
        self._offset: float | None = None

    def observe(self, response: httpx.Response) -> None:
        date = _engine.server_date(response)
        if date is not None:
            offset = date - time.monotonic()
            if self._offset is None or offset > self._offset:
                self._offset = offset

    def at_least(self) -> float | None:
        """The server's clock now is at least this (epoch seconds); None if unknown."""
        return None if self._offset is None else time.monotonic() + self._offset


def job_flow(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    listed_updated_at: float | None,
    resume: Resume | None,
) -> _engine.Flow[JobOutcome]:
    """Retry one failed job safely and say what happened; never raises APIError."""
    resumed = resume is not None
    status: JobStatus | None = None
    try:
        retry = resume is None
        known = listed_updated_at
        if resume is not None:
            # An earlier run may have re-triggered it: look before touching it.
            details = yield from _engine.execute(_engine.get_call(job_id), config, timeout)
            status = details.status
            if status is JobStatus.FAILED:
                known = _engine.epoch(details.updated_at)
                verdict = None
                if known is not None:
                    verdict = _engine.retriggered_since(
                        known, resume.listed_updated_at, resume.server_at_least
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
            job = yield from _engine.retry_flow(job_id, config, timeout, known_updated_at=known)
            status = job.status
    except RetryOutcomeUnknownError as exc:
        if exc.retriggered:  # re-triggered (the server's timestamps say so), failed again
            return JobOutcome(job_id, Outcome.RETRIED, exc.job.status, resumed=resumed)
        return _error(Outcome.ERROR, job_id, exc, exc.job.status, resumed)
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
    except ResponseValidationError as exc:
        if exc.method == "POST" and exc.response is not None and exc.response.is_success:
            # The server accepted the retry; only its answer is unreadable: never a failure.
            return _error(Outcome.RETRIED, job_id, exc, resumed=resumed)
        return _error(Outcome.ERROR, job_id, exc, status, resumed)
    except APIError as exc:
        return _error(Outcome.ERROR, job_id, exc, status, resumed)
    return JobOutcome(job_id, Outcome.RETRIED, status, resumed=resumed)


class Stopped(Exception):
    """Raised in a worker when its run has stopped: it must send nothing more."""


class Gate:
    """Shut once a run stops: the sync client's threads ask it before each request and
    sleep, so none starts after (one under way may finish); async tasks are cancelled."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def check(self) -> None:
        if self._stopped.is_set():
            raise Stopped

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once when the run stops."""
        if self._stopped.wait(seconds):
            raise Stopped


#: Passes in a row that found nothing new but whose pages shifted, before a run stops
#: listing (and warns): a list another client keeps changing must not hold it forever.
MAX_SHIFTED_PASSES = 5
#: Listing passes a run makes at most: new failures arriving in every pass (a busy
#: application) must not keep it going forever; it ends with listing_settled False.
MAX_PASSES = 20

#: Seconds before listing again after such a pass, doubling each time (1, 2, 4, 8, 16 s):
#: this run's jobs failing again move the list for a while; waiting lets it settle.
SETTLE_PAUSE = 1.0

#: One job to handle: its id, its updated_at when listed, what the journal says of it.
Todo = tuple[UUID, float | None, Resume | None]


class BulkRun:
    """The state of one retry_failed run, shared by the sync and async drivers.

    The drivers list every failed job (a pass), hand this run's new ones to workers,
    then list again until a pass finds no failed job the run has not handled: pages
    that shift while statuses change can hide a job from one pass, not from all.
    """

    def __init__(
        self,
        config: ClientConfig,
        timeout: httpx.Timeout | None,
        *,
        application_id: str,
        journal: str | os.PathLike[str] | None,
        wait: bool,
        wait_timeout: float | None,
        rate_limit: float | None,
        on_outcome: Callable[[JobOutcome], None] | None,
        selection: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = None,
        unavailable_before: float = 0.0,
    ) -> None:
        #: Bulk work: a transient failure holds a request back, for up to
        #: ``max_unavailable`` of continuous unavailability; no call deadline (the
        #: run's own bound is wait_timeout).
        self.config = attrs.evolve(
            config, bulk=True, deadline=None, max_unavailable=max_unavailable
        )
        #: The client's time spent unavailable when the run started.
        self._unavailable_before = unavailable_before
        self.timeout = timeout
        self.application_id = application_id
        self.wait_timeout = wait_timeout
        self.on_outcome = on_outcome
        path = None if journal is None else Path(journal)
        if dry_run and path is not None:
            raise InvalidArgumentError(
                "a dry run sends nothing and writes no journal: leave journal out"
            )
        self.dry_run = dry_run
        #: With a dry run, the jobs that would be retried (their error texts for the preview).
        self.preview: list[JobDetails] = []
        # Lock first: a second run is told which run holds the application (a dry run takes none).
        self.lock = None if dry_run else RunLock(config.base_url, application_id, path)
        try:
            self.journal = Journal(
                path,
                application_id=application_id,
                base_url=config.base_url,
                selection=selection.to_json() if selection else None,
            )
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        self.selection = Selection.from_json(self.journal.selection)
        #: Jobs not selected (outside the times, error or limit), by this run.
        self.unselected = 0
        self._selected = len(self.journal.final | self.journal.unsettled.keys())
        #: This run's own cap (``rate_limit``), on top of the client's budget.
        self.pacer = Budget(rate_limit, burst=1, learn=False)
        self.requests = 0
        #: With wait=True: the jobs this run re-triggered, followed to their end.
        self.watcher = Watcher(application_id) if wait else None
        self._watching: dict[UUID, tuple[JobOutcome, float | None]] = {}
        self.transient_failures = 0
        self.server_clock = ServerClock()
        self.gate = Gate()
        self.started = time.monotonic()
        self.passes = 0
        self.listed: list[UUID] = []
        # updated_at of each listed job (NaN: unknown), aligned with ``listed``: 8 bytes a job.
        self.listed_updated = array.array("d")
        self._seen: set[UUID] = set()
        self.skipped = 0
        self.outcomes: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.todo_count = 0
        self.resumed = 0
        self.failed_again = 0
        self.sent = 0
        self.finished = 0
        self.on_progress: Callable[[BulkProgress], None] | None = None
        self._shifted_passes = 0
        #: False when the run stopped listing while the list still moved (see todo()).
        self.listing_settled = True
        self._lock = threading.Lock()
        #: Threads of this run still running; the run lock outlives the call until they end.
        self._threads = 0
        #: Async tasks of this run with a request out (not cancelled when the run stops).
        self.sending: set[Any] = set()
        self._closed = False

    # --- pacing and the server's clock: every request of the run goes through these --
    def reserve(self) -> float:
        with self._lock:
            self.requests += 1
        return self.pacer.reserve()

    def observe(self, outcome: httpx.Response | Exception | None) -> None:
        self.pacer.observe(outcome)
        if isinstance(outcome, httpx.Response):
            self.server_clock.observe(outcome)

    def sleep_for(self, action: _engine.Sleep) -> None:
        """Count a failure the engine decided to retry (not every failure: a 4xx or a
        refused repeat is not retried)."""
        if action.retry_of is not None:
            with self._lock:
                self.transient_failures += 1

    def add_listed(self, jobs: Iterable[JobDetails]) -> None:
        """Record a page of failed jobs; jobs this run already handled are left out
        (one that failed again after this run re-triggered it is not retried again)."""
        for job in jobs:
            if job.id not in self._seen:
                self._seen.add(job.id)
                # An unsettled job was selected (and counted) by the run that started it.
                journaled = job.id in self.journal.final or job.id in self.journal.unsettled
                if self.selection is not None and not journaled:
                    limit = self.selection.limit
                    if not self.selection.matches(job) or (
                        limit is not None and self._selected >= limit
                    ):
                        self.unselected += 1
                        continue
                    self._selected += 1
                if self.dry_run:
                    self.preview.append(job)
                self.listed.append(job.id)
                updated = _engine.epoch(job.updated_at)
                self.listed_updated.append(math.nan if updated is None else updated)

    def todo(self, shifted: bool = False, unverified: bool = False) -> list[Todo] | None:
        """This pass's jobs to handle: listed ones not yet final, then (first pass only)
        unsettled ones from the journal that the listing does not show (they may be in
        progress). None when the run is complete: the pass found nothing new and its
        pages did not shift (``shifted``: the pager lost its anchor, so a job may have
        been skipped); an empty list: nothing new, but list again."""
        self.passes += 1
        final, unsettled = self.journal.final, self.journal.unsettled
        jobs: list[Todo] = []
        for job_id, updated in zip(self.listed, self.listed_updated, strict=True):
            if job_id in final:
                self.skipped += 1
            else:
                listed = None if math.isnan(updated) else updated
                jobs.append((job_id, listed, unsettled.get(job_id)))
        if self.passes == 1:
            for job_id, resume in unsettled.items():
                if job_id not in self._seen and job_id not in final:
                    self._seen.add(job_id)
                    jobs.append((job_id, None, resume))
        self.listed = []
        self.listed_updated = array.array("d")
        if jobs and self.passes >= MAX_PASSES:
            # New failed jobs in every pass (a busy application): never list forever.
            self.listing_settled = False
            _log.warning(
                "new failed jobs of %s kept appearing (%d listing passes): the run stops "
                "here; run again for the %d found in the last pass",
                self.application_id,
                self.passes,
                len(jobs),
            )
            return None
        self.todo_count += len(jobs)
        self.resumed += sum(1 for _, _, resume in jobs if resume is not None)
        if jobs:
            self._shifted_passes = 0
            return jobs
        if not shifted:
            if unverified:  # a server paging one job at a time: say it was not proved
                self.listing_settled = False
                _log.warning(
                    "the server sent the failed jobs of %s one a page: whether the list "
                    "moved while it was paged cannot be told; a job may not have been seen",
                    self.application_id,
                )
            return None
        self._shifted_passes += 1
        if self._shifted_passes > MAX_SHIFTED_PASSES:
            # Never hang on a list that never holds still: say so, and stop.
            self.listing_settled = False
            _log.warning(
                "the failed jobs of %s kept moving while they were listed (%d passes in a "
                "row): a job that failed meanwhile may not have been seen; run again",
                self.application_id,
                self._shifted_passes,
            )
            return None
        return []

    def settle_pause(self) -> float:
        """How long to wait before listing again after a pass whose pages shifted."""
        return float(SETTLE_PAUSE * 2.0 ** max(self._shifted_passes - 1, 0))

    def flow(
        self, job_id: UUID, listed_updated_at: float | None, resume: Resume | None
    ) -> _engine.Flow[JobOutcome]:
        """The job's flow, after writing (and flushing) that it is about to start."""
        entry: dict[str, Any] = {
            "event": "started",
            "job_id": str(job_id),
            "at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        server_at_least = self.server_clock.at_least()
        if resume is not None:
            # Keep what the first run knew, even nothing: a later listing or clock may
            # already show that run's POST, and would then "prove" it never landed.
            listed_updated_at, server_at_least = resume.listed_updated_at, resume.server_at_least
        if listed_updated_at is not None:
            entry["listed_updated_at"] = listed_updated_at
        if server_at_least is not None:
            entry["server_at_least"] = server_at_least
        with self._lock:
            self.gate.check()  # stopped: no started line, no request
            self.journal.write(entry)
        return job_flow(
            job_id, self.config, self.timeout, listed_updated_at=listed_updated_at, resume=resume
        )

    def progress(self) -> BulkProgress:
        return BulkProgress(self.todo_count, self.resumed, self.sent, self.finished)

    def tell_progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())

    def finish(self, outcome: JobOutcome, item: Todo) -> None:
        """A job's flow ended: record its outcome, or, with wait=True and the job
        running, hand it to the watcher (its outcome is recorded when it ends)."""
        with self._lock:
            self.gate.check()
            self.sent += 1
        self.tell_progress()
        if self.watcher is None or outcome.outcome is not Outcome.RETRIED:
            self.record(outcome)
            return
        if outcome.status in FINISHED:
            self.record(outcome)
            return
        _, listed, resume = item
        since = listed if listed is not None else (resume.listed_updated_at if resume else None)
        expiry = None if self.wait_timeout is None else time.monotonic() + self.wait_timeout
        with self._lock:
            self._watching[outcome.job_id] = (outcome, expiry)
            self.watcher.add(outcome.job_id, since)

    def ended(self, jobs: Iterable[JobDetails]) -> None:
        """The watcher saw these jobs end: record each with its final status."""
        for job in jobs:
            with self._lock:
                outcome, _ = self._watching.pop(job.id)
            self.record(attrs.evolve(outcome, status=job.status))

    def expire(self) -> None:
        """Jobs watched past wait_timeout: recorded as re-triggered, still running."""
        if self.watcher is None:
            return
        now = time.monotonic()
        with self._lock:
            late = [j for j, (_, expiry) in self._watching.items() if expiry and expiry <= now]
            outcomes = [self._watching.pop(j)[0] for j in late]
            self.watcher.drop(late)
        for outcome in outcomes:
            status = "unknown" if outcome.status is None else outcome.status.value
            message = (
                f"job {outcome.job_id} was still {status} when wait_timeout "
                f"({self.wait_timeout:g} s) passed; it was re-triggered"
            )
            self.record(attrs.evolve(outcome, error_type="WaitTimeoutError", message=message))

    def record(self, outcome: JobOutcome) -> None:
        with self._lock:
            # Stopped while this job was under way: its outcome stays unknown (its started
            # line makes the next run check it); nobody is told after the call returned.
            self.gate.check()
            self.journal.write(outcome.to_json())
            self.outcomes[outcome.outcome.value] = self.outcomes.get(outcome.outcome.value, 0) + 1
            if outcome.status is not None:
                key = outcome.status.value
                self.statuses[key] = self.statuses.get(key, 0) + 1
            if outcome.outcome is Outcome.RETRIED and outcome.status is JobStatus.FAILED:
                self.failed_again += 1
            self.finished += 1
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        self.tell_progress()

    def summary(self, unavailable_now: float = 0.0) -> BulkSummary:
        """The run's summary; ``unavailable_now``: the client's time spent unavailable."""
        return BulkSummary(
            total=self.todo_count + self.skipped,
            skipped=self.skipped,
            outcomes=dict(self.outcomes),
            statuses=dict(self.statuses),
            elapsed=time.monotonic() - self.started,
            rate_limited=self.pacer.rate_limited,
            transient_failures=self.transient_failures,
            requests=self.requests,
            unselected=self.unselected,
            listing_settled=self.listing_settled,
            resumed=self.resumed,
            failed_again=self.failed_again,
            unavailable_seconds=max(unavailable_now - self._unavailable_before, 0.0),
        )

    def record_preview(self) -> None:
        """A dry run: each selected job, as ``would_retry`` with its error text."""
        for job in self.preview:  # empty unless a dry run
            error = job.error if isinstance(job.error, str) else None
            self.record(JobOutcome(job.id, Outcome.WOULD_RETRY, job.status, message=error))

    def enter(self) -> None:
        """A thread of this run starts."""
        with self._lock:
            self._threads += 1

    def leave(self) -> None:
        """A thread of this run ended; the last one out of a closed run releases its lock."""
        with self._lock:
            self._threads -= 1
            release = self._closed and not self._threads
        if release and self.lock is not None:
            self.lock.release()

    def hold_until_done(self, task: Any) -> None:
        """An asyncio task of this run, left to finish its request: the run lock is
        held until it ends (its Stopped, or any error, is collected)."""
        self.enter()

        def done(finished: Any) -> None:
            if not finished.cancelled():
                finished.exception()
            self.leave()

        task.add_done_callback(done)

    def close(self) -> None:
        """Stop the run: nothing is sent or written after this. The run lock is released
        now, or by the last of the run's threads still finishing a request: until
        then, a new run on the application could check a job before that request lands."""
        self.gate.stop()
        with self._lock:
            self.journal.close()
            self._closed = True
            release = not self._threads
        if release and self.lock is not None:
            self.lock.release()
