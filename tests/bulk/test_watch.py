"""Watching many jobs with list pages: every final status is the one the server ended
the job with (never a guess), each job is reported once, and the watcher falls back
to GETs where the lists cannot prove an end."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import AsyncJobsClient, JobsClient, JobStatus, WaitTimeoutError
from writer_jobs.bulk._watcher import Watcher
from writer_jobs.testing import FakeWriterAPI


def _final_statuses(api: FakeWriterAPI) -> dict[str, str]:
    return {str(j): api.store.job(j).status.value for j in api.seeded}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retry_failed_with_wait_reports_the_status_each_job_ended_with(
    tmp_path: Path, kind: str
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=120, delay=0.6, failure_ratio=0.3, seed=11) as api:
        settings: dict[str, Any] = {"journal": journal, "wait": True, "concurrency": 8}
        if kind == "sync":
            with JobsClient(api.api_key, base_url=api.base_url) as client:
                summary = client.retry_failed(api.application_id, **settings)
        else:
            async with AsyncJobsClient(api.api_key, base_url=api.base_url) as aclient:
                summary = await aclient.retry_failed(api.application_id, **settings)
        truth = _final_statuses(api)
        per_job = api.retries_per_job()
    outcomes = [
        e for e in map(json.loads, journal.read_text().splitlines()) if e["event"] == "outcome"
    ]
    assert {e["job_id"]: e["status"] for e in outcomes} == truth, "0 wrong final statuses"
    assert len(outcomes) == 120 and max(per_job.values()) == 1
    assert summary.statuses == {s: list(truth.values()).count(s) for s in set(truth.values())}
    assert set(truth.values()) == {"completed", "failed"}, "both ends happened"


def test_wait_many_yields_each_job_once_as_it_ends() -> None:
    with FakeWriterAPI(seed_failed=30, delay=0.5, failure_ratio=0.5, seed=3) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            for job_id in api.seeded:
                client.retry(job_id)
            seen = list(client.wait_many([*api.seeded, api.seeded[0]], deadline=60))
        truth = {j: api.store.job(j).status for j in api.seeded}
    assert sorted(j.id for j in seen) == sorted(api.seeded), "each once, duplicates folded"
    assert all(j.status is truth[j.id] for j in seen)


async def test_async_wait_many_and_its_deadline() -> None:
    with FakeWriterAPI(seed_failed=5, delay=30) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            for job_id in api.seeded:
                await client.retry(job_id)
            got = []
            with pytest.raises(WaitTimeoutError, match="5 jobs were still running"):
                async for job in client.wait_many(api.seeded, deadline=1.0):
                    got.append(job)
    assert got == []


def test_a_job_already_finished_is_yielded_at_once() -> None:
    with (
        FakeWriterAPI(seed_failed=2) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        done = list(client.wait_many(api.seeded))
    assert [j.status for j in done] == [JobStatus.FAILED, JobStatus.FAILED]
    assert [e.operation for e in api.log] == ["get_job", "get_job"]


def test_a_job_failing_again_within_the_same_stored_minute_is_reported_ended() -> None:
    """Timestamps stored to the minute: a job re-triggered and failing again 0.05 s
    later shows the updated_at it had before. Lists cannot tell the two failures
    apart; the GET after the trigger can, so the wait ends instead of running on."""
    api = FakeWriterAPI(seed_failed=3, fail_again_after=0.05, timestamp_resolution=60.0)
    with api, JobsClient(api.api_key, base_url=api.base_url) as client:
        summary = client.retry_failed(api.application_id, wait=True, wait_deadline=20)
        job_id = client.retry(api.seeded[0]).id
        ended = list(client.wait_many([job_id], deadline=20))
    assert summary.outcomes == {"retried": 3} and summary.statuses == {"failed": 3}
    assert [j.status for j in ended] == [JobStatus.FAILED]


@pytest.mark.timeout(60)
def test_a_refailure_stamped_by_a_job_clock_behind_still_ends_the_wait() -> None:
    """The failures retried were stamped 2 s ago; the job clock stamping the re-failures
    is 5 s behind, so each new failure's updated_at is earlier than the listed one and
    than the retry. A GET after the trigger shows it changed: both waits end with the
    status the server shows (the bounds are far past the 0.05 s the jobs take)."""
    api = FakeWriterAPI(
        seed_failed=3, seed_failed_age=2.0, fail_again_after=0.05, fail_again_clock_offset=-5.0
    )
    with api, JobsClient(api.api_key, base_url=api.base_url) as client:
        summary = client.retry_failed(api.application_id, wait=True, wait_deadline=30)
        job_ids = [client.retry(job_id).id for job_id in api.seeded]
        ended = list(client.wait_many(job_ids, deadline=30))
    assert summary.outcomes == {"retried": 3} and summary.statuses == {"failed": 3}
    assert sorted(j.id for j in ended) == sorted(api.seeded)
    assert all(j.status is JobStatus.FAILED for j in ended)


def test_a_watch_round_holds_while_workers_add_and_drop_jobs_meanwhile() -> None:
    """A sync run's workers add the jobs they made to the watcher (and the run drops the
    expired ones) while the watcher's thread is in a round. A round that read the live
    table raised "dictionary changed size during iteration" and killed a 20,000-row
    batch on a fast account (exit 1, 17,855 rows without a record)."""
    with (
        FakeWriterAPI(newest_first=True) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        watchers: list[Watcher] = []
        stop = threading.Event()

        def workers() -> None:
            while not stop.is_set():
                for watcher in list(watchers):
                    jobs = [uuid.uuid4() for _ in range(200)]
                    for job in jobs:
                        watcher.add(job, 1.0)
                    watcher.drop(jobs[:100])

        churn = threading.Thread(target=workers, daemon=True)
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)  # threads take turns often: the race shows each round
        churn.start()
        rounds = 0
        try:
            while rounds < 30:
                watcher = Watcher(api.application_id)
                for _ in range(20_000):
                    watcher.add(uuid.uuid4(), 1.0)
                watchers.append(watcher)
                ended = client._run(watcher.round(client._config, None))
                watchers.remove(watcher)
                assert ended == []  # none of them is the application's
                rounds += 1
        finally:
            stop.set()
            churn.join()
            sys.setswitchinterval(switch)
