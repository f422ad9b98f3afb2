"""The account budget, with a fake clock: never more than the limit in any minute
(a sliding window, as Writer counts), bursts pass at once, a 429 slows every caller."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from writer_jobs import JobsClient
from writer_jobs._budget import Budget


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


def test_a_429_without_retry_after_slows_the_whole_client() -> None:
    clock = [0.0]
    budget = Budget(400, clock=lambda: clock[0])
    full = budget.rate
    assert full is not None
    budget.observe(httpx.Response(429))
    budget.observe(httpx.Response(429))  # the same burst: one halving
    assert budget.rate == pytest.approx(full / 2) and budget.rate_limited == 2
    assert budget.reserve() > 0, "no bursting after a 429"
    for _ in range(200):
        budget.observe(httpx.Response(200))
    assert budget.rate == pytest.approx(full)


def test_auto_is_the_account_limit_remotely_and_off_on_loopback() -> None:
    assert JobsClient("k")._budget.per_minute == 400
    assert JobsClient("k", base_url="http://127.0.0.1:9")._budget.per_minute is None
    assert JobsClient("k", base_url="http://127.0.0.1:9", rate_limit=60)._budget.per_minute == 60
    assert JobsClient("k", rate_limit=None)._budget.per_minute is None
