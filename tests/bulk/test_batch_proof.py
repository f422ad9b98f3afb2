"""The lost-create proof (no I/O): which job a create whose answer was lost made, from
the jobs listed since it went out. Generated situations: lost creates that made a job or
not, jobs other rows claimed, another program's jobs before and among them."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from writer_jobs._exactly_once import granularity
from writer_jobs.bulk._batch_proof import (
    LOOKBACK,
    SLACK,
    ListedJob,
    LostCreate,
    Made,
    NotMade,
    Unresolved,
    floor,
    settle,
)

T0 = 1_800_000_000.0


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=n, version=4)


@st.composite
def situations(draw: st.DrawFn, *, foreign: bool) -> tuple[Any, ...]:
    count = draw(st.integers(1, 4))
    sent = sorted(draw(st.lists(st.floats(0, 20), min_size=count, max_size=count)))
    lost = [LostCreate(row, T0 + at, job_clock=True) for row, at in enumerate(sent, 1)]
    made: dict[int, ListedJob] = {}
    n = 0
    for create in lost:
        if draw(st.booleans()):
            n += 1
            made[create.row] = ListedJob(_id(n), create.sent_after + draw(st.floats(0.001, 3)))
    claimed = []
    for _ in range(draw(st.integers(0, 5))):
        n += 1
        claimed.append(ListedJob(_id(n), T0 + draw(st.floats(-90, 25))))
    others = []
    if foreign:
        for _ in range(draw(st.integers(1, 4))):
            n += 1
            others.append(ListedJob(_id(n), T0 + draw(st.floats(-LOOKBACK, 25))))
    return lost, made, claimed, others


@given(situations(foreign=False))
def test_with_nobody_else_creating_every_verdict_is_true(situation: tuple[Any, ...]) -> None:
    lost, made, claimed, _ = situation
    listed = [*made.values(), *claimed]
    verdicts = settle(lost, listed, {job.id for job in claimed})
    assert set(verdicts) == {create.row for create in lost}
    for row, verdict in verdicts.items():
        if isinstance(verdict, Made):
            assert made.get(row) == ListedJob(verdict.job_id, verdict.created_at)
        elif isinstance(verdict, NotMade):
            assert row not in made
        else:
            assert not verdict.other_creator
    if len(lost) == 1:
        assert not any(isinstance(v, Unresolved) for v in verdicts.values())


@given(situations(foreign=True))
def test_another_creator_never_gets_a_row_a_job(situation: tuple[Any, ...]) -> None:
    lost, made, claimed, others = situation
    listed = [*made.values(), *claimed, *others]
    verdicts = settle(lost, listed, {job.id for job in claimed})
    earliest = min(create.sent_after for create in lost) - SLACK
    # (a whole-second created_at may hide a moment up to a second later)
    seen_before = any(
        earliest - LOOKBACK <= job.created_at + granularity(job.created_at) < earliest
        for job in others
    )
    for row, verdict in verdicts.items():
        if isinstance(verdict, NotMade):
            assert row not in made  # a create that made a job always has a candidate
        if isinstance(verdict, Made):
            # Only when the list could not show the other program: its jobs all fell
            # among the lost creates', and no more of them than those creates.
            assert not seen_before
            in_view = [j for j in others if j.created_at + granularity(j.created_at) >= floor(lost)]
            assert len([*made.values(), *in_view]) <= len(lost)
        if isinstance(verdict, Unresolved):
            mine = made.get(row)
            assert mine is None or mine.id in verdict.candidates


def test_one_lost_create_and_its_job_alone_is_made() -> None:
    job = ListedJob(_id(1), T0 + 0.2)
    assert settle([LostCreate(7, T0, job_clock=True)], [job], set()) == {
        7: Made(job.id, job.created_at)
    }


def test_a_lost_create_with_no_job_after_it_made_none() -> None:
    old = ListedJob(_id(1), T0 - LOOKBACK - 10)
    assert settle([LostCreate(7, T0, job_clock=True)], [old], set()) == {7: NotMade()}


def test_a_job_of_another_program_in_the_look_back_shows_in_a_not_made_verdict() -> None:
    old = ListedJob(_id(1), T0 - 30)
    verdict = settle([LostCreate(7, T0, job_clock=True)], [old], set())[7]
    assert verdict == NotMade(other_creator=True)


def test_another_programs_job_before_it_leaves_the_candidate_unresolved() -> None:
    foreign = ListedJob(_id(1), T0 - 20)
    candidate = ListedJob(_id(2), T0 + 0.2)
    verdict = settle([LostCreate(7, T0, job_clock=True)], [foreign, candidate], set())[7]
    assert verdict == Unresolved((candidate.id,), other_creator=True)


def test_claimed_jobs_are_nobody_elses() -> None:
    claimed = ListedJob(_id(1), T0 + 0.1)
    assert settle([LostCreate(7, T0, job_clock=True)], [claimed], {claimed.id}) == {7: NotMade()}


def test_a_whole_second_created_at_counts_for_the_second_it_may_hide() -> None:
    # created_at truncated to a whole second may hide any moment of that second: one
    # truncated to the second the POST went out in may be the create's own job ...
    sent = float(int(T0)) + 0.9
    truncated = ListedJob(_id(1), float(int(T0)))
    assert isinstance(settle([LostCreate(7, sent, job_clock=True)], [truncated], set())[7], Made)
    # ... one of two seconds before is still a candidate (a clock off by up to SLACK),
    # never taken: stamped before the POST went out by the job clock's own bound.
    before = ListedJob(_id(2), float(int(T0) - 2))
    verdict = settle([LostCreate(7, sent, job_clock=True)], [before], set())[7]
    assert verdict == Unresolved((before.id,), other_creator=False)


def test_a_job_stamped_after_the_post_ended_is_never_taken() -> None:
    # Made late (the server still at work after the answer was lost), or another
    # program's a moment after: the create's own job was stamped by ``made_by``.
    late = ListedJob(_id(1), T0 + 3.0)
    lost = LostCreate(7, T0, job_clock=True, made_by=T0 + 1.0)
    assert settle([lost], [late], set())[7] == Unresolved((late.id,), other_creator=False)
    within = ListedJob(_id(2), T0 + 0.5)
    assert settle([lost], [within], set())[7] == Made(within.id, within.created_at)


def test_a_job_an_unresolved_create_may_have_made_is_never_given_to_another_row() -> None:
    earlier = ListedJob(_id(1), T0 + 0.5)  # a candidate of an earlier unresolved create
    verdict = settle(
        [LostCreate(7, T0, job_clock=True)], [earlier], set(), maybe_claimed={earlier.id}
    )[7]
    assert verdict == NotMade()


def test_without_the_job_clock_a_lone_candidate_is_unresolved() -> None:
    # Date's clock may be far from the job clock: the window cannot be bounded.
    job = ListedJob(_id(1), T0 + 0.2)
    verdict = settle([LostCreate(7, T0, job_clock=False)], [job], set())[7]
    assert verdict == Unresolved((job.id,), other_creator=False)
    # No clock at all: every job, however old, is a candidate.
    old = ListedJob(_id(2), T0 - 3600)
    verdict = settle([LostCreate(7, float("-inf"))], [old], set())[7]
    assert verdict == Unresolved((old.id,), other_creator=False)


def test_a_window_spanning_a_crash_of_unknown_length_proves_no_job() -> None:
    job = ListedJob(_id(1), T0 + 600)
    verdict = settle([LostCreate(7, T0, job_clock=True, tight=False)], [job], set())[7]
    assert verdict == Unresolved((job.id,), other_creator=False)


def test_a_job_just_before_the_window_leaves_the_create_unresolved() -> None:
    # A job clock further behind than SLACK: the create's own job may be this one.
    job = ListedJob(_id(1), T0 - SLACK - 2.3)
    verdict = settle([LostCreate(7, T0, job_clock=True)], [job], set())[7]
    assert isinstance(verdict, Unresolved)
    assert verdict.candidates == (job.id,)


def test_a_second_unclaimed_job_after_the_window_leaves_the_candidate_unresolved() -> None:
    first, second = ListedJob(_id(1), T0 + 0.2), ListedJob(_id(2), T0 + 8)
    verdict = settle([LostCreate(7, T0, job_clock=True)], [first, second], set())[7]
    assert verdict == Unresolved((first.id, second.id), other_creator=True)
