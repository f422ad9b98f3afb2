"""The account budget, with a scripted clock: never more than the ceiling in any
minute (a sliding window, as Writer counts), bursts pass at once; against a scripted
sliding-window account shared with another program, it learns what is left, holds
just under it, and takes back what the other program stops using."""

from __future__ import annotations

import collections
import heapq
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from writer_jobs import APITimeoutError, JobsClient
from writer_jobs._budget import HOLD, Budget
from writer_jobs.testing import FakeWriterAPI


def _send_times(budget: Budget, clock: list[float], arrivals: list[float]) -> list[float]:
    """When each request goes out: it arrives, reserves, and waits what it is told."""
    sent = []
    for at in arrivals:
        clock[0] = max(clock[0], at)
        sent.append(clock[0] + budget.reserve())
    return sent


@given(
    limit=st.sampled_from([60, 400, 1000]),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=1500),
)
def test_no_minute_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    clock = [0.0]
    budget = Budget(limit, clock=lambda: clock[0])
    arrivals, t = [], 0.0
    for gap in gaps:
        t += gap
        arrivals.append(t)
    sent = sorted(_send_times(budget, clock, arrivals))
    j = 0
    for i, start in enumerate(sent):
        while j < len(sent) and sent[j] < start + 60.0:
            j += 1
        assert j - i <= limit, f"{j - i} requests within 60 s of {start}"


def test_a_short_burst_goes_at_once_and_a_long_run_is_spaced() -> None:
    clock = [0.0]
    budget = Budget(400, clock=lambda: clock[0])
    assert [budget.reserve() for _ in range(20)] == [0.0] * 20
    waits = [budget.reserve() for _ in range(380)]
    assert waits[-1] == pytest.approx(60.0, rel=0.01)  # 400 in the first minute at most


def test_a_429_stops_the_burst_and_learns_what_the_window_admitted() -> None:
    clock = [0.0]
    budget = Budget(400, clock=lambda: clock[0])
    for _ in range(150):  # 150 admitted over 30 s, then the window is full
        budget.reserve()
        budget.observe(httpx.Response(200))
        clock[0] += 0.2
    budget.reserve()
    budget.observe(httpx.Response(429))
    budget.reserve()
    budget.observe(httpx.Response(429))  # already out: one signal
    assert budget.share == 150 and budget.rate_limited == 2
    # No burst after it: the next request waits until enough of the earlier ones
    # left the window to stay under the learned share (150 * HOLD).
    wait = budget.reserve()
    assert wait > 0
    pace = budget.pace()
    assert pace is not None and pace == pytest.approx(150 * HOLD)


def test_auto_is_writers_limit_on_writers_api_and_learned_elsewhere() -> None:
    """No loopback case: a gateway, a proxy and the fake all start unpaced and learn
    from their 429s (the fake is kept fast by a high limit, not by switching off)."""
    assert JobsClient("k")._budget.per_minute == 400
    assert JobsClient("k", base_url="https://eu.api.writer.com")._budget.per_minute == 400
    assert JobsClient("k", base_url="https://gateway.example")._budget.per_minute is None
    assert JobsClient("k", base_url="http://127.0.0.1:9")._budget.per_minute is None
    assert JobsClient("k", base_url="http://127.0.0.1:9", rate_limit=60)._budget.per_minute == 60
    assert JobsClient("k", rate_limit=None)._budget.per_minute is None


# --- the model against a scripted sliding-window account ---------------------------


def _account(
    ceiling: float | None,
    limit: int,
    other: Callable[[float], float],
    duration: float,
    *,
    workers: int = 16,
    latency: float = 0.05,
) -> tuple[list[float], list[float], int]:
    """A client with ``workers`` requests always waiting to go, against an account
    admitting ``limit`` requests in any 60 s (ours and another program's, which
    spends ``other(t)`` a minute, evenly). Returns when ours were sent, when ours
    were admitted, and how many of ours got a 429. Scripted clock, no I/O."""
    clock = [0.0]
    budget = Budget(ceiling, clock=lambda: clock[0])
    window: collections.deque[float] = collections.deque()
    sent: list[float] = []
    admitted: list[float] = []
    refused = 0
    # (time, order, event, worker): order breaks ties (the other program first).
    events: list[tuple[float, int, str]] = [(0.0, 0, "other")]
    events += [(0.0, 1, "reserve")] * workers
    heapq.heapify(events)
    while events:
        now, _, event = heapq.heappop(events)
        if now > duration:
            break
        clock[0] = now
        while window and window[0] <= now - 60.0:
            window.popleft()
        if event == "other":
            rate = other(now)
            if rate > 0 and len(window) < limit:
                window.append(now)
            heapq.heappush(events, (now + (60.0 / rate if rate > 0 else 0.5), 0, "other"))
        elif event == "reserve":
            heapq.heappush(events, (now + budget.reserve(), 2, "send"))
        elif event == "send":
            sent.append(now)
            if len(window) < limit:
                window.append(now)
                admitted.append(now)
                heapq.heappush(events, (now + latency, 3, "ok"))
            else:
                refused += 1
                heapq.heappush(events, (now + latency, 3, "429"))
        else:
            budget.observe(httpx.Response(429 if event == "429" else 200))
            heapq.heappush(events, (now, 1, "reserve"))
    return sent, admitted, refused


def _per_minute(times: list[float], start: float, end: float) -> float:
    return sum(1 for t in times if start <= t < end) * 60.0 / (end - start)


@pytest.mark.parametrize("ceiling", [400, None], ids=["told 400", "told nothing"])
def test_converges_under_what_another_program_leaves(ceiling: float | None) -> None:
    sent, admitted, refused = _account(ceiling, 400, lambda t: 200, 900)
    settled = _per_minute(admitted, 300, 900)
    assert 0.85 * 200 <= settled <= 200, f"{settled:.0f} a minute of the 200 left"
    assert refused <= 0.05 * len(sent), f"{refused} 429s of {len(sent)} requests"
    late = [t for t in sent if t >= 300]
    assert _per_minute(sent, 300, 900) <= 200, f"{len(late)} sent after 300 s"


def test_told_nothing_learns_the_whole_account_it_owns() -> None:
    sent, admitted, refused = _account(None, 400, lambda t: 0, 900)
    assert _per_minute(admitted, 60, 900) >= 0.9 * 400
    assert refused <= 0.02 * len(sent), f"{refused} 429s of {len(sent)} requests"


def test_recovers_when_the_other_program_stops() -> None:
    _, admitted, _ = _account(400, 400, lambda t: 200 if t < 300 else 0, 900)
    assert _per_minute(admitted, 240, 300) <= 200
    assert _per_minute(admitted, 600, 900) >= 0.9 * 380, "the freed budget taken back"


@settings(max_examples=40, deadline=None)
@given(
    ceiling=st.sampled_from([60, 200, 400]),
    steps=st.lists(
        st.tuples(st.floats(0, 120), st.sampled_from([0, 50, 200, 390, 1000])), max_size=6
    ),
)
def test_never_exceeds_the_ceiling_whatever_the_other_program_does(
    ceiling: int, steps: list[tuple[float, int]]
) -> None:
    """The other program changes its spend at arbitrary moments; whatever the
    model learns, no 60 s window holds more of the client's requests than the ceiling."""
    changes = sorted((at * 5, rate) for at, rate in steps)

    def other(t: float) -> float:
        rate = 0.0
        for at, value in changes:
            if at <= t:
                rate = value
        return rate

    sent, _, _ = _account(ceiling, 400, other, 700, workers=4)
    j = 0
    for i, start in enumerate(sent):
        while j < len(sent) and sent[j] < start + 60.0:
            j += 1
        assert j - i <= ceiling, f"{j - i} requests within 60 s of {start}"


def test_a_single_call_queueing_past_its_deadline_says_so_and_sends_nothing() -> None:
    """Single calls keep their deadline: when the budget's wait would end past it, the
    call raises at once, naming the queueing (never "the attempt's deadline of 0 s"),
    and nothing is sent."""
    with FakeWriterAPI(seed_failed=1) as api:
        job = api.seeded[0]
        with JobsClient(api.api_key, base_url=api.base_url, rate_limit=2, deadline=5) as client:
            client.get(job)  # the one place a minute of rate_limit=2's burst
            with pytest.raises(APITimeoutError) as caught:
                client.get(job)
        assert api.requests_per_operation() == {"get_job": 1}
    message = str(caught.value)
    assert "not sent" in message and "queue" in message and "deadline" in message
    assert "deadline of 0 s" not in message and caught.value.may_have_been_processed is False


def test_a_cold_429_with_one_caller_still_probes_upward() -> None:
    """Another program filled the window just before the client started, then went
    quiet: the first 3 requests get bare 429s, every later one is admitted. One caller,
    one request at a time, 6 s window: the share learned (the least one) lets 3 through
    a window; those 3 are all the window allows, so the client is using all it has and
    the share must grow, not stay at 3 a window while the account is free."""
    clock = [0.0]
    budget = Budget(None, window=6.0, clock=lambda: clock[0])
    sent: list[float] = []
    while clock[0] < 120.0:
        wait = budget.reserve()
        step = min(wait, budget.recheck)
        clock[0] += step
        if step != wait:
            budget.release()
            continue
        sent.append(clock[0])
        clock[0] += 0.05  # the answer's latency
        budget.observe(httpx.Response(429 if len(sent) <= 3 else 200))
    per_window = [sum(1 for t in sent if i * 6 <= t < (i + 1) * 6) for i in range(20)]
    assert budget.rate_limited == 3
    assert max(per_window[10:]) > 3 * 4, f"requests in each 6 s window: {per_window}"


def _most_in_a_minute(sent: list[float]) -> int:
    sent, most, j = sorted(sent), 0, 0
    for i, start in enumerate(sent):
        while j < len(sent) and sent[j] < start + 60.0:
            j += 1
        most = max(most, j - i)
    return most


def _per_second(sent: list[float]) -> list[tuple[float, int]]:
    """As a journal records them: a count a second, at the second's end."""
    counts = collections.Counter(int(at) for at in sent)
    return [(second + 1.0, n) for second, n in sorted(counts.items())]


@given(
    limit=st.sampled_from([60, 400]),
    stop=st.floats(1, 90),
    backlog=st.integers(1, 600),
    exact=st.booleans(),
)
def test_a_resume_recalling_its_last_runs_requests_keeps_every_minute_under_the_limit(
    limit: int, stop: float, backlog: int, exact: bool
) -> None:
    """A run stopped at ``stop`` s and resumed at once, its work still queued: the two
    together never put more than the limit in a minute."""
    clock = [0.0]
    first = Budget(limit, clock=lambda: clock[0])
    sent = [t for t in _send_times(first, clock, [0.0] * backlog) if t < stop]
    clock[0] = stop
    second = Budget(limit, clock=lambda: clock[0])
    told = [(t, 1) for t in sent] if exact else _per_second(sent)
    assert second.recall(told) == sum(n for at, n in told if at > stop - 60)
    resumed = _send_times(second, clock, [stop] * (backlog - len(sent)))
    assert _most_in_a_minute(sent + resumed) <= limit


def test_without_recall_a_resume_at_once_overfills_the_minute() -> None:
    """What recall() prevents: a new budget bursts into the window its run filled."""
    clock = [0.0]
    first = Budget(400, clock=lambda: clock[0])
    sent = [t for t in _send_times(first, clock, [0.0] * 600) if t < 25.0]
    clock[0] = 25.0
    fresh = Budget(400, clock=lambda: clock[0])
    resumed = _send_times(fresh, clock, [25.0] * (600 - len(sent)))
    assert _most_in_a_minute(sent + resumed) > 400


def test_recall_ignores_requests_older_than_the_window_and_sets_no_debt_unpaced() -> None:
    clock = [100.0]
    budget = Budget(None, clock=lambda: clock[0])
    assert budget.recall([(10.0, 50), (39.0, 5), (70.0, 30), (100.0, 2)]) == 32
    assert budget.reserve() == 0.0, "no ceiling, nothing learned: unpaced"
