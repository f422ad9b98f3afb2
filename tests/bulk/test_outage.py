"""Bulk runs outlast the service's bad minutes: an outage (503 to everything, or
connections closed unanswered, with or without the request carried out first) in the
middle of retry_failed(wait=True) holds the work back; the run finishes by itself,
each job re-triggered exactly once, every reported status the server's. An outage
longer than max_unavailable stops the run with ServiceUnavailableError, and a resume
with the journal finishes the work. Counted on the server; never wall time. A minute
of the real service is a few seconds here. The clients have max_retries=0: it
bounds single calls, not a bulk run's waits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import AsyncJobsClient, JobsClient, ServiceUnavailableError
from writer_jobs.testing import FakeWriterAPI, Outage

JOBS = 60


def _account() -> FakeWriterAPI:
    return FakeWriterAPI(
        seed_failed=JOBS,
        seed_completed=200,
        newest_first=True,
        delay=(0.5, 1.0),
        failure_ratio=0.2,
        seed=3,
    )


def _outage_after_listing(api: FakeWriterAPI, outage: dict[str, Any]) -> Any:
    """on_progress: once the jobs are known, the outage starts (while the POSTs go)."""
    scheduled: list[Outage] = []

    def on_progress(_: Any) -> None:
        if not scheduled:
            scheduled.append(Outage(start=api.elapsed() + 0.3, **outage))
            api.schedule(scheduled[0])

    return on_progress


def _still_out(api: FakeWriterAPI) -> bool:
    return api._fake.schedule.outage(time.monotonic()) is not None


def _finals(journal: Path) -> dict[str, list[str | None]]:
    finals: dict[str, list[str | None]] = {}
    for entry in map(json.loads, journal.read_text().splitlines()):
        if entry["event"] == "outcome" and entry["final"]:
            finals.setdefault(entry["job_id"], []).append(entry["status"])
    return finals


def _exactly_once_and_right(api: FakeWriterAPI, journal: Path) -> None:
    per_job = api.retries_per_job()
    assert set(per_job) == set(api.seeded), "no job lost"
    assert max(per_job.values()) == 1, "no job triggered twice"
    truth = {str(j): api.store.job(j).status.value for j in api.seeded}
    finals = _finals(journal)
    assert all(len(s) == 1 for s in finals.values()), "one final outcome a job"
    assert {j: s[0] for j, s in finals.items()} == truth, "every status the server's"


OUTAGES = {
    "503": {"duration": 3.0, "kind": "503"},
    "closed": {"duration": 3.0, "kind": "close"},
    "closed after carrying out": {"duration": 3.0, "kind": "close", "processed": True},
}


@pytest.mark.parametrize("outage", list(OUTAGES), ids=list(OUTAGES))
def test_an_outage_mid_run_is_waited_out(tmp_path: Path, outage: str) -> None:
    journal = tmp_path / "run.jsonl"
    with (
        _account() as api,
        JobsClient(api.api_key, base_url=api.base_url, rate_limit=900, max_retries=0) as c,
    ):
        summary = c.retry_failed(
            api.application_id,
            wait=True,
            journal=journal,
            on_progress=_outage_after_listing(api, OUTAGES[outage]),
        )
        met = api.unavailable
        _exactly_once_and_right(api, journal)
        outage_posts = [e for e in api.log if e.fault == "outage" and e.operation == "retry_job"]
    assert met > 0 and summary.unavailable_seconds > 0, "the run met the outage"
    assert summary.errors == 0 and summary.outcomes == {"retried": JOBS}
    # Polite: one probe at a time through the outage, not every worker hammering it.
    assert met <= 40, f"{met} requests answered during a 3 s outage"
    if outage == "closed after carrying out":
        assert outage_posts and all(e.processed for e in outage_posts), "answers were lost"


async def test_an_outage_mid_run_is_waited_out_async(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with _account() as api:
        async with AsyncJobsClient(
            api.api_key, base_url=api.base_url, rate_limit=900, max_retries=0
        ) as c:
            summary = await c.retry_failed(
                api.application_id,
                wait=True,
                journal=journal,
                on_progress=_outage_after_listing(api, OUTAGES["closed after carrying out"]),
            )
        _exactly_once_and_right(api, journal)
        assert api.unavailable > 0 and summary.errors == 0


def test_an_outage_longer_than_the_bound_stops_and_the_resume_finishes(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with _account() as api:
        with (
            JobsClient(api.api_key, base_url=api.base_url, rate_limit=900, max_retries=0) as client,
            pytest.raises(ServiceUnavailableError) as stopped,
        ):
            client.retry_failed(
                api.application_id,
                wait=True,
                journal=journal,
                max_unavailable=1.5,
                on_progress=_outage_after_listing(
                    api, {"duration": 4.0, "kind": "close", "processed": True}
                ),
            )
        assert stopped.value.unavailable_for > 1.5
        assert "run again with it to resume" in str(stopped.value)
        assert max(api.retries_per_job().values()) == 1
        # The outage ends; the resume (a new client, as a new process) finishes.
        while api.elapsed() < 20.0 and api.unavailable and _still_out(api):
            time.sleep(0.2)
        with JobsClient(
            api.api_key, base_url=api.base_url, rate_limit=900, max_retries=0
        ) as client:
            summary = client.retry_failed(api.application_id, wait=True, journal=journal)
        _exactly_once_and_right(api, journal)
    assert summary.errors == 0


def test_the_cli_says_the_api_is_unavailable_stops_at_the_bound_with_exit_75(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with _account() as api:
        api.schedule(Outage(start=0.0, duration=60.0, kind="503"))
        done = subprocess.run(
            [
                *(sys.executable, "-m", "writer_jobs", "--base-url", api.base_url),
                *("--api-key", api.api_key, "retry-failed", api.application_id),
                *("--wait", "--yes", "--journal", str(journal), "--max-unavailable", "2"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert api.processed("retry_job") == 0
    assert done.returncode == 75, done.stderr
    assert "API unavailable for" in done.stderr and "(503), waiting" in done.stderr
    assert "the journal keeps your place" in done.stderr
    assert "longer than --max-unavailable 2 s: stopped" in done.stderr
    assert f"the journal {journal} keeps its place: rerun the same command" in done.stderr
    assert api.api_key not in done.stderr + done.stdout
