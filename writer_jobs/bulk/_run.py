"""One retry_failed run's state: lock and journal, pace and gate, what it recorded."""

from __future__ import annotations

import datetime
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated.models import JobDetails, JobStatus

from .. import _engine
from .._budget import Budget
from .._config import ClientConfig
from .._engine import FINISHED
from .._exactly_once import ServerClock
from .._exceptions import APIError, InvalidArgumentError
from ._availability import Availability
from ._hold import Gate, HoldBack
from ._job import job_flow
from ._journal import Journal, RunLock
from ._outcome import BulkProgress, BulkSummary, JobOutcome, Outcome, error_outcome
from ._selection import Passes, Selection, Todo
from ._watcher import Watcher


class BulkRun:
    """The state of one retry_failed run, shared by the sync and async drivers: its
    lock and journal, its listing passes, its policy (``hold``: pace, gate, outages),
    what it recorded. The plan (``_plan``) says what to do next; the drivers do it.
    """

    def __init__(
        self,
        settings: ClientConfig,
        timeout: httpx.Timeout | None,
        *,
        application_id: str,
        journal: str | os.PathLike[str] | None,
        wait: bool,
        wait_deadline: float | None,
        rate_limit: float | None,
        on_outcome: Callable[[JobOutcome], None] | None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        selection: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = None,
        availability: Availability | None = None,
        pace: Callable[[], float | None] = lambda: None,
        kind: str = "retry-failed",
        keeps: Path | None = None,
    ) -> None:
        #: The pace the client's budget holds to now, requests a minute (None: unpaced).
        self.pace = pace
        self.timeout = timeout
        self.application_id = application_id
        #: Seconds each re-triggered job is watched at most (``wait_deadline``).
        self.wait_deadline = wait_deadline
        self.on_outcome = on_outcome
        self.on_progress = on_progress
        path = None if journal is None else Path(journal)
        if dry_run and path is not None:
            raise InvalidArgumentError(
                "a dry run sends nothing and writes no journal: leave journal out"
            )
        self.dry_run = dry_run
        # Lock first: a second run is told which run holds the application (a dry run takes
        # none): its ``kind``, and the file that keeps its place (``keeps``: its journal's
        # when not given).
        self.lock = (
            None
            if dry_run
            else RunLock(settings.base_url, application_id, keeps or path, kind=kind)
        )
        try:
            self.journal = Journal(
                path,
                application_id=application_id,
                base_url=settings.base_url,
                selection=selection.to_json() if selection else None,
            )
        except BaseException:
            if self.lock is not None:
                self.lock.release()
            raise
        #: The listing passes: which failed jobs the run hands to its workers.
        self.passes = Passes(application_id, self.journal, dry_run=dry_run)
        self.server_clock = ServerClock()
        self.gate = Gate()
        #: The run's policy: its own cap (``rate_limit``) on top of the client's budget,
        #: its stop, outages waited out for up to ``max_unavailable``.
        self.hold = HoldBack(
            availability or Availability(),
            settings.base_url,
            max_unavailable=max_unavailable,
            journal=path is not None,
            pacer=Budget(rate_limit, burst=1, learn=False),
            gate=self.gate,
            on_answer=self.answered,
        )
        #: What the run's flows run with: its policy (and no call deadline: ``settings``'s).
        self.config = attrs.evolve(settings, retries=self.hold)
        #: With wait=True: the jobs this run re-triggered, followed to their end.
        self.watcher = Watcher(application_id) if wait else None
        self._watching: dict[UUID, tuple[JobOutcome, float | None]] = {}
        self.started = time.monotonic()
        self.outcomes: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.failed_again = 0
        self.sent = 0
        self.finished = 0
        self._lock = threading.Lock()
        #: Threads of this run still running; the run lock outlives the call until they end.
        self._threads = 0
        self._closed = False
        #: Where the run's answered requests are counted, for a resume (None: no journal).
        self.sent_lines = None if path is None else self.journal.sent

    def answered(self, response: httpx.Response) -> None:
        """Every response a request of the run got (the run's policy tells it)."""
        self.server_clock.observe(response)
        if response.status_code != 429:  # a place it took in the account's window
            self._count_sent()

    def _count_sent(self) -> None:
        """One more answered request: a resume counts them as its own in the account's
        window (``_sent``; under the run's lock, as every journal line)."""
        if self.sent_lines is None:
            return
        with self._lock:
            self.sent_lines.count()

    def start_job(self, item: Todo) -> _engine.Flow[JobOutcome]:
        """Write (and flush) the job's ``started`` line, then return its flow."""
        job_id, updated_before, resume = item
        entry: dict[str, Any] = {
            "event": "started",
            "job_id": str(job_id),
            "at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        server_at_least = self.server_clock.at_least()
        if resume is not None:
            # Keep what the first run knew, even nothing: a later listing or clock may
            # already show that run's POST, and would then "prove" it never landed.
            updated_before, server_at_least = resume.updated_before, resume.server_at_least
        if updated_before is not None:
            entry["listed_updated_at"] = updated_before
        if server_at_least is not None:
            entry["server_at_least"] = server_at_least
        with self._lock:
            self.gate.check()  # stopped: no started line, no request
            self.journal.write(entry)
        return job_flow(
            job_id, self.config, self.timeout, updated_before=updated_before, resume=resume
        )

    def progress(self) -> BulkProgress:
        passes = self.passes
        return BulkProgress(passes.todo_count, passes.resumed, self.sent, self.finished)

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
        before = listed if listed is not None else (resume.updated_before if resume else None)
        until = None if self.wait_deadline is None else time.monotonic() + self.wait_deadline
        with self._lock:
            self._watching[outcome.job_id] = (outcome, until)
            self.watcher.add(outcome.job_id, before)

    def ended(self, jobs: Iterable[JobDetails]) -> None:
        """The watcher saw these jobs end: record each with its final status."""
        for job in jobs:
            with self._lock:
                outcome, _ = self._watching.pop(job.id)
            self.record(attrs.evolve(outcome, status=job.status))

    def gone(self, jobs: Mapping[UUID, APIError]) -> None:
        """Watched jobs a GET answered 404 for (deleted, or expired): recorded not_found."""
        for job_id, exc in jobs.items():
            with self._lock:
                outcome, _ = self._watching.pop(job_id)
            self.record(error_outcome(Outcome.NOT_FOUND, job_id, exc, resumed=outcome.resumed))

    def expire(self) -> None:
        """Jobs watched past their deadline: recorded as re-triggered, still running."""
        if self.watcher is None:
            return
        now = time.monotonic()
        with self._lock:
            late = [j for j, (_, end) in self._watching.items() if end and end <= now]
            outcomes = [self._watching.pop(j)[0] for j in late]
            self.watcher.drop(late)
        for outcome in outcomes:
            status = "unknown" if outcome.status is None else outcome.status.value
            message = (
                f"job {outcome.job_id} was still {status} when wait_deadline "
                f"({self.wait_deadline:g} s) passed; it was re-triggered"
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

    def summary(self) -> BulkSummary:
        """The run's summary."""
        passes = self.passes
        return BulkSummary(
            total=passes.todo_count + passes.skipped,
            skipped=passes.skipped,
            outcomes=dict(self.outcomes),
            statuses=dict(self.statuses),
            elapsed=time.monotonic() - self.started,
            rate_limited=self.hold.pacer.rate_limited if self.hold.pacer else 0,
            transient_failures=self.hold.transient_failures,
            requests=self.hold.requests,
            unselected=passes.unselected,
            listing_settled=passes.listing_settled,
            resumed=passes.resumed,
            failed_again=self.failed_again,
            unavailable_seconds=self.hold.unavailable_seconds,
        )

    def record_preview(self) -> None:
        """A dry run: each selected job, as ``would_retry`` with its error text."""
        for job in self.passes.preview:  # empty unless a dry run
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
            # Closed first: a second Ctrl-C (or a failing write) landing below must not
            # leave the lock to a last thread that already left.
            self._closed = True
            release = not self._threads
            try:
                if self.sent_lines is not None:
                    self.sent_lines.flush()
                self.journal.close()
            finally:
                if release and self.lock is not None:
                    self.lock.release()
