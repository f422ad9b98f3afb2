"""Watching many jobs of one application finish, a round of list pages at a time.

One GET per job per poll spends the budget on watching; a round costs pages instead.
It lists all the ``in_progress`` jobs (a list as long as what runs). A watched job
missing from it has finished, or was missed by a list that shifted while paged. Its
end is proved by seeing it in the ``failed`` or ``completed`` list, read newest first
and only back to the earliest such job's trigger (a long history is never paged
through). A failed entry counts only when newer than the trigger (an older one is the
failure that was retried); one older than the failure retried is a new failure stamped by
a clock behind, counted once a GET confirms it. Where the lists cannot prove an end (no
``updated_at``, a server not listing newest first, a job missing from every list twice),
a GET confirms it. No status is reported that the server did not show for that job
after its trigger. A job whose GET answers 404 (deleted, or expired by retention) is
no longer watched: its owner takes it from ``take_gone()`` and ends it, never the run.

Listed jobs are read by their own status, not by the filter asked for: a server that
ignores ``?status=`` does not keep a finished job "running". Some ends the server's
timestamps can never prove: a failed job whose ``updated_at`` is missing or still the
one before the trigger (frozen, or a retry accepted that did nothing), or a status this
client does not know (the enum is open, e.g. "canceled"). Such a job is reported with
the status a GET shows once ``SETTLE_ROUNDS`` GETs, each after the trigger was
accepted, showed it so and ``SETTLE_SECONDS`` have passed since: a bounded wait, never
a hang (docs/waiting.md says what it trades).

No I/O: ``round()`` is a flow of the engine's kind; the drivers run it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from uuid import UUID

import httpx

from writer_jobs._generated.models import JobDetails, JobList, JobStatus

from .._config import ClientConfig
from .._engine import FINISHED, Call, Flow, Pager, execute, get_call
from .._exactly_once import granularity
from .._exceptions import NotFoundError
from .._parse import epoch

#: A watched job whose end the timestamps cannot prove (see the module) is reported once
#: this many GETs after its trigger showed it so ...
SETTLE_ROUNDS = 3
#: ... and this many seconds have passed since the trigger was accepted: a retry the
#: server applies later than this is not waited for.
SETTLE_SECONDS = 30.0


class _RoundPager(Pager):
    """A round's paging: equal pages in a row never end the run. Jobs ending at the pace
    pages are read push a list's tail down one a page, so it repeats as often as they
    end; a server ignoring offset repeats its first page. Either way the round stops
    paging there: a job it did not see is missed this round, and a GET settles it once
    missed twice (a round never proves an end it did not see)."""

    def _proves_ignored_offset(self) -> bool:
        return False


class Watcher:
    """The jobs of one application being watched, and how to see which ended."""

    def __init__(self, application_id: str, *, page_size: int = 500) -> None:
        self.application_id = application_id
        self.page_size = page_size
        #: job id -> its updated_at (server clock) before the trigger; None if unknown.
        self.pending: dict[UUID, float | None] = {}
        self._missed: dict[UUID, int] = {}
        #: job id -> when it was added (the trigger was accepted), and how many GETs
        #: since showed an end the timestamps cannot prove.
        self._added: dict[UUID, float] = {}
        self._unproved: dict[UUID, int] = {}
        #: Watched jobs a GET answered 404 for (no longer watched), until ``take_gone()``.
        self.gone: dict[UUID, NotFoundError] = {}
        #: Requests the rounds sent (for the cadence: what a round costs).
        self.requests = 0
        self.last_round_cost = 0
        # A sync run's workers add jobs (and the run drops expired ones) while the
        # watcher's thread is in a round: a round reads the table as of its start.
        self._lock = threading.Lock()

    def add(self, job_id: UUID, updated_before: float | None) -> None:
        with self._lock:
            self.pending[job_id] = updated_before
            self._added[job_id] = time.monotonic()
            self._unproved.pop(job_id, None)

    def drop(self, job_ids: Iterable[UUID]) -> None:
        with self._lock:
            for job_id in job_ids:
                self.pending.pop(job_id, None)
                self._missed.pop(job_id, None)
                self._added.pop(job_id, None)
                self._unproved.pop(job_id, None)

    def take_gone(self) -> dict[UUID, NotFoundError]:
        """The watched jobs found gone (GET: 404) since the last call, with the error."""
        gone, self.gone = self.gone, {}
        return gone

    def _ended(self, job: JobDetails, *, fetched: bool = False) -> bool:
        """Did this listing or GET show the watched job's end, after its trigger?"""
        if job.status not in FINISHED:
            return False
        updated_before = self.pending.get(job.id)
        updated = epoch(job.updated_at)
        if job.status is JobStatus.FAILED and updated_before is not None:
            if updated is None:
                return False
            if abs(updated - updated_before) > 1e-6:
                # Changed since the baseline. Later: a new failure. Earlier: also a new
                # one, stamped by a job clock behind the one that stamped the old (clocks
                # disagree); a GET read after the trigger was accepted shows the job as it
                # is now, so it proves it, while a list entry must be confirmed by a GET.
                return fetched or updated > updated_before
            # A whole-second value equal to ``updated_before`` may be a failure within the same
            # second: a list cannot tell it from the old one, a GET (read after the
            # trigger was accepted) can.
            return fetched and granularity(updated) > 0
        return True

    def _settled(self, details: JobDetails) -> bool:
        """A GET (after the trigger) showing an end the timestamps cannot prove: a
        failed job with ``updated_at`` missing or unchanged, or a status this client does
        not know. Counted; the end is taken once the bound (see the module) is reached."""
        if details.status is JobStatus.IN_PROGRESS:
            self._unproved.pop(details.id, None)
            return False
        seen = self._unproved[details.id] = self._unproved.get(details.id, 0) + 1
        added = self._added.get(details.id, time.monotonic())
        return seen >= SETTLE_ROUNDS and time.monotonic() - added >= SETTLE_SECONDS

    def round(self, config: ClientConfig, timeout: httpx.Timeout | None) -> Flow[list[JobDetails]]:
        """One round; returns the watched jobs that ended (and stops watching them)."""
        before = self.requests
        running: set[UUID] = set()
        pager = _RoundPager(self.application_id, JobStatus.IN_PROGRESS, self.page_size)
        while (call := pager.next_call()) is not None:
            page = yield from self._list(call, config, timeout)
            # By each job's own status: a server may ignore the filter.
            running.update(
                job.id for job in pager.accept(page) if job.status is JobStatus.IN_PROGRESS
            )
        with self._lock:
            pending = dict(self.pending)
        candidates = {job_id for job_id in pending if job_id not in running}
        ended: dict[UUID, JobDetails] = {}
        provable = bool(candidates) and all(pending[j] is not None for j in candidates)
        for status in (JobStatus.FAILED, JobStatus.COMPLETED):
            if not provable or len(ended) == len(candidates):
                break
            cutoff = min(s for j in candidates if (s := pending[j]) is not None)
            provable = yield from self._newest(status, candidates, cutoff, ended, config, timeout)
        for job_id in candidates - ended.keys():
            self._missed[job_id] = self._missed.get(job_id, 0) + 1
            if provable and self._missed[job_id] < 2:
                continue  # most likely missed by a shifting list: the next round sees it
            try:
                details = yield from self._get(job_id, config, timeout)
            except NotFoundError as exc:
                # Deleted, or expired by retention: it never ends; its owner ends it.
                self.gone[job_id] = exc
                self.drop([job_id])
                continue
            if self._ended(details, fetched=True) or self._settled(details):
                ended[job_id] = details
        self.drop(ended)
        self.last_round_cost = self.requests - before
        return list(ended.values())

    def _newest(
        self,
        status: JobStatus,
        candidates: set[UUID],
        cutoff: float,
        ended: dict[UUID, JobDetails],
        config: ClientConfig,
        timeout: httpx.Timeout | None,
    ) -> Flow[bool]:
        """Page ``status`` newest first back to ``cutoff``; False when the server's
        order (or missing updated_at) cannot prove that the pages read hold every
        job that ended since."""
        pager = _RoundPager(self.application_id, status, self.page_size)
        previous: float | None = None
        while (call := pager.next_call()) is not None:
            page = yield from self._list(call, config, timeout)
            for job in pager.accept(page):
                updated = epoch(job.updated_at)
                if updated is None or (previous is not None and updated > previous + 1e-6):
                    return False  # not newest first: the lists prove nothing
                previous = updated
                if job.id in candidates and job.id not in ended and self._ended(job):
                    ended[job.id] = job
                if updated < cutoff:
                    return True  # older than every trigger: nothing further is ours
        return True

    def _list(
        self, call: Call, config: ClientConfig, timeout: httpx.Timeout | None
    ) -> Flow[JobList]:
        self.requests += 1
        page: JobList = yield from execute(call, config, timeout)
        return page

    def _get(
        self, job_id: UUID, config: ClientConfig, timeout: httpx.Timeout | None
    ) -> Flow[JobDetails]:
        self.requests += 1
        details: JobDetails = yield from execute(get_call(job_id), config, timeout)
        if details.status not in FINISHED:
            self._missed.pop(job_id, None)
        return details


def interval(watcher: Watcher, per_minute: float | None, *, triggering: bool) -> float:
    """Seconds to the next round: what a round costs, paid from a share of the budget
    (5 % while POSTs are still going out: they come first; 15 % after)."""
    if per_minute is None:
        return 0.5
    share = 0.05 if triggering else 0.15
    cost = max(watcher.last_round_cost, 1)
    return min(max(cost / (share * per_minute / 60.0), 1.0), 30.0)
