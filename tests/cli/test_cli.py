"""The real console script, in a subprocess, against the fake server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from writer_jobs.testing import FakeWriterAPI, Faults

from ..conftest import Processes

SCRIPT = str(Path(sys.executable).parent / "writer-jobs")
SENTINEL = "sk-SENTINEL-cli-9b7e"
COMMANDS = ["retry", "get", "list", "create", "wait", "retry-failed", "serve", "batch"]


@pytest.fixture
def api() -> Iterator[FakeWriterAPI]:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=12, delay=0.2) as fake:
        yield fake


def run(
    api: FakeWriterAPI | None, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    if api is not None:
        environment |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
    environment |= env or {}
    return subprocess.run(
        [SCRIPT, *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def no_key(result: subprocess.CompletedProcess[str]) -> None:
    assert SENTINEL not in result.stdout and SENTINEL not in result.stderr


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_reads_well(command: str | None) -> None:
    result = run(None, *([command] if command else []), "--help")
    assert result.returncode == 0
    assert "usage: writer-jobs" in result.stdout
    if command:
        assert len(result.stdout.splitlines()) > 4


def test_get_and_list_as_json(api: FakeWriterAPI) -> None:
    got = run(api, "get", str(api.seeded[0]), "--json")
    assert got.returncode == 0, got.stderr
    assert lines(got.stdout)[0]["id"] == str(api.seeded[0])
    listed = run(api, "--json", "list", api.application_id, "--status", "failed", "--limit", "5")
    assert listed.returncode == 0 and len(lines(listed.stdout)) == 5
    no_key(got)
    no_key(listed)


def test_human_output_is_a_table(api: FakeWriterAPI) -> None:
    result = run(api, "list", api.application_id)
    assert result.returncode == 0
    assert "12 jobs of demo-app" in result.stdout and "failed" in result.stdout
    assert str(api.seeded[0]) in result.stdout


def test_retry_wait_and_create(api: FakeWriterAPI) -> None:
    retried = run(api, "retry", str(api.seeded[0]), str(api.seeded[1]), "--wait", "--json")
    assert retried.returncode == 0, retried.stderr
    assert [j["status"] for j in lines(retried.stdout)] == ["completed", "completed"]
    assert api.retries_per_job() == {api.seeded[0]: 1, api.seeded[1]: 1}
    created = run(
        api,
        "--json",
        "create",
        "my-app",
        "--input",
        "topic=cats",
        "--input",
        "topic=dogs",
        "--input",
        "tone=",
    )
    assert created.returncode == 0, created.stderr
    job_id = lines(created.stdout)[0]["id"]
    waited = run(api, "wait", job_id, "--wait-timeout", "10", "--json")
    assert lines(waited.stdout)[0]["status"] == "completed"
    assert api.store.job(api.store.get(__import__("uuid").UUID(job_id)).id).inputs == [
        {"id": "topic", "value": ["cats", "dogs"]},
        {"id": "tone", "value": [""]},
    ]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["get", "not-a-uuid"], "'not-a-uuid'"),
        (["retry", "123"], "'123'"),
        (["list", "a/b"], "application_id must not contain '/'"),
        (["create", "app", "--input", "novalue"], "NAME=VALUE"),
        (["retry-failed", "app", "--concurrency", "0"], "must be >= 1"),
        (
            ["wait", "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e", "--wait-timeout", "-1"],
            "must be a finite",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_and_say_what_was_received(
    api: FakeWriterAPI, args: list[str], needle: str
) -> None:
    result = run(api, *args)
    assert result.returncode == 2, result
    assert needle in result.stderr
    assert api.log == [], "nothing was sent"


def test_missing_key_is_a_usage_error_naming_the_variable(api: FakeWriterAPI) -> None:
    result = run(None, "--base-url", api.base_url, "get", str(api.seeded[0]))
    assert result.returncode == 2 and "WRITER_API_KEY" in result.stderr


def test_api_errors_exit_1_with_the_reason(api: FakeWriterAPI) -> None:
    missing = run(api, "get", "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
    assert missing.returncode == 1
    assert "get failed" in missing.stderr and "404" in missing.stderr
    wrong_key = run(api, "--api-key", "nope", "get", str(api.seeded[0]))
    assert wrong_key.returncode == 1 and "401" in wrong_key.stderr
    refused = run(
        None,
        "--max-retries",
        "1",
        "--api-key",
        "k",
        "--base-url",
        "http://127.0.0.1:9",
        "get",
        str(api.seeded[0]),
    )
    assert refused.returncode == 1 and "connection failed" in refused.stderr


def test_verbose_logs_never_show_the_key(api: FakeWriterAPI) -> None:
    api.fail_next("get_job", "503")
    result = run(api, "-vv", "get", str(api.seeded[0]))
    assert result.returncode == 0
    assert "attempt 1 of 6" in result.stderr and "retrying in" in result.stderr
    no_key(result)


def test_retry_failed_json_outcomes_and_summary(api: FakeWriterAPI, tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    result = run(
        api,
        "--json",
        "retry-failed",
        api.application_id,
        "--wait",
        "--journal",
        str(journal),
        "--rate-limit",
        "0",
        "--concurrency",
        "4",
    )
    assert result.returncode == 0, result.stderr
    events = lines(result.stdout)
    outcomes = [e for e in events if e["event"] == "outcome"]
    assert len(outcomes) == 12 and {e["status"] for e in outcomes} == {"completed"}
    summary = events[-1]
    assert summary["event"] == "summary" and summary["outcomes"] == {"retried": 12}
    assert summary["ok"] is True
    no_key(result)
    assert SENTINEL not in journal.read_text()


def test_retry_failed_human_summary(api: FakeWriterAPI) -> None:
    result = run(api, "retry-failed", api.application_id, "--rate-limit", "0")
    assert result.returncode == 0
    assert "outcome: retried" in result.stdout and "12" in result.stdout


def _start(
    processes: Processes, api: FakeWriterAPI, journal: Path, rate: str
) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    environment |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
    return processes.start(
        [
            SCRIPT,
            "--json",
            "retry-failed",
            api.application_id,
            "--journal",
            str(journal),
            "--rate-limit",
            rate,
            "--concurrency",
            "8",
        ],
        sigint=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def _wait_for_outcomes(journal: Path, count: int, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if journal.exists() and journal.read_text().count('"event":"outcome"') >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the run did not get going")


def test_sigkill_mid_run_then_resume_triggers_nothing_twice(
    tmp_path: Path, processes: Processes
) -> None:
    journal = tmp_path / "j.jsonl"
    faults = Faults(rate=0.1, kinds=("503", "drop_after", "429"), seed=11, retry_after=0.01)
    with FakeWriterAPI(seed_failed=150, delay=30, faults=faults) as api:
        proc = _start(processes, api, journal, "1500")  # 25 requests/s: several seconds of work
        _wait_for_outcomes(journal, 20)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        resumed = run(
            api,
            "--json",
            "retry-failed",
            api.application_id,
            "--journal",
            str(journal),
            "--rate-limit",
            "0",
            "--concurrency",
            "8",
        )
        assert resumed.returncode == 0, resumed.stderr
        per_job = api.retries_per_job()
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1
    finals: dict[str, int] = {}
    for line in journal.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line the kill cut in half
        if entry["event"] == "outcome" and entry["final"]:
            finals[entry["job_id"]] = finals.get(entry["job_id"], 0) + 1
    assert len(finals) == 150 and set(finals.values()) == {1}


def test_sigint_stops_cleanly_with_the_journal_intact(tmp_path: Path, processes: Processes) -> None:
    journal = tmp_path / "j.jsonl"
    with FakeWriterAPI(seed_failed=100, delay=30) as api:
        proc = _start(processes, api, journal, "600")
        _wait_for_outcomes(journal, 5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "rerun the same command to resume" in stderr
    assert str(journal) in stderr
    for line in journal.read_text().splitlines():
        json.loads(line)  # every line whole


def test_serve_runs_the_fake(tmp_path: Path, processes: Processes) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = processes.start(
        [SCRIPT, "--json", "serve", "--port", str(port), "--seed-failed", "3"],
        sigint=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        serving = json.loads(proc.stdout.readline())
        assert serving["base_url"] == f"http://127.0.0.1:{port}"
        assert serving["seeded_failed"] == 3
        listed = subprocess.run(
            [
                SCRIPT,
                "--json",
                "--base-url",
                serving["base_url"],
                "--api-key",
                serving["api_key"],
                "list",
                serving["application_id"],
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert listed.returncode == 0 and len(lines(listed.stdout)) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


@pytest.mark.parametrize(("kind", "said"), [("503", "503"), ("close", "RemoteProtocolError")])
def test_serve_schedules_an_outage(processes: Processes, kind: str, said: str) -> None:
    proc = processes.start(
        [SCRIPT, "--json", "serve", "--seed-failed", "1", "--outage", f"0:600:{kind}"],
        sigint=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        serving = json.loads(proc.stdout.readline())
        listed = subprocess.run(
            [
                SCRIPT,
                "--base-url",
                serving["base_url"],
                "--api-key",
                serving["api_key"],
                "--max-retries",
                "0",
                "list",
                serving["application_id"],
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert listed.returncode == 1 and said in listed.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--outage", "20"], "must be START:DURATION[:503|close]"),
        (["--outage", "20:60:flaky"], "received '20:60:flaky'"),
        (["--outage=-1:60"], "received '-1:60'"),
        (["--other-consumer", "200"], "give the account one with --rate-limit"),
    ],
)
def test_serve_refuses_a_bad_condition(args: list[str], said: str) -> None:
    done = subprocess.run(
        [SCRIPT, "serve", *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2 and said in done.stderr
