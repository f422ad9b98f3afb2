"""The account's rate limit is the real bound: retry_failed(wait=True) against a fake
account with a sliding-window limit, newest-first lists and a long history, at 15x
speed (6,000 requests a minute, jobs of 1-2 s). Counted on the server: requests a
job, 429s, final statuses, double triggers. Never wall time (a shared machine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from writer_jobs import AsyncJobsClient, JobsClient
from writer_jobs._budget import Budget
from writer_jobs.testing import FakeWriterAPI, OtherConsumer


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retry_failed_and_wait_costs_about_one_request_a_job(
    tmp_path: Path, kind: str
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(
        seed_failed=300,
        seed_completed=1500,
        newest_first=True,
        delay=(1.0, 2.0),
        failure_ratio=0.1,
        rate_limit=6000,
        seed=5,
    ) as api:
        settings: dict[str, Any] = {"wait": True, "journal": journal}
        if kind == "sync":
            with JobsClient(api.api_key, base_url=api.base_url, rate_limit=6000) as client:
                summary = client.retry_failed(api.application_id, **settings)
        else:
            async with AsyncJobsClient(
                api.api_key, base_url=api.base_url, rate_limit=6000
            ) as aclient:
                summary = await aclient.retry_failed(api.application_id, **settings)
        requests = sum(api.requests_per_operation().values())
        per_job = api.retries_per_job()
        truth = {str(j): api.store.job(j).status.value for j in api.seeded}
    finals = {
        e["job_id"]: e["status"]
        for e in map(json.loads, journal.read_text().splitlines())
        if e["event"] == "outcome" and e["final"]
    }
    assert finals == truth, "0 wrong final statuses"
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1, "0 double triggers"
    assert requests / 300 <= 1.2, f"{requests} requests for 300 jobs"
    assert api.rate_limited <= requests * 0.01, f"{api.rate_limited} 429s"
    assert summary.requests == requests
    print(f"{kind}: {requests} requests, {requests / 300:.2f} a job, {api.rate_limited} 429s")


# --- a shared account, at a tenth of the time: a 6 s window -------------------------
#
# Writer's window is 60 s. To run the situations in seconds, everything is 10x
# faster: the fake's window is 6 s, the account 400 requests a window (4,000 a minute),
# jobs of 1.5-3 s, and the client's budget counts the same 6 s window.

WINDOW = 6.0
LIMIT = 400  # requests a window
PER_MINUTE = LIMIT * 60 / WINDOW


def _shared_account(other: float = 0.0, **extra: Any) -> FakeWriterAPI:
    conditions = [OtherConsumer(per_minute=PER_MINUTE * other)] if other else []
    return FakeWriterAPI(
        seed_failed=300,
        seed_completed=1500,
        newest_first=True,
        delay=(1.5, 3.0),
        failure_ratio=0.1,
        rate_limit=LIMIT,
        rate_window=WINDOW,
        seed=11,
        conditions=conditions,
        **extra,
    )


def _scaled(client: JobsClient | AsyncJobsClient, told: float | None) -> None:
    client._budget = Budget(told, window=WINDOW)


def _check(api: FakeWriterAPI, journal: Path, summary: Any) -> tuple[int, int]:
    requests = sum(api.requests_per_operation().values())
    per_job = api.retries_per_job()
    truth = {str(j): api.store.job(j).status.value for j in api.seeded}
    finals: dict[str, list[str]] = {}
    for entry in map(json.loads, journal.read_text().splitlines()):
        if entry["event"] == "outcome" and entry["final"]:
            finals.setdefault(entry["job_id"], []).append(entry["status"])
    assert {j: s[0] for j, s in finals.items()} == truth, "every final status the server's"
    assert all(len(s) == 1 for s in finals.values()), "one final outcome a job"
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1, "each once"
    assert summary.errors == 0 and summary.outcomes == {"retried": 300}
    assert summary.rate_limited == api.rate_limited and summary.requests == requests
    return requests, api.rate_limited


@pytest.mark.parametrize(
    ("situation", "other", "told", "per_job", "share_429"),
    [
        ("owns the account, told its limit", 0.0, PER_MINUTE, 1.2, 0.01),
        ("another program spends half, told the whole limit", 0.5, PER_MINUTE, 1.4, 0.05),
        ("owns the account, told nothing", 0.0, None, 1.4, 0.05),
    ],
)
def test_a_shared_account_run_adapts_and_finishes(
    tmp_path: Path,
    situation: str,
    other: float,
    told: float | None,
    per_job: float,
    share_429: float,
) -> None:
    journal = tmp_path / "run.jsonl"
    with _shared_account(other) as api, JobsClient(api.api_key, base_url=api.base_url) as client:
        _scaled(client, told)
        summary = client.retry_failed(api.application_id, wait=True, journal=journal)
        requests, limited = _check(api, journal, summary)
    assert requests / 300 <= per_job, f"{situation}: {requests} requests for 300 jobs"
    assert limited <= requests * share_429, f"{situation}: {limited} 429s of {requests}"
    if other:
        assert limited > 0 and api.other_admitted > 0, "the account really was shared"
    print(f"{situation}: {requests / 300:.2f} requests a job, {limited} 429s")


async def test_a_shared_account_async_run_adapts_and_finishes(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with _shared_account(0.5) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            _scaled(client, PER_MINUTE)
            summary = await client.retry_failed(api.application_id, wait=True, journal=journal)
        requests, limited = _check(api, journal, summary)
    assert requests / 300 <= 1.4 and limited <= requests * 0.05


def test_a_429_storm_longer_than_the_window_during_the_watch_rounds(tmp_path: Path) -> None:
    """Another program takes the whole account for two windows and more (here 14 s of
    a 6 s window; Writer's: two minutes) while the run watches its jobs. Each list
    page waits and goes again however long it takes: max_retries=0 is for single
    calls, not for a bulk run's 429s. The run ends by itself; nothing is reported
    wrong."""
    journal = tmp_path / "run.jsonl"
    storm = OtherConsumer(per_minute=PER_MINUTE * 20, start=0.0, duration=14.0)
    with (
        _shared_account() as api,
        JobsClient(api.api_key, base_url=api.base_url, max_retries=0) as client,
    ):
        _scaled(client, PER_MINUTE)
        started: list[float] = []

        def on_progress(_: Any) -> None:
            if not started:  # once the jobs are known, the storm is a second away
                started.append(api.elapsed() + 1.0)
                api.schedule(attrs.evolve(storm, start=started[0]))

        summary = client.retry_failed(
            api.application_id, wait=True, journal=journal, on_progress=on_progress
        )
        _check(api, journal, summary)
        storm_start = api._schedule.origin + started[0]
        refused_lists = [
            e
            for e in api.log
            if e.operation == "list_jobs" and e.status == 429 and e.at >= storm_start
        ]
    assert refused_lists, "the watcher's list rounds met the storm"
