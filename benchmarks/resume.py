"""A resume right after Ctrl-C, at the account's pace (issue 25): 600 failed jobs on an
account that allows 400 requests a minute (a sliding window, 429 without Retry-After),
jobs that run 15-30 s; ``writer-jobs retry-failed APP --wait --journal run.jsonl
--rate-limit 400`` stopped with Ctrl-C 25 s in, and the same command run again at once.

Targets: both runs together within 1.4x the ideal of one uninterrupted run (every POST
at 400 a minute, plus the longest job: 120 s), at most 1.4 requests a job, every job
triggered exactly once. Also measured: when the resumed run first says something (it
must say at once that it resumes), the 429s, and each run's exit code.

Real time (about 3 minutes): the account's window is a minute whatever the pace, so a
faster scale would never fill it, and a full window is the situation measured.

    python -m benchmarks.resume            # prints the numbers as JSON
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import attrs

from writer_jobs.testing import FakeWriterAPI


@attrs.frozen
class Resume:
    jobs: int = 600
    per_minute: int = 400
    delay: tuple[float, float] = (15.0, 30.0)
    history: int = 1500
    #: Ctrl-C this many seconds after the first run starts.
    stop_at: float = 25.0
    #: Targets.
    wall: float = 1.4
    per_job: float = 1.4

    @property
    def ideal(self) -> float:
        return self.jobs / self.per_minute * 60 + self.delay[1]


def _command(api: FakeWriterAPI, journal: Path, scenario: Resume) -> list[str]:
    return [
        sys.executable,
        "-m",
        "writer_jobs",
        "--base-url",
        api.base_url,
        "--api-key",
        api.api_key,
        "retry-failed",
        api.application_id,
        "--wait",
        "--yes",
        "--journal",
        str(journal),
        "--rate-limit",
        str(scenario.per_minute),
    ]


def _read_lines(stream: IO[str], started: float, into: list[tuple[float, str]]) -> None:
    for line in stream:
        into.append((time.monotonic() - started, line.rstrip()))


def _start(
    command: list[str], lines: list[tuple[float, str]]
) -> tuple[subprocess.Popen[str], threading.Thread]:
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT at its default, whatever this process inherited (a background job).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    assert proc.stderr is not None
    reader = threading.Thread(target=_read_lines, args=(proc.stderr, started, lines), daemon=True)
    reader.start()
    return proc, reader


def bench_resume(scenario: Resume = Resume()) -> dict[str, Any]:
    api = FakeWriterAPI(
        seed_failed=scenario.jobs,
        seed_completed=scenario.history,
        newest_first=True,
        delay=scenario.delay,
        failure_ratio=0.1,
        rate_limit=scenario.per_minute,
        seed=7,
    ).start()
    first_lines: list[tuple[float, str]] = []
    second_lines: list[tuple[float, str]] = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            journal = Path(workdir) / "run.jsonl"
            command = _command(api, journal, scenario)
            started = time.monotonic()
            first, reader = _start(command, first_lines)
            time.sleep(scenario.stop_at)
            first.send_signal(signal.SIGINT)
            first.wait(60)
            reader.join(10)
            stopped = time.monotonic() - started
            requests_first = sum(api.requests_per_operation().values())
            second, reader = _start(command, second_lines)
            second.wait(3600)
            reader.join(10)
            wall = time.monotonic() - started
            finals: dict[str, int] = {}
            for line in journal.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("event") == "outcome" and entry.get("final"):
                    finals[entry["job_id"]] = finals.get(entry["job_id"], 0) + 1
        requests = sum(api.requests_per_operation().values())
        per_job = api.retries_per_job()
        operations = api.requests_per_operation()
    finally:
        api.stop()
    return {
        "jobs": scenario.jobs,
        "per_minute": scenario.per_minute,
        "stopped_at_s": round(stopped, 1),
        "exit_codes": [first.returncode, second.returncode],
        "wall_s": round(wall, 1),
        "ideal_s": scenario.ideal,
        "vs_ideal": round(wall / scenario.ideal, 3),
        "requests": requests,
        "requests_first_run": requests_first,
        "requests_per_job": round(requests / scenario.jobs, 3),
        "requests_per_operation": operations,
        "rate_limited": api.rate_limited,
        "double_triggers": sum(1 for n in per_job.values() if n > 1),
        "never_retried": sum(1 for j in api.seeded if per_job.get(j, 0) == 0),
        "journal_complete": len(finals) == scenario.jobs and set(finals.values()) <= {1},
        "second_run_first_said_s": round(second_lines[0][0], 2) if second_lines else None,
        "second_run_first_lines": [text for _, text in second_lines[:4]],
        "targets_met": wall / scenario.ideal <= scenario.wall
        and requests / scenario.jobs <= scenario.per_job
        and all(n == 1 for n in per_job.values())
        and len(per_job) == scenario.jobs,
    }


def main() -> None:
    result = bench_resume()
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "resume.json"
    if os.environ.get("BENCH_WRITE", "1") == "1":
        out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
