"""Every command in every output mode (the table, --json), for no result, one and many,
with each optional field of a job present and absent: the real console script against
the fake, at 80 columns. A path such as `create` without --wait in a table (a Job has
no error field) or `list` of an application with no jobs cannot be missed again.

Each case checks what every run must do: its exit code, no traceback, --json lines
that are JSON, every job id it names whole on stdout, no line past 80 columns, and
the key never shown."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from writer_jobs.testing import FakeWriterAPI

from ..conftest import Processes
from .test_cli import SCRIPT, SENTINEL

COLUMNS = 80
APP, ONE_APP, EMPTY_APP = "demo-app", "one-app", "empty-app"


@attrs.frozen
class Jobs:
    """The fake's jobs, one of each shape (ids as text)."""

    failed: str  # error text present
    failed_without_error: str  # a failed job whose error field is absent
    completed: str  # data present
    completed_without_data: str  # data and completed_at absent
    running: str  # in_progress: neither error nor data
    one: str  # the one failed job of ONE_APP


@pytest.fixture
def api() -> Iterator[FakeWriterAPI]:
    with FakeWriterAPI(api_key=SENTINEL, delay=0.3) as fake:
        yield fake


def _shape(api: FakeWriterAPI) -> Jobs:
    store = api.store
    failed, bare = store.seed_failed(APP, 2)
    store.job(bare).error = None
    done, empty = store.seed_completed(APP, 2)
    store.job(empty).result = None
    store.job(empty).completed_at = None
    store.delay = 3600.0  # this one stays in_progress; the others run 0.3 s
    running = store.create(APP, []).id
    store.delay = 0.3
    (one,) = store.seed_failed(ONE_APP, 1)
    return Jobs(*map(str, (failed, bare, done, empty, running, one)))


@pytest.fixture
def jobs(api: FakeWriterAPI) -> Jobs:
    return _shape(api)


def cli(
    api: FakeWriterAPI, mode: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WRITER_", "COLUMNS"))}
    env |= {
        "WRITER_API_KEY": api.api_key,
        "WRITER_BASE_URL": api.base_url,
        "COLUMNS": str(COLUMNS),
    }
    argv = [SCRIPT, *(["--json"] if mode == "json" else []), *args]
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
    )


def check(
    result: subprocess.CompletedProcess[str], mode: str, code: int, shown: list[str]
) -> list[dict[str, Any]]:
    """What every run must do; returns its --json lines (empty for a table)."""
    said = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == code, said
    assert "Traceback" not in result.stderr, said
    assert SENTINEL not in result.stdout + result.stderr
    for job_id in shown:
        assert job_id in result.stdout, f"{job_id} not shown whole\n{said}"
    if mode == "json":
        return [json.loads(line) for line in result.stdout.splitlines()]
    assert all(len(line) <= COLUMNS for line in result.stdout.splitlines()), said
    return []


MODES = ["table", "json"]


# --- get: one job of each shape ----------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("shape", "present", "absent"),
    [
        ("failed", ["error"], ["data"]),
        ("failed_without_error", [], ["error", "data"]),
        ("completed", ["data", "completed"], ["error"]),
        ("completed_without_data", [], ["error", "data", "completed"]),
        ("running", [], ["error", "data", "completed"]),
    ],
)
def test_get_each_shape(
    api: FakeWriterAPI, jobs: Jobs, mode: str, shape: str, present: list[str], absent: list[str]
) -> None:
    job_id = getattr(jobs, shape)
    result = cli(api, mode, "get", job_id)
    lines = check(result, mode, 0, [job_id])
    if mode == "json":
        (line,) = lines
        assert line["id"] == job_id
        names = {"error": "error", "data": "data", "completed": "completed_at"}
        shown = {field for field, key in names.items() if key in line}
    else:  # one field a line: its label, two spaces, its value
        labels = [row.split("  ")[0] for row in result.stdout.splitlines() if row.strip()]
        shown = {f for f in ("error", "data", "completed") if any(x.startswith(f) for x in labels)}
    assert set(present) <= shown and not set(absent) & shown, (shown, result.stdout)


def test_get_a_job_without_updated_at() -> None:
    with FakeWriterAPI(
        api_key=SENTINEL, seed_failed=1, omit_updated_at=frozenset({"get_job"})
    ) as api:
        job_id = str(api.seeded[0])
        check(cli(api, "table", "get", job_id), "table", 0, [job_id])
        (line,) = check(cli(api, "json", "get", job_id), "json", 0, [job_id])
    assert "updated_at" not in line


# --- list: none, one, many, a status with none --------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("args", "count", "title"),
    [
        ([EMPTY_APP], 0, "no jobs of empty-app"),
        ([EMPTY_APP, "--status", "failed"], 0, "no failed jobs of empty-app"),
        ([ONE_APP], 1, "1 job of one-app"),
        ([ONE_APP, "--status", "in_progress"], 0, "no in_progress jobs of one-app"),
        ([APP], 5, "5 jobs of demo-app"),
        ([APP, "--status", "failed"], 2, "2 failed jobs of demo-app"),
        ([APP, "--status", "in_progress"], 1, "1 in_progress job of demo-app"),
        ([APP, "--limit", "3"], 3, "3 jobs of demo-app"),
    ],
)
def test_list(
    api: FakeWriterAPI, jobs: Jobs, mode: str, args: list[str], count: int, title: str
) -> None:
    result = cli(api, mode, "list", *args)
    listed = check(result, mode, 0, [])
    if mode == "json":
        assert len(listed) == count
    else:
        assert title in result.stdout, result.stdout
        rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
        assert len(rows) == count, "one line a job"


def test_list_shows_every_shape_whole(api: FakeWriterAPI, jobs: Jobs) -> None:
    every = [jobs.failed, jobs.failed_without_error, jobs.completed]
    every += [jobs.completed_without_data, jobs.running]
    for mode in MODES:
        check(cli(api, mode, "list", APP), mode, 0, every)


# --- create: with and without --wait -------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wait", [False, True])
def test_create(api: FakeWriterAPI, jobs: Jobs, mode: str, wait: bool) -> None:
    args = ["create", ONE_APP, "--input", "product=kettle", *(["--wait"] if wait else [])]
    result = cli(api, mode, *args)
    created = [job.id for job in api.store._jobs.values() if job.inputs]
    (job_id,) = map(str, created)  # one job, whatever was printed
    lines = check(result, mode, 0, [job_id])
    if mode == "json":
        assert [line["status"] for line in lines] == ["completed" if wait else "in_progress"]
    else:
        assert ("completed" if wait else "in_progress") in result.stdout


# --- retry: one, many, one that cannot be, with and without --wait ----------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wait", [False, True])
@pytest.mark.parametrize(
    ("shapes", "code"),
    [
        (["one"], 0),
        (["failed", "failed_without_error", "one"], 0),
        (["failed", "completed"], 1),  # a completed job is not retried: its row says why
    ],
)
def test_retry(
    api: FakeWriterAPI, jobs: Jobs, mode: str, wait: bool, shapes: list[str], code: int
) -> None:
    ids = [getattr(jobs, shape) for shape in shapes]
    result = cli(api, mode, "retry", *ids, *(["--wait"] if wait else []))
    lines = check(result, mode, code, ids)
    if mode == "json":
        assert {line["id"] for line in lines} == set(ids)
    assert api.retries_per_job() == {job: 1 for job in api.retries_per_job() if str(job) in ids}, (
        "each retryable job triggered once"
    )


def test_retry_and_wait_read_ids_from_stdin_none_one_many(api: FakeWriterAPI, jobs: Jobs) -> None:
    for mode in MODES:
        for command, said in (("retry", "nothing to retry"), ("wait", "nothing to wait for")):
            result = cli(api, mode, command, "-", stdin="")
            check(result, mode, 0, [])
            assert said in result.stderr
    one = cli(api, "table", "retry", "-", stdin=jobs.one + "\n")
    check(one, "table", 0, [jobs.one])
    listed = cli(api, "json", "list", APP, "--status", "failed").stdout
    many = cli(api, "json", "retry", "-", stdin=listed)
    check(many, "json", 0, [jobs.failed, jobs.failed_without_error])


# --- wait: one, many, already ended, timed out -----------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("shapes", "code"),
    [
        (["completed"], 0),
        (["completed", "completed_without_data"], 0),
        (["failed"], 3),
        (["failed_without_error", "completed"], 3),
        (["running"], 124),  # --wait-timeout passed: its own exit code
    ],
)
def test_wait(api: FakeWriterAPI, jobs: Jobs, mode: str, shapes: list[str], code: int) -> None:
    ids = [getattr(jobs, shape) for shape in shapes]
    result = cli(api, mode, "wait", *ids, "--wait-timeout", "1")
    check(result, mode, code, [] if code == 124 else ids)
    if code == 124:
        assert "1 job was still running" in result.stderr, result.stderr


# --- retry-failed: none, one, many; dry run, plain, --wait -------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", [["--dry-run"], [], ["--wait"]])
@pytest.mark.parametrize(("app", "count"), [(EMPTY_APP, 0), (ONE_APP, 1), (APP, 2)])
def test_retry_failed(
    api: FakeWriterAPI, jobs: Jobs, mode: str, how: list[str], app: str, count: int
) -> None:
    result = cli(api, mode, "retry-failed", app, *how)
    dry = how == ["--dry-run"]
    expected = {EMPTY_APP: [], ONE_APP: [jobs.one], APP: [jobs.failed, jobs.failed_without_error]}
    lines = check(result, mode, 0, expected[app] if dry or mode == "json" else [])
    assert api.processed("retry_job") == (0 if dry else count)
    if mode == "json":
        summary = lines[-1]
        assert summary["event"] == "summary" and summary["total"] == count
        outcomes = [line for line in lines if line["event"] == "outcome"]
        assert len(outcomes) == count
    elif dry:
        noun = "job" if count == 1 else "jobs"
        assert f"{count or 'no'} failed {noun} of {app} would be retried" in result.stdout
    else:
        assert "failed jobs found" in result.stdout


def test_retry_failed_wait_timeout_has_its_own_exit_code(api: FakeWriterAPI) -> None:
    api.store.delay = 3600.0
    for mode in MODES:
        (job,) = api.store.seed_failed(f"slow-{mode}", 1)
        result = cli(api, mode, "retry-failed", f"slow-{mode}", "--wait", "--wait-timeout", "1")
        check(result, mode, 124, [str(job)] if mode == "json" else [])
        if mode == "table":
            assert "1 job still running when --wait-timeout 1 s passed" in result.stderr
    assert set(api.retries_per_job().values()) == {1}


# --- serve: both output modes, no jobs and some --------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seeded", [0, 3])
def test_serve(processes: Processes, mode: str, seeded: int) -> None:
    import signal

    argv = [SCRIPT, *(["--json"] if mode == "json" else []), "serve", "--seed-failed", str(seeded)]
    proc = processes.start(
        argv, sigint=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        if mode == "json":
            serving = json.loads(proc.stdout.readline())
            assert serving["seeded_failed"] == seeded and serving["api_key"]
        else:
            line = proc.stderr.readline()
            assert line.startswith("Fake Writer API on http://127.0.0.1:"), line
            assert f"failed jobs: {seeded}" in line
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in stderr
