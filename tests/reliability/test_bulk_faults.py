"""retry_failed over 2,000 failed jobs with 20 % mixed faults."""

from __future__ import annotations

import collections
import json
from pathlib import Path

from writer_jobs import AsyncJobsClient
from writer_jobs.testing import FakeWriterAPI, Faults

KINDS = ("429", "500", "502", "503", "504", "drop_before", "drop_after", "latency")


async def test_two_thousand_jobs_twenty_percent_faults(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    faults = Faults(rate=0.2, kinds=KINDS, seed=20, retry_after=0.01, latency=0.05)
    with FakeWriterAPI(seed_failed=2000, delay=60, faults=faults) as api:
        async with AsyncJobsClient(
            api.api_key,
            base_url=api.base_url,
            max_retries=10,
            backoff_initial=0.005,
            backoff_max=0.05,
        ) as client:
            summary = await client.retry_failed(
                api.application_id, concurrency=64, rate_limit=None, journal=journal
            )
        per_job = api.retries_per_job()
        injected = collections.Counter(e.fault for e in api.log if e.fault)
    finals: collections.Counter[str] = collections.Counter()
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        if entry["event"] == "outcome":
            assert entry["final"], entry
            finals[entry["job_id"]] += 1
    assert len(finals) == 2000 and set(finals.values()) == {1}, "one final outcome per job"
    assert set(per_job) == set(api.seeded) and set(per_job.values()) == {1}, "none twice"
    assert summary.total == 2000 and sum(summary.outcomes.values()) == 2000
    assert summary.outcomes == {"retried": 2000}
    assert set(injected) >= {"429", "503", "drop_after", "drop_before"}
    assert summary.transient_failures >= injected["429"] + injected["503"]
