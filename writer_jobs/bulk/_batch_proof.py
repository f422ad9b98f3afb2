"""Which job a create whose answer was lost made, proved from the application's job list.

Creating a job has no idempotency key, and a listed job carries nothing of the inputs
it was created with (``JobDetails``: id, status, application_id, timestamps, data or
error). What the spec does give is ``created_at``, stamped by the server's job clock.
So a lost create is settled from the list: a job it made was created after the POST
went out (``sent_after``, a lower bound of the job clock then) and is not claimed by
any other row (every create answered is claimed by its row).

The list proves little, so a verdict is given only when nothing is in doubt:

- ``NotMade`` (the row is created again) only from a list read later than a bound on
  the server's processing and the list's lag after the POST ended (``SETTLE``, or the
  request timeout when longer: the run waits for it), with no unclaimed job in the
  create's window nor just before it.
- ``Made`` only when the window's lower side is the job clock itself (learned from
  answered creates; the ``Date`` header's clock may be far from it), the window did not
  span a crash of unknown length (``tight``), and exactly one unclaimed job is in view:
  in the window, none in the ``LOOKBACK`` before it nor after it up to the list read;
  and that job was stamped while the POST was out (from ``sent_after`` to ``made_by``,
  the job clock's bounds learned from answered creates, give or take ``DRIFT``): a job
  made late, or another program's in the seconds around, is never taken. Another
  program's jobs that are not taken stay in view, so one taken wrongly is caught by the
  run's last look (unless the row's own job, made late, is in the window of the next
  lost create and taken for its: the list cannot tell that from two creates that made
  their jobs on time; docs/batch.md, Limits).
- Otherwise ``Unresolved`` with its candidates: never a guess (a row carrying another
  row's result is the worst outcome there is).

Jobs that an earlier unresolved create may have made (``maybe_claimed``) are nobody
else's: a later proof never gives one to its row.

A job proved ``Made`` is the row's only once the whole run has been seen: after the
last job ended, the run lists the application back to its first create (``foreign``).
An unclaimed job there (another program's, or one the list could not tie to a row)
shows that something else creates jobs in the application, and every job proved made
in the run is given back: its row is ``Unresolved``, the job its candidate.

What remains assumed: the server makes a create's job, and the list shows it, within
the settle bound; and no other program creates jobs in the application during the run
save jobs stamped while lost creates' POSTs were out, each alone in view (those are
taken for the creates' own: the list cannot tell them apart).

No I/O here: the run lists, this decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

import attrs

from .._exactly_once import granularity

#: Seconds the job clock may be behind ``sent_after`` (answers read late, job clocks of
#: several nodes); a job created this much before ``sent_after`` is still a candidate.
SLACK = 5.0
#: Seconds before a lost create's window in which any unclaimed job shows another
#: program creating jobs in the application (then no candidate is given a row).
LOOKBACK = 60.0
#: Seconds, at least, after a lost create's POST ended before a list read can prove it
#: made nothing: the server's processing and the list's lag (the request timeout when
#: longer).
SETTLE = 10.0
#: Seconds the client's clock and the job clock may drift apart between the creates
#: they are learned from and a lost one: the margin of the window a job is taken in.
DRIFT = 0.25


@attrs.frozen
class LostCreate:
    """A create whose answer never came: the row, and a lower bound of the server's job
    clock when its POST went out (epoch seconds; ``-inf``: no clock known)."""

    row: int
    sent_after: float
    #: ``sent_after`` is the job clock (created_at of answered creates), not Date's.
    job_clock: bool = False
    #: The window did not span a crash or a downtime of unknown length.
    tight: bool = True
    #: The latest created_at of a job the create made while its POST was out (the job
    #: clock's upper bound when it ended; inf: none known).
    made_by: float = float("inf")


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
    """The lost create made no job: no unclaimed job was created after it went out, in a
    list read after the settle bound."""

    #: Whether another program was seen creating jobs in the application.
    other_creator: bool = False


@attrs.frozen
class Unresolved:
    """The list cannot say which job, if any, the lost create made: ``candidates`` are
    the unclaimed jobs created after it went out (another program creates jobs in the
    application, lost creates overlap, or the clocks cannot bound the window)."""

    candidates: tuple[UUID, ...]
    #: Whether another program was seen creating jobs in the application.
    other_creator: bool


Verdict = Made | NotMade | Unresolved


def window_start(create: LostCreate) -> float:
    """The oldest ``created_at`` the create's job can have. Without the job clock (the
    Date header's clock only, or none) the whole look-back is in the window."""
    start = create.sent_after - SLACK
    return start if create.job_clock else start - LOOKBACK


def floor(lost: Sequence[LostCreate]) -> float:
    """The oldest ``created_at`` a proof must list back to (its look-back included)."""
    return min(window_start(create) for create in lost) - LOOKBACK


def _after(job: ListedJob, moment: float) -> bool:
    # A created_at truncated to whole seconds (or minutes) may hide a later moment.
    return job.created_at + granularity(job.created_at) >= moment


def settle(
    lost: Sequence[LostCreate],
    listed: Iterable[ListedJob],
    claimed: set[UUID],
    *,
    maybe_claimed: frozenset[UUID] | set[UUID] = frozenset(),
) -> dict[int, Verdict]:
    """The verdict for each lost create (by row), from a list read after the settle
    bound of every one of them that holds every job created since ``floor(lost)``."""
    if not lost:
        return {}
    oldest = floor(lost)
    jobs = list({job.id: job for job in listed if _after(job, oldest)}.values())
    # A job an unresolved create may have made is never a candidate, yet still someone
    # else's job in view (the other program's, maybe: it must not vanish from the count).
    orphans = [job for job in jobs if job.id not in claimed]
    # Another program creates jobs when an unclaimed job is in no lost create's window
    # (before them all), or there are more of them than lost creates.
    strangers = [job for job in orphans if job.id not in maybe_claimed]
    reachable = {
        job.id for job in strangers for create in lost if _after(job, window_start(create))
    }
    other_creator = len(reachable) < len(strangers) or len(strangers) > len(lost)
    verdicts: dict[int, Verdict] = {}
    for create in lost:
        start = window_start(create)
        candidates = [job for job in orphans if _after(job, start) and job.id not in maybe_claimed]
        # A job an earlier unresolved create may have made was listed by that create's
        # proof, before this create went out (proofs come before the next create): it
        # is not this create's, and never given to it.
        overlapping: list[ListedJob] = []
        # Just before the window: a job the create may have made by a clock further off
        # than SLACK, or another program's.
        near = [
            job
            for job in orphans
            if _after(job, start - SLACK) and not _after(job, start) and job.id not in maybe_claimed
        ]
        if not candidates and not overlapping and not near:
            verdicts[create.row] = NotMade(other_creator=other_creator)
            continue
        sure = (
            create.job_clock
            and create.tight
            and len(lost) == 1
            and len(orphans) == 1
            and len(candidates) == 1
            and _after(candidates[0], create.sent_after - DRIFT)
            and candidates[0].created_at <= create.made_by
            and not overlapping
        )
        if sure:
            job = candidates[0]
            verdicts[create.row] = Made(job.id, job.created_at)
        else:
            verdicts[create.row] = Unresolved(
                _ids([*candidates, *overlapping, *near]), other_creator=other_creator
            )
    return verdicts


def run_floor(began: float) -> float:
    """The oldest ``created_at`` the run's last look at the list goes back to: the first
    create's window (``began``, from the journal) and its look-back."""
    return began - LOOKBACK


def foreign(listed: Iterable[ListedJob], claimed: set[UUID], began: float) -> tuple[UUID, ...]:
    """The jobs created since the run's floor that no row claims: when there is one,
    something else creates jobs in the application, and a job proved made may be its."""
    oldest = run_floor(began)
    return _ids(job for job in listed if _after(job, oldest) and job.id not in claimed)


def _ids(jobs: Iterable[ListedJob]) -> tuple[UUID, ...]:
    return tuple(sorted({job.id for job in jobs}, key=str))
