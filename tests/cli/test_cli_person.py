"""What a person sees around the main job: a normal empty day, a refused connection
said at once, messages in CLI words, and the printed next step after jobs failed again
(it runs as printed, and retries each of them once more)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from pathlib import Path

from writer_jobs.testing import FakeWriterAPI

from .test_cli import SCRIPT, SENTINEL, no_key, run


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


def test_nothing_failed_piped_into_retry_is_exit_0_nothing_to_retry() -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_completed=3) as api:
        listed = run(api, "list", api.application_id, "--status", "failed", "--json")
        assert listed.returncode == 0 and listed.stdout == ""
        retried = _with_stdin(api, listed.stdout, "retry", "-")
        waited = _with_stdin(api, "\n", "wait", "-")
        assert api.processed("retry_job") == 0
    assert retried.returncode == 0 and "nothing to retry" in retried.stderr
    assert waited.returncode == 0 and "nothing to wait for" in waited.stderr


def test_plain_http_to_a_remote_host_is_refused_in_cli_words() -> None:
    result = subprocess.run(
        [SCRIPT, "--api-key", "k", "--base-url", "http://example.com", "list", "app"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "Use https:// (the CLI sends plain http:// only to a loopback address)" in message
    assert "allow_insecure_http" not in message and "https://," not in message


def test_a_refused_connection_is_said_at_the_first_retry_not_after_all_of_them() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = subprocess.run(
            [
                SCRIPT,
                "--api-key",
                SENTINEL,
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--max-retries",
                "2",
                "get",
                "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    notices = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert notices[0].startswith(f"writer-jobs: 127.0.0.1:{port}: connection refused, retrying")
    assert "(attempt 2 of 3)" in notices[0] and "(attempt 3 of 3)" in notices[1]
    no_key(result)


def test_the_printed_next_step_retries_each_job_that_failed_again_once_more(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=5, delay=0.2, failure_ratio=1.0) as api:
        args = ["retry-failed", api.application_id, "--wait", "--journal", str(journal)]
        first = run(api, *args)
        assert first.returncode == 3, first.stderr
        assert "5 jobs failed again: " in first.stderr
        # Rerunning the same command is the same run: nothing is sent twice.
        same = run(api, *args)
        assert same.returncode == 0 and max(api.retries_per_job().values()) == 1
        printed = first.stderr.split("in a new run:\n", 1)[1].splitlines()[0].strip()
        words = shlex.split(printed)
        assert words[:2] == ["writer-jobs", "retry-failed"]
        assert words[words.index("--journal") + 1] == str(tmp_path / "run.2.jsonl")
        second = run(api, *words[1:])  # as printed (the key comes from the environment)
        per_job = api.retries_per_job()
    assert second.returncode == 3, second.stderr  # they fail every time on this server
    assert "run.3.jsonl" in second.stderr, "the next step after that names the next journal"
    assert set(per_job) == set(api.seeded) and set(per_job.values()) == {2}
    no_key(first)


def test_the_printed_next_step_keeps_every_option_given_and_says_where_the_key_comes_from(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3, delay=0.2, failure_ratio=1.0) as api:
        given = [
            "--base-url", api.base_url, "--api-key", SENTINEL, "--timeout", "30",
            "--max-retries", "3", "-v",
            "retry-failed", api.application_id, "--wait", "--wait-timeout", "60",
            "--journal", str(journal), "--rate-limit", "6000", "--max-unavailable", "120",
            "--concurrency", "4", "--error-matches", "Upstream|fake failure",
            "--failed-since", "1d", "--yes",
            "--failed-before", "2100-01-01T00:00:00", "--limit", "100",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
        first = subprocess.run(
            [SCRIPT, *given], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert first.returncode == 3, first.stderr
        told = " ".join(first.stderr.split())
        assert "set WRITER_API_KEY to the one you gave with --api-key" in told
        printed = first.stderr.split("in a new run", 1)[1].split(":\n", 1)[1].splitlines()[0]
        words = shlex.split(printed)
        assert SENTINEL not in printed
        options = {w for w in words if w.startswith("-")}
        assert options == {
            "--base-url", "--timeout", "--max-retries", "--verbose", "--wait",
            "--wait-timeout", "--journal", "--rate-limit", "--max-unavailable",
            "--concurrency", "--error-matches", "--failed-since", "--yes",
        }, "every option but the key, --failed-before and --limit (spent by this run)"  # fmt: skip
        for flag, value in [
            ("--timeout", "30"),
            ("--max-unavailable", "120"),
            ("--rate-limit", "6000"),
        ]:
            assert words[words.index(flag) + 1] == value
        assert words[words.index("--journal") + 1] == str(tmp_path / "run.2.jsonl")
        # As printed, with the key where the message says it comes from.
        assert words[0] == "writer-jobs"
        again = subprocess.run(
            [SCRIPT, *words[1:]],
            capture_output=True,
            text=True,
            env=env | {"WRITER_API_KEY": SENTINEL},
            timeout=60,
            check=False,
        )
        per_job = api.retries_per_job()
    assert again.returncode == 3, again.stderr  # they fail every time on this server
    assert set(per_job) == set(api.seeded) and set(per_job.values()) == {2}
    no_key(first)
    no_key(again)


def test_a_resume_says_at_once_what_it_checks_and_that_its_last_runs_requests_count(
    tmp_path: Path,
) -> None:
    import json
    import time

    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=10, delay=30) as api:
        lines: list[dict[str, object]] = [
            {"event": "journal", "format": 1, "application_id": api.application_id}
            | {"base_url": api.base_url},
            {"event": "sent", "at": time.time() - 5, "requests": 9},
        ]
        for job in api.seeded[:4]:  # the last run's POSTs landed; their outcomes never came
            api.store.retry(job)
            lines.append({"event": "started", "job_id": str(job)})
        journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
        result = run(api, "retry-failed", api.application_id, "--journal", str(journal))
        per_job = api.retries_per_job()
    assert result.returncode == 0, result.stderr
    first = " ".join(result.stderr.split("\n", 1)[0].split())
    assert first.startswith(f"writer-jobs: resuming from {journal}"), result.stderr
    assert "4 jobs the last run started: checked first" in first
    assert "its 9 requests of the last minute count in the account's window" in first
    # The four landed before (not through the API): only the six others are sent.
    assert set(per_job) == set(api.seeded[4:]) and set(per_job.values()) == {1}


def test_an_outage_notice_names_the_host_never_0_s_and_a_journal_only_when_there_is_one(
    tmp_path: Path,
) -> None:
    from writer_jobs.testing import Outage

    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3) as api:
        api.schedule(Outage(start=0.0, duration=60.0, kind="503"))
        host = api.base_url.removeprefix("http://")
        bare = run(api, "retry-failed", api.application_id, "--max-unavailable", "2")
        kept = run(
            api,
            *("retry-failed", api.application_id, "--max-unavailable", "2"),
            *("--journal", str(tmp_path / "run.jsonl")),
        )
        assert api.processed("retry_job") == 0
    for result in (bare, kept):
        assert result.returncode == 75, result.stderr
        notices = [line for line in result.stderr.splitlines() if "waiting; Ctrl-C" in line]
        assert notices and all(f"at {host} (503)" in line for line in notices), result.stderr
        assert "for 0 s" not in result.stderr
    assert "journal" not in " ".join(line for line in bare.stderr.splitlines() if "Ctrl-C" in line)
    assert f"the journal keeps your place ({tmp_path / 'run.jsonl'})" in kept.stderr
