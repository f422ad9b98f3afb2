"""The CLI for a day of bulk work (part of it): options on either side of the command,
exit codes that say how jobs ended, a closed pipe, python -m, a base URL ending in /v1,
readable results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from writer_jobs import JobDetails, Unset
from writer_jobs.testing import FakeWriterAPI

from ..conftest import Processes
from .test_cli import SCRIPT, SENTINEL, lines, run


def test_global_options_go_before_or_after_the_command() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=1) as api:
        job = str(api.seeded[0])
        assert run(api, "get", job, "--timeout", "5", "--max-retries", "0").returncode == 0
        assert (
            run(api, "--timeout", "5", "list", api.application_id, "--max-retries", "0").returncode
            == 0
        )


def test_exit_3_when_a_job_waited_for_ended_failed() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=4, delay=0.3, failure_ratio=1.0) as api:
        ids = [str(j) for j in api.seeded]
        retried = run(api, "retry", ids[0], "--wait", "--json")
        waited = run(api, "wait", ids[0], "--json")
        bulk = run(api, "retry-failed", api.application_id, "--wait")
    assert retried.returncode == 3 and lines(retried.stdout)[0]["status"] == "failed"
    assert waited.returncode == 3
    assert bulk.returncode == 3
    listed = bulk.stderr.split("4 jobs failed again: ")[1].splitlines()[0].split()
    assert sorted(listed) == sorted(ids), "every failed-again id, on one line"


def test_exit_0_when_every_job_waited_for_completed() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=2, delay=0.3) as api:
        result = run(api, "retry", *map(str, api.seeded), "--wait", "--json")
    assert result.returncode == 0
    assert {line["status"] for line in lines(result.stdout)} == {"completed"}


def test_a_reader_that_goes_away_is_not_a_traceback() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3000) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        env |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
        result = subprocess.run(  # noqa: S602 - a shell pipeline is the point
            f"set -o pipefail; '{SCRIPT}' list {api.application_id} --json | head -1",
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_python_dash_m_and_a_base_url_ending_in_v1() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=1) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "writer_jobs",
                "--base-url",
                api.base_url + "/v1/",
                "--api-key",
                SENTINEL,
                "--json",
                "get",
                str(api.seeded[0]),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout)[0]["status"] == "failed"
    assert [e.path for e in api.log] == [f"/v1/applications/jobs/{api.seeded[0]}"]


def test_printing_a_result_shows_its_fields_never_an_address() -> None:
    job = JobDetails.from_dict(
        {
            "id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
            "status": "completed",
            "application_id": "a",
            "created_at": "2025-01-02T03:04:05Z",
        }
    )
    assert " at 0x" not in repr(job) and "data=UNSET" in repr(job)
    assert str(job.error) == "UNSET" and isinstance(job.error, Unset)


def test_progress_lines_on_stderr_when_not_a_terminal() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=30, delay=30) as api:
        # 30 jobs at 120 a minute: about 15 s, so at least two progress lines.
        result = run(api, "retry-failed", api.application_id, "--rate-limit", "120")
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if " finished " in line]
    assert len(progress) >= 2 and progress[-1].startswith("retrying demo-app: finished 30/30")


def test_tables_never_cut_ids_or_statuses_and_get_shows_the_result() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3, delay=0.2) as api:
        run(api, "retry", *map(str, api.seeded), "--wait")
        for columns in ("80", "120"):
            listed = run(api, "list", api.application_id, env={"COLUMNS": columns})
            assert listed.returncode == 0, listed.stderr
            for job_id in api.seeded:
                assert str(job_id) in listed.stdout, f"an id cut at {columns} columns"
            assert listed.stdout.count("completed") == 3
            assert "3 jobs of demo-app" in listed.stdout
        one = run(api, "get", str(api.seeded[0]), env={"COLUMNS": "120"})
    assert "Generated for" in one.stdout and "suggestion" in one.stdout, "get shows the result"


def _with_stdin(api: FakeWriterAPI, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    env |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
    return subprocess.run(
        [SCRIPT, *args],
        input=text,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_ids_from_stdin_plain_or_json_lines_from_list() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3, delay=30) as api:
        listed = run(api, "list", api.application_id, "--json")
        retried = _with_stdin(api, listed.stdout, "retry", "-", "--json")
        assert retried.returncode == 0, retried.stderr
        assert {e.job_id for e in api.log if e.operation == "retry_job"} == set(api.seeded)
        plain = _with_stdin(
            api,
            "\n".join(map(str, api.seeded)) + "\n",
            "wait",
            "-",
            "--json",
            "--wait-timeout",
            "0.5",
        )
        bad = _with_stdin(api, "not-an-id\n", "retry", "-")
    assert plain.returncode == 124 and "still running" in plain.stderr
    assert bad.returncode == 2 and "stdin line 1" in bad.stderr


def test_messages_name_cli_flags_not_library_arguments() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    result = subprocess.run(
        [SCRIPT, "get", "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "--api-key" in result.stderr
    assert "api_key=" not in result.stderr


def test_completion_and_serve_help_tell_the_truth() -> None:
    completion = subprocess.run(
        [SCRIPT, "--print-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completion.returncode == 0 and "retry-failed" in completion.stdout
    serve = subprocess.run(
        [SCRIPT, "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert "$WRITER_API_KEY is ignored" in " ".join(serve.stdout.split())


def test_the_readme_synopsis_matches_the_parser() -> None:
    import argparse
    import re
    from pathlib import Path

    from writer_jobs._cli import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    synopsis = readme.split("## The CLI", 1)[1].split("```", 2)[1]
    parser = build_parser()
    action = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    commands: dict[str, argparse.ArgumentParser] = dict(action.choices)  # type: ignore[arg-type]
    for line in synopsis.splitlines():
        named = re.match(r"\s*writer-jobs ([a-z-]+)", line)
        if named:
            command = commands[named.group(1)]
        for flag in re.findall(r"--[a-z-]+", line):
            assert flag in command._option_string_actions, f"{flag} of {command.prog}"
    documented = set(re.findall(r"writer-jobs ([a-z-]+)", synopsis))
    assert documented == set(commands), "every command in the synopsis"


def test_retry_failed_asks_at_a_terminal_above_the_threshold() -> None:
    import pty

    with FakeWriterAPI(api_key=SENTINEL, seed_failed=25, delay=30) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        env |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}

        def at_a_terminal(answer: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
            controller, terminal = pty.openpty()
            os.write(controller, answer)
            try:
                return subprocess.run(
                    [SCRIPT, "retry-failed", api.application_id, *extra],
                    stdin=terminal,
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=60,
                    check=False,
                )
            finally:
                os.close(controller)
                os.close(terminal)

        declined = at_a_terminal(b"n\n")
        assert api.processed("retry_job") == 0
        accepted = at_a_terminal(b"y\n")
    assert declined.returncode == 1 and "Retry 25 failed jobs" in declined.stderr
    assert "declined: nothing was sent" in declined.stderr
    assert accepted.returncode == 0, accepted.stderr
    assert api.processed("retry_job") == 25


def test_a_killed_selective_run_resumes_with_the_same_selection(
    tmp_path: Path, processes: Processes
) -> None:
    import json
    import signal
    import time

    from writer_jobs.testing import Faults

    journal = tmp_path / "run.jsonl"
    slow = Faults(rate=1.0, kinds=("latency",), latency=0.3)
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=40, delay=30, faults=slow) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        env |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
        args = ["retry-failed", api.application_id, "--journal", str(journal)]
        first = processes.start(
            [SCRIPT, *args, "--limit", "10", "--concurrency", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = journal.read_text() if journal.exists() else ""
            if text.count('"event":"outcome"') >= 3:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        resumed = run(api, *args)  # no selection given: the journal's applies
        retried = api.retries_per_job()
    assert resumed.returncode == 0, resumed.stderr
    assert len(retried) == 10 and max(retried.values()) == 1
    assert json.loads(journal.read_text().splitlines()[0])["selection"] == {"limit": 10}
