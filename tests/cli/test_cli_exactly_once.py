"""The CLI under issue 9's conditions, in a subprocess against the fake."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

from writer_jobs.testing import FakeWriterAPI

from ..conftest import Processes
from .test_cli import SCRIPT, SENTINEL, lines, no_key, run


def test_retry_whose_answer_was_lost_and_that_failed_again_exits_1_after_one_trigger() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=1, fail_again_after=0.0) as api:
        api.fail_next("retry_job", "drop_after")
        result = run(api, "retry", str(api.seeded[0]))
        assert api.processed("retry_job") == 1
    assert result.returncode == 1
    # One table, whatever happened: the error in the job's row, said in full.
    assert "not retried" in result.stdout and "RetryOutcomeUnknownError" in result.stdout
    assert "nevertriggeredtwice" in "".join(result.stdout.replace("│", "").split())
    assert "1 of 1 job could not be retried" in result.stderr
    no_key(result)


def test_retry_with_several_ids_goes_on_past_a_failure_and_exits_1() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3, delay=30) as api:
        missing = str(uuid.UUID(int=7))
        ids = [str(api.seeded[0]), missing, str(api.seeded[1]), str(api.seeded[2])]
        result = run(api, "--json", "retry", *ids)
        assert {e.job_id for e in api.log if e.processed} == set(api.seeded)
    assert result.returncode == 1
    out = lines(result.stdout)
    assert [o.get("id") for o in out] == ids, "one line per job, in order"
    errors = [o for o in out if o.get("event") == "error"]
    assert len(errors) == 1 and errors[0]["error_type"] == "NotFoundError"
    assert "1 of 4 jobs could not be retried" in result.stderr


def test_retry_failed_with_another_applications_journal_exits_2_before_any_request(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text(
        json.dumps({"event": "journal", "application_id": "other", "base_url": "x"}) + "\n"
    )
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3) as api:
        result = run(api, "retry-failed", api.application_id, "--journal", str(journal))
        assert api.log == []
    assert result.returncode == 2
    assert "belongs to application 'other'" in result.stderr


def test_timeout_zero_is_a_usage_error() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=1) as api:
        result = run(api, "--timeout", "0", "get", str(api.seeded[0]))
        assert api.log == []
    assert result.returncode == 2 and "> 0" in result.stderr


def test_a_second_retry_failed_process_is_refused_naming_the_first(
    tmp_path: Path, processes: Processes
) -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=60, delay=30) as api:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        environment |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
        a = str(tmp_path / "a.jsonl")
        # 60 jobs at 120/min: the first run lasts ~30 s and lists only at its start.
        first = processes.start(
            [SCRIPT, "retry-failed", api.application_id, "--rate-limit", "120", "--journal", a],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while api.processed("retry_job") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            before = len(api.log)
            second = run(
                api, "retry-failed", api.application_id, "--journal", str(tmp_path / "b.jsonl")
            )
            listings_meanwhile = [e for e in api.log[before:] if e.operation == "list_jobs"]
        finally:
            first.terminate()
            first.wait(20)
    assert second.returncode == 1
    assert f"pid {first.pid}" in second.stderr and api.application_id in second.stderr
    assert listings_meanwhile == [], "the second run sent nothing"
    no_key(second)
