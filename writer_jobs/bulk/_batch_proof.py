"""Which job a create whose answer was lost made, proved from the application's job list.

Creating a job has no idempotency key, and a listed job carries nothing of the inputs
it was created with (``JobDetails``: id, status, application_id, timestamps, data or
error). What the spec does give is ``created_at``, stamped by the server's own clock.
So a lost create is settled from the list: a job it made was created after the POST
went out (``sent_after``, a lower bound of the server's job clock then) and is not
claimed by any other row (every create answered is claimed by its row). With no other
program creating jobs in the application, the unclaimed jobs since then are the lost
creates' own; one that only one lost create can have made is that create's.

Another program creating jobs shows in the list: an unclaimed job older than every lost
create (``LOOKBACK`` seconds before it) or more unclaimed jobs than lost creates. Then
no unclaimed job is given to a row (a row carrying another row's result is the worst
outcome there is): a lost create with a candidate is ``Unresolved``, reported with its
candidates. A lost create with no candidate at all made no job: ``NotMade``, created
again (whoever else creates jobs).

The batch run sends one create at a time, so a proof almost always settles one lost
create, listed at once; after a crash the journal's create in flight is settled the
same way. No I/O here: the run lists, this decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

import attrs

from .._exactly_once import granularity

#: Seconds the job clock may have moved back between the moment ``sent_after`` was
#: computed from and the create (a bound read from answers a moment earlier); a job
#: created this much before ``sent_after`` still counts as a candidate.
SLACK = 1.0
#: Seconds before the earliest lost create in which any unclaimed job shows another
#: program creating jobs in the application.
LOOKBACK = 60.0


@attrs.frozen
class LostCreate:
    """A create whose answer never came: the row, and a lower bound of the server's job
    clock when its POST went out (epoch seconds)."""

    row: int
    sent_after: float


@attrs.frozen
class ListedJob:
    """A job of the application as listed: its id and ``created_at`` (epoch seconds)."""

    id: UUID
    created_at: float


@attrs.frozen
class Made:
    """The lost create made this job."""

    job_id: UUID
    created_at: float


@attrs.frozen
class NotMade:
    """The lost create made no job: no unclaimed job was created after it went out."""


@attrs.frozen
class Unresolved:
    """The list cannot say which job, if any, the lost create made: ``candidates`` are
    the unclaimed jobs created after it went out (another program creates jobs in the
    application, or lost creates overlap)."""

    candidates: tuple[UUID, ...]
    #: Whether another program was seen creating jobs in the application.
    other_creator: bool


Verdict = Made | NotMade | Unresolved


def floor(lost: Sequence[LostCreate]) -> float:
    """The oldest ``created_at`` a proof must list back to (its look-back included)."""
    return min(create.sent_after for create in lost) - SLACK - LOOKBACK


def _after(job: ListedJob, moment: float) -> bool:
    # A created_at truncated to whole seconds (or minutes) may hide a later moment.
    return job.created_at + granularity(job.created_at) >= moment


def settle(
    lost: Sequence[LostCreate], listed: Iterable[ListedJob], claimed: set[UUID]
) -> dict[int, Verdict]:
    """The verdict for each lost create (by row), from a list read after every one of
    them ended that holds every job created since ``floor(lost)``."""
    if not lost:
        return {}
    oldest = floor(lost)
    orphans = {
        job.id: job for job in listed if job.id not in claimed and _after(job, oldest)
    }.values()
    edges: dict[int, list[ListedJob]] = {
        create.row: [job for job in orphans if _after(job, create.sent_after - SLACK)]
        for create in lost
    }
    reachable = {job.id for jobs in edges.values() for job in jobs}
    other_creator = len(reachable) < len(orphans) or len(orphans) > len(lost)
    verdicts: dict[int, Verdict] = {}
    for row, candidates in edges.items():
        if not candidates:
            verdicts[row] = NotMade()
    if other_creator:
        for row, candidates in edges.items():
            if candidates:
                verdicts[row] = Unresolved(_ids(candidates), other_creator=True)
        return verdicts
    # Every unclaimed job is one of these creates': a job only one of them can have
    # made is that one's; a create whose every candidate went to another made none.
    open_rows = {row: {job.id: job for job in found} for row, found in edges.items() if found}
    taken: set[UUID] = set()
    progress = True
    while progress:
        progress = False
        for job in orphans:
            if job.id in taken:
                continue
            makers = [row for row, jobs in open_rows.items() if job.id in jobs]
            if len(makers) == 1:
                row = makers[0]
                verdicts[row] = Made(job.id, job.created_at)
                taken.add(job.id)
                del open_rows[row]
                for others in open_rows.values():
                    others.pop(job.id, None)
                progress = True
        for row, left in list(open_rows.items()):
            if not left:
                verdicts[row] = NotMade()
                del open_rows[row]
                progress = True
    for row in open_rows:
        verdicts[row] = Unresolved(_ids(edges[row]), other_creator=False)
    return verdicts


def _ids(jobs: Iterable[ListedJob]) -> tuple[UUID, ...]:
    return tuple(sorted((job.id for job in jobs), key=str))
