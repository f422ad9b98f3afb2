"""Preview and selection: a dry run sends no POST; the selection (failed since/before,
error text, a maximum) is applied before any POST and kept by a resume."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest

from writer_jobs import InvalidArgumentError, JobOutcome, JobsClient, Selection
from writer_jobs.testing import FakeWriterAPI

from ..cli.test_cli import SENTINEL, lines, run


def _errors(api: FakeWriterAPI, texts: dict[int, str]) -> None:
    for index, text in texts.items():
        api.store.job(api.seeded[index]).error = text


def test_a_dry_run_lists_what_would_be_retried_and_sends_no_post() -> None:
    with FakeWriterAPI(seed_failed=6) as api:
        _errors(api, {0: "The model timed out", 1: "The model timed out"})
        seen: list[JobOutcome] = []
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            summary = client.retry_failed(api.application_id, dry_run=True, on_outcome=seen.append)
        assert api.processed("retry_job") == 0
    assert summary.outcomes == {"would_retry": 6}
    assert {o.job_id for o in seen} == set(api.seeded)
    assert sum(1 for o in seen if o.message == "The model timed out") == 2


def test_a_dry_run_takes_no_journal() -> None:
    with FakeWriterAPI(seed_failed=1) as api, JobsClient(api.api_key, base_url=api.base_url) as c:
        with pytest.raises(InvalidArgumentError, match="dry run"):
            c.retry_failed(api.application_id, dry_run=True, journal="/tmp/x.jsonl")
        assert api.log == []


def test_selection_by_error_time_and_count() -> None:
    with FakeWriterAPI(seed_failed=10, delay=30) as api:
        _errors(api, {i: "Rate limited upstream" for i in range(0, 10, 2)})
        time.sleep(0.05)
        boundary = datetime.datetime.now(datetime.UTC)
        time.sleep(0.05)
        late = api.seed_failed(4)
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            by_error = client.retry_failed(
                api.application_id, select=Selection(error_matches="(?i)rate limited")
            )
            retried_by_error = set(api.retries_per_job())
            by_time = client.retry_failed(
                api.application_id, select=Selection(failed_since=boundary, limit=3)
            )
        retried = api.retries_per_job()
    assert retried_by_error == {api.seeded[i] for i in range(0, 10, 2)}
    assert by_error.outcomes == {"retried": 5} and by_error.unselected == 9
    assert by_time.outcomes == {"retried": 3} and by_time.unselected == 5 + 1
    assert set(retried) - retried_by_error <= set(late) and len(retried) == 8
    assert max(retried.values()) == 1


def test_a_resume_keeps_the_selection(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=30, delay=30) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            count = {"n": 0}

            def crash(_: JobOutcome) -> None:
                count["n"] += 1
                if count["n"] == 4:
                    raise KeyError("crash")

            with pytest.raises(KeyError):
                client.retry_failed(
                    api.application_id,
                    select=Selection(limit=10),
                    journal=journal,
                    concurrency=1,
                    on_outcome=crash,
                )
            with pytest.raises(InvalidArgumentError, match="keeps its selection"):
                client.retry_failed(api.application_id, select=Selection(limit=20), journal=journal)
            client.retry_failed(api.application_id, journal=journal)  # the journal's selection
        retried = api.retries_per_job()
    assert len(retried) == 10 and max(retried.values()) == 1
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["selection"] == {"limit": 10}


def test_a_job_started_but_never_processed_counts_once_against_the_limit(
    tmp_path: Path,
) -> None:
    """Killed between a job's "started" line and its POST reaching the server: the
    resume finds the job still failed in the listing. It was counted in the limit when
    the first run selected it, and must not be counted again (a job would be lost)."""
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=30, delay=30) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            count = {"n": 0}

            def crash(_: JobOutcome) -> None:
                count["n"] += 1
                if count["n"] == 3:
                    raise KeyError("crash")

            with pytest.raises(KeyError):
                client.retry_failed(
                    api.application_id,
                    select=Selection(limit=10),
                    journal=journal,
                    concurrency=1,
                    on_outcome=crash,
                )
            done = set(api.retries_per_job())
            untouched = next(j for j in api.seeded if j not in done)
            listed = client.get(untouched).updated_at
            assert isinstance(listed, datetime.datetime)
            line = {  # the line a crash left just before the POST went out
                "event": "started",
                "job_id": str(untouched),
                "listed_updated_at": listed.timestamp(),
                "server_at_least": time.time(),
            }
            with journal.open("a") as f:
                f.write(json.dumps(line) + "\n")
            client.retry_failed(api.application_id, journal=journal)
        retried = api.retries_per_job()
    assert untouched in retried
    assert len(retried) == 10 and max(retried.values()) == 1


def test_a_bad_selection_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidArgumentError, match="regular expression"):
        Selection(error_matches="(")
    with pytest.raises(InvalidArgumentError, match="limit"):
        Selection(limit=0)


def test_cli_dry_run_and_selection() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=5) as api:
        _errors(api, {0: "The model timed out", 1: "The model timed out"})
        dry = run(api, "retry-failed", api.application_id, "--dry-run", "--error-matches", "timed")
        dry_json = run(
            api, "retry-failed", api.application_id, "--dry-run", "--json", "--limit", "2"
        )
        bad = run(api, "retry-failed", api.application_id, "--failed-since", "yesterday")
        assert api.processed("retry_job") == 0
    assert dry.returncode == 0, dry.stderr
    assert "2 failed jobs of demo-app would be retried" in dry.stdout
    assert str(api.seeded[0]) in dry.stdout and "nothing was sent" in dry.stdout
    assert "left out by the selection: 3" in dry.stdout
    outcomes = [o for o in lines(dry_json.stdout) if o.get("event") == "outcome"]
    assert len(outcomes) == 2 and all(o["outcome"] == "would_retry" for o in outcomes)
    assert bad.returncode == 2 and "an age" in bad.stderr
