"""The account's rate limit is the real bound: retry_failed(wait=True) against a fake
account with a sliding-window limit, newest-first lists and a long history, at 15x
speed (6,000 requests a minute, jobs of 1-2 s). Counted on the server: requests a
job, 429s, final statuses, double triggers. Never wall time (a shared machine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import AsyncJobsClient, JobsClient
from writer_jobs.testing import FakeWriterAPI


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
