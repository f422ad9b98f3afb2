"""The number that matters to a user: ``writer-jobs retry-failed APP --wait`` on an
account that allows 400 requests a minute (a sliding window, 429 without
Retry-After), an application with a long history, jobs that run 15-30 s, in the
situations a real account is in:

- the client owns the whole budget and is told so (``--rate-limit 400``);
- another program spends 200 of the 400 a minute while it runs (told 400);
- the client owns the budget and is told nothing (it learns from the 429s);
- the service answers 503 to everything for 60 s, 20 s into the run;
- the service closes connections unanswered for 60 s, 20 s into the run;

and, for comparison, the loop a user writes with the official SDK (16 threads:
retry, then GET every 5 s) in the shared situation. Each client has its own fake
account; they run side by side (the load is a few requests a second each).
Counted on the server: requests, 429s, answers during the outage, double
triggers; checked against it: every reported final status, the journal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from writer_jobs.testing import FakeWriterAPI, OtherConsumer, Outage
from writer_jobs.testing._conditions import OutageKind


@attrs.frozen
class Situation:
    name: str
    #: The account's owner tells the client its limit (--rate-limit).
    told: bool = True
    #: Share of the account's limit another program spends.
    other: float = 0.0
    #: An outage: its kind ("503", "close"), from 20 s in, for 60 s (scaled).
    outage: OutageKind | None = None
    #: The SDK loop instead of writer-jobs.
    sdk: bool = False
    #: Targets: wall time vs ideal, requests a job, 429s share of requests.
    wall: float = 1.15
    per_job: float = 1.2
    share_429: float | None = 0.01


SITUATIONS = [
    Situation("owns 400/min, told 400"),
    Situation(
        "another program spends 200/min, told 400",
        other=0.5,
        wall=1.25,
        per_job=1.4,
        share_429=0.05,
    ),
    Situation("owns 400/min, told nothing", told=False, wall=1.4, per_job=1.4, share_429=0.05),
    Situation(
        "503 to everything for 60 s, 20 s in (told 400)",
        outage="503",
        wall=1.3,
        per_job=1.6,
        share_429=None,
    ),
    Situation(
        "connections closed for 60 s, 20 s in (told 400)",
        outage="close",
        wall=1.3,
        per_job=1.6,
        share_429=None,
    ),
    Situation(
        "writer-sdk loop (16 threads: retry, GET every 5 s), another program spends 200/min",
        other=0.5,
        sdk=True,
    ),
]


@attrs.frozen
class Scale:
    jobs: int
    history: int
    per_minute: int
    delay: tuple[float, float]

    @property
    def time(self) -> float:
        """Seconds of this run per second of the real workload."""
        return 400 / self.per_minute


FULL = Scale(300, 1500, 400, (15.0, 30.0))
QUICK = Scale(30, 150, 6000, (1.0, 2.0))


def ideal(scale: Scale, situation: Situation) -> float:
    """Every POST at the pace the account leaves the client, plus the longest job,
    plus the outage."""
    available = scale.per_minute * (1 - situation.other)
    outage = 60 * scale.time if situation.outage else 0.0
    return scale.jobs / available * 60 + scale.delay[1] + outage


def _account(scale: Scale, situation: Situation) -> FakeWriterAPI:
    conditions: list[OtherConsumer | Outage] = []
    if situation.other:
        conditions.append(OtherConsumer(per_minute=scale.per_minute * situation.other))
    if situation.outage:
        conditions.append(
            Outage(start=20 * scale.time, duration=60 * scale.time, kind=situation.outage)
        )
    return FakeWriterAPI(
        seed_failed=scale.jobs,
        seed_completed=scale.history,
        newest_first=True,
        delay=scale.delay,
        failure_ratio=0.1,
        rate_limit=scale.per_minute,
        seed=7,
        conditions=conditions,
    ).start()


def _ours(api: FakeWriterAPI, scale: Scale, situation: Situation, workdir: Path) -> dict[str, Any]:
    """The CLI, as a user runs it; its journal holds what it reported."""
    journal = workdir / "run.jsonl"
    command = [sys.executable, "-m", "writer_jobs", "--base-url", api.base_url]
    command += ["--api-key", api.api_key, "retry-failed", api.application_id, "--wait"]
    command += ["--yes", "--journal", str(journal)]
    if situation.told:
        command += ["--rate-limit", str(scale.per_minute)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    reported: dict[str, str] = {}
    finals: dict[str, int] = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("event") == "outcome" and entry.get("final"):
                finals[entry["job_id"]] = finals.get(entry["job_id"], 0) + 1
                if entry.get("status"):
                    reported[entry["job_id"]] = entry["status"]
    return {
        "exit": done.returncode,
        "stderr_tail": done.stderr[-600:],
        "reported": reported,
        "journal_complete": len(finals) == scale.jobs and set(finals.values()) <= {1},
    }


def _sdk_loop(
    api: FakeWriterAPI, scale: Scale, situation: Situation, workdir: Path
) -> dict[str, Any]:
    from writerai import Writer

    client = Writer(api_key=api.api_key, base_url=api.base_url)
    ids = [job.id for job in client.applications.jobs.list(api.application_id, status="failed")]
    reported: dict[str, str] = {}
    lock = threading.Lock()

    def one(job_id: str) -> None:
        client.applications.jobs.retry(job_id)
        while True:
            time.sleep(5 * scale.time)
            job = client.applications.jobs.retrieve(job_id)
            if job.status in ("completed", "failed"):
                with lock:
                    reported[job_id] = job.status
                return

    errors = 0
    with ThreadPoolExecutor(16) as pool:
        for future in [pool.submit(one, job_id) for job_id in ids]:
            if future.exception() is not None:
                errors += 1
    client.close()
    return {"exit": 1 if errors else 0, "reported": reported, "journal_complete": None}


def _run(scale: Scale, situation: Situation) -> dict[str, Any]:
    api = _account(scale, situation)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            peer = _sdk_loop if situation.sdk else _ours
            result = peer(api, scale, situation, Path(workdir))
        wall = time.monotonic() - started
        requests = sum(api.requests_per_operation().values())
        truth = {str(j): api.store.job(j).status.value for j in api.seeded}
        per_job = api.retries_per_job()
    finally:
        api.stop()
    reported = result.pop("reported")
    best = ideal(scale, situation)
    return {
        **result,
        "wall_s": wall,
        "ideal_s": best,
        "vs_ideal": wall / best,
        "requests": requests,
        "requests_per_job": requests / scale.jobs,
        "rate_limited": api.rate_limited,
        "share_429": api.rate_limited / max(requests, 1),
        "unavailable": api.unavailable,
        "other_program": api.other_admitted,
        "wrong_statuses": sum(1 for j, s in truth.items() if reported.get(j) != s),
        "double_triggers": sum(1 for n in per_job.values() if n > 1),
        "never_retried": sum(1 for j in api.seeded if per_job.get(j, 0) == 0),
    }


def bench_rate_budget(quick: bool) -> dict[str, Any]:
    scale = QUICK if quick else FULL
    with ThreadPoolExecutor(len(SITUATIONS)) as pool:
        runs = list(pool.map(lambda s: _run(scale, s), SITUATIONS))
    return {
        "jobs": scale.jobs,
        "history": scale.history,
        "per_minute": scale.per_minute,
        "delay": list(scale.delay),
        "situations": {s.name: run for s, run in zip(SITUATIONS, runs, strict=True)},
    }


def report_lines(rate: dict[str, Any]) -> list[str]:
    lines = [
        "## Rate budget and outages: `retry-failed APP --wait`",
        "",
        f"{rate['jobs']} failed jobs of {rate['delay'][0]:g}-{rate['delay'][1]:g} s, "
        f"{rate['history']:,} completed jobs of history, 10 % failing again, an account "
        f"limit of {rate['per_minute']:,} requests a minute (sliding window, 429 without "
        "Retry-After), each client on its own fake account. Ideal: every POST at the pace "
        "the account leaves the client + the longest job (+ the outage).",
        "",
        "| situation | wall time | ideal | vs ideal | requests a job | 429s | answered "
        "during the outage | exit | wrong statuses | double triggers | never retried |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in rate["situations"].items():
        lines.append(
            f"| {name} | {run['wall_s']:.0f} s | {run['ideal_s']:.0f} s | "
            f"{run['vs_ideal']:.2f}x | {run['requests_per_job']:.2f} | {run['rate_limited']} "
            f"({run['share_429']:.1%}) | {run['unavailable']} | {run['exit']} | "
            f"{run['wrong_statuses']} | {run['double_triggers']} | {run['never_retried']} |"
        )
    return [*lines, ""]


def rate_targets(rate: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    rows: list[tuple[str, float, str, bool]] = []
    for situation in SITUATIONS:
        if situation.sdk:
            continue
        run = rate["situations"][situation.name]
        name = f"rate budget, {situation.name}"
        rows.append(
            (
                f"{name}: wall time vs ideal",
                run["vs_ideal"],
                f"<= {situation.wall}x",
                run["vs_ideal"] <= situation.wall,
            )
        )
        rows.append(
            (
                f"{name}: requests a job",
                run["requests_per_job"],
                f"<= {situation.per_job}",
                run["requests_per_job"] <= situation.per_job,
            )
        )
        if situation.share_429 is not None:
            rows.append(
                (
                    f"{name}: 429s, share of requests",
                    run["share_429"],
                    f"<= {situation.share_429}",
                    run["share_429"] <= situation.share_429,
                )
            )
        wrong = run["wrong_statuses"] + run["double_triggers"] + run["never_retried"]
        rows.append(
            (
                f"{name}: wrong statuses + double triggers + never retried",
                wrong,
                "0, exit 0 or 3, journal complete",
                wrong == 0 and run["exit"] in (0, 3) and bool(run["journal_complete"]),
            )
        )
    shared = next(s for s in SITUATIONS if s.other and not s.sdk)
    sdk_loop = next(s for s in SITUATIONS if s.sdk)
    ours, sdk = rate["situations"][shared.name], rate["situations"][sdk_loop.name]
    rows.append(
        (
            "rate budget, shared: wall time vs the writer-sdk loop",
            ours["wall_s"] / sdk["wall_s"],
            "< 1x",
            ours["wall_s"] < sdk["wall_s"],
        )
    )
    return rows


def chart(ax: Any, rate: dict[str, Any]) -> None:
    names = list(rate["situations"])
    values = [rate["situations"][n]["vs_ideal"] for n in names]
    ax.barh(names, values, color="#4c72b0")
    ax.axvline(1.0, linestyle="--", color="grey", label="ideal")
    ax.set_xlabel("wall time vs ideal (lower is better)")
    ax.set_title(f"{rate['jobs']} failed jobs at {rate['per_minute']} requests a minute")
    ax.invert_yaxis()
    ax.legend()
