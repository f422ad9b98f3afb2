"""Which failed jobs a run retries: the user's Selection (chosen before any POST, kept
by its resumes), and each listing pass's jobs (paged with overlap) to hand to the workers."""

from __future__ import annotations

import array
import datetime
import logging
import math
import re
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import attrs

from writer_jobs._generated.models import JobDetails, JobStatus

from .._engine import Pager
from .._exceptions import InvalidArgumentError
from .._parse import as_utc, epoch
from ._journal import Journal, Resume

_log = logging.getLogger("writer_jobs")


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
        updated = epoch(job.updated_at)
        for bound, after in ((self.failed_since, True), (self.failed_before, False)):
            if bound is not None:
                limit = epoch(bound)
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
        return as_utc(value).isoformat()
    return value


#: Passes in a row that found nothing new but whose pages shifted, before a run stops
#: listing (and warns): a list another client keeps changing must not hold it forever.
MAX_SHIFTED_PASSES = 5
#: Listing passes a run makes at most: new failures arriving in every pass (a busy
#: application) must not keep it going forever; it ends with listing_settled False.
MAX_PASSES = 20

#: Seconds before listing again after such a pass, doubling each time (1, 2, 4, 8, 16 s):
#: this run's jobs failing again move the list for a while; waiting lets it settle.
SETTLE_PAUSE = 1.0

#: One job to handle: its id, its updated_at before the trigger (when listed), what the
#: journal says of it.
Todo = tuple[UUID, float | None, Resume | None]


class Passes:
    """One run's listing passes: which listed failed jobs it hands to its workers (not
    final in the journal, selected, not handled yet), and when listing ends."""

    def __init__(self, application_id: str, journal: Journal, *, dry_run: bool) -> None:
        self.application_id = application_id
        self.journal = journal
        self.dry_run = dry_run
        self.selection = Selection.from_json(journal.selection)
        #: Jobs not selected (outside the times, error or limit), by this run.
        self.unselected = 0
        self._selected = len(journal.final | journal.unsettled.keys())
        #: With a dry run, the jobs that would be retried (their error texts for the preview).
        self.preview: list[JobDetails] = []
        #: Passes made so far.
        self.count = 0
        self.listed: list[UUID] = []
        # updated_at of each listed job (NaN: unknown), aligned with ``listed``: 8 bytes a job.
        self.listed_updated = array.array("d")
        self._seen: set[UUID] = set()
        self.skipped = 0
        self.todo_count = 0
        #: Of those, jobs an earlier run of the same journal started (checked first).
        self.resumed = 0
        self._shifted_passes = 0
        #: False when the run stopped listing while the list still moved (see todo()).
        self.listing_settled = True

    def add(self, jobs: Iterable[JobDetails]) -> None:
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
                updated = epoch(job.updated_at)
                self.listed_updated.append(math.nan if updated is None else updated)

    def todo(self, shifted: bool = False, unverified: bool = False) -> list[Todo] | None:
        """This pass's jobs to handle: listed ones not yet final, then (first pass only)
        unsettled ones from the journal that the listing does not show (they may be in
        progress). None when the run is complete: the pass found nothing new and its
        pages did not shift (``shifted``: the pager lost its anchor, so a job may have
        been skipped); an empty list: nothing new, but list again."""
        self.count += 1
        final, unsettled = self.journal.final, self.journal.unsettled
        jobs: list[Todo] = []
        for job_id, updated in zip(self.listed, self.listed_updated, strict=True):
            if job_id in final:
                self.skipped += 1
            else:
                listed = None if math.isnan(updated) else updated
                jobs.append((job_id, listed, unsettled.get(job_id)))
        if self.count == 1:
            for job_id, resume in unsettled.items():
                if job_id not in self._seen and job_id not in final:
                    self._seen.add(job_id)
                    jobs.append((job_id, None, resume))
        self.listed = []
        self.listed_updated = array.array("d")
        if jobs and self.count >= MAX_PASSES:
            # New failed jobs in every pass (a busy application): never list forever.
            self.listing_settled = False
            _log.warning(
                "new failed jobs of %s kept appearing (%d listing passes): the run stops "
                "here; run again for the %d found in the last pass",
                self.application_id,
                self.count,
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


class AnchoredPager(Pager):
    """A listing pass's paging: each page after the first starts at the previous page's
    last job (the anchor). Seeing it again first proves no job above it left the list
    while paging (shifting the rest up, past the next offset, unseen); otherwise
    ``shifted`` is set: this pass may have missed jobs, list again. The caller drops the
    jobs pages repeat (the anchor at least). totalCount, which can lag the list, is not
    trusted: the page holding only the anchor ends it, one request more a pass."""

    trusts_total = False

    def __init__(self, application_id: str, status: JobStatus | None, page_size: int) -> None:
        super().__init__(application_id, status, page_size)
        #: Pages too small to overlap: whether the list moved cannot be told.
        self.unverified = False
        self._anchor: UUID | None = None

    def _proves_ignored_offset(self) -> bool:
        # The pass's first page again and again is what a server ignoring offset sends;
        # a later page repeating is a tail pushed down by jobs entering above (one a
        # page, as many times as they enter): the pass ends shifted, the next looks again.
        return self._same_page_offsets[0] == 0

    def _ends_at(self, ids: list[UUID]) -> bool:
        anchor, self._anchor = self._anchor, None
        if anchor is None:
            return False
        if ids == [anchor]:  # only the anchor: the list ends there
            return True
        # Missing: jobs above it left, the rest moved up past this offset. Further
        # down: jobs entered above, unseen (one that failed again, possibly after
        # moving up from below). Either way the pass may have missed a job.
        if ids[:1] != [anchor]:
            self.shifted = True
        return False

    def _next_offset(self, ids: list[UUID], end: int) -> int:
        if len(ids) > 1:
            self._anchor = ids[-1]
            return end - 1
        # One job a page (limit capped at 1) leaves no room for an anchor: nothing
        # proves the list held still.
        self._anchor = None
        self.unverified = True
        return end
