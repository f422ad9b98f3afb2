"""``writer-jobs batch APP INPUT --output RESULTS`` on a lookalike of the service: an
account of 400 requests a minute (a sliding window, 429 without Retry-After), jobs of
15-30 s, 10 % of runs failing, 600 rows, in the situations a real account is in:

- nobody else creating jobs, every answer arriving;
- 5 % of creates losing their answer, half after the job was made, half before;
- the same while another program creates 30 jobs a minute in the application;
- the run killed (SIGKILL) 25 s in, then the same command again;
- the service answering 503 to everything for 60 s, 20 s in;

and, for memory, the same command over 2,000 and 20,000 rows on a fast account (no
rate limit on the fake, ``--rate-limit`` far above the account's, jobs of 0-0.5 s, 5 %
of runs failing): the peak resident memory of the CLI's process (the fake serves from
this one), which must not grow with the file.

And the loop a writer-sdk user writes (64 threads: create a job for a row, GET it every
5 s, retry it twice if it fails) on the lookalike with the lost answers. Each client has
its own fake account; they run side by side. Counted on the server: requests, jobs made
per row (the fake keeps each job's inputs), another program's jobs; checked against
the results file: one record per row, each joined to a job made from that row.

Ideal: every POST at 400 a minute, plus 30 s for each round of runs (the create, then
each retry while a job fails), plus the outage.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from writer_jobs.testing import FakeWriterAPI, Faults, OtherCreator, Outage
from writer_jobs.testing._conditions import Condition

MAX_ATTEMPTS = 3


@attrs.frozen
class Situation:
    name: str
    lost: float = 0.0
    other_creator: float = 0.0
    kill_at: float | None = None
    outage: bool = False
    sdk: bool = False
    wall: float | None = 1.25
    per_row: float | None = 1.35


SITUATIONS = [
    Situation("nobody else creating"),
    Situation("5 % of create answers lost", lost=0.05, wall=None, per_row=None),
    Situation(
        "5 % lost, another program creating 30 jobs/min",
        lost=0.05,
        other_creator=30,
        wall=None,
        per_row=None,
    ),
    Situation("SIGKILL 25 s in, then the same command", kill_at=25, wall=None, per_row=None),
    Situation("503 to everything for 60 s, 20 s in", outage=True, wall=None, per_row=None),
    Situation(
        "writer-sdk loop (64 threads, GET every 5 s), 5 % lost",
        lost=0.05,
        sdk=True,
        wall=None,
        per_row=None,
    ),
]


@attrs.frozen
class Scale:
    rows: int
    per_minute: int
    delay: tuple[float, float]

    @property
    def time(self) -> float:
        """Seconds of this run per second of the real workload."""
        return 400 / self.per_minute


FULL = Scale(600, 400, (15.0, 30.0))
QUICK = Scale(30, 6000, (1.0, 2.0))

#: The fast account's runs: rows of each (the last has the target), and its jobs' length.
MEMORY_ROWS = (2_000, 20_000)
QUICK_MEMORY_ROWS = (50, 500)
MEMORY_DELAY = (0.0, 0.5)
#: Requests a minute the CLI is told (far above the account's 400: the fake has none).
MEMORY_RATE_LIMIT = 100_000
MEMORY_TARGET_MB = 200.0
#: What --only picks the memory runs by.
MEMORY_NAME = "rows on a fast account, peak memory"


def _account(scale: Scale, situation: Situation) -> FakeWriterAPI:
    conditions: list[Condition] = []
    if situation.other_creator:
        conditions.append(OtherCreator(situation.other_creator / scale.time))
    if situation.outage:
        conditions.append(Outage(start=20 * scale.time, duration=60 * scale.time, kind="503"))
    return FakeWriterAPI(
        newest_first=True,
        delay=scale.delay,
        failure_ratio=0.1,
        rate_limit=scale.per_minute,
        seed=11,
        faults=Faults(lose_creates=situation.lost, seed=11),
        conditions=conditions,
    ).start()


def _input(path: Path, rows: int) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "product", "feature", "feature"])
        for n in range(1, rows + 1):
            writer.writerow([f"SKU-{n}", f"product {n}", "light", "red"])
    return path


def _ours(api: FakeWriterAPI, scale: Scale, situation: Situation, workdir: Path) -> dict[str, Any]:
    source = _input(workdir / "rows.csv", scale.rows)
    results = workdir / "results.jsonl"
    command = [sys.executable, "-m", "writer_jobs", "--base-url", api.base_url]
    command += ["--api-key", api.api_key, "batch", api.application_id, str(source)]
    command += ["--output", str(results), "--key", "sku", "--yes"]
    command += ["--rate-limit", str(scale.per_minute), "--max-attempts", str(MAX_ATTEMPTS)]
    killed_with = 0
    if situation.kill_at is not None:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            child.wait(situation.kill_at * scale.time)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            child.wait()
        killed_with = len(results.read_text().splitlines()) if results.exists() else 0
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    records = [json.loads(line) for line in results.read_text().splitlines()]
    return {
        "exit": done.returncode,
        "stderr_tail": done.stderr[-600:],
        "records": records,
        "results_at_kill": killed_with,
    }


def _peak_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM, Linux /proc), None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _memory_run(rows: int, workdir: Path) -> dict[str, Any]:
    """``writer-jobs batch`` over ``rows`` rows on a fast account, its peak memory read
    from /proc as it runs (the peak never falls: the last reading before it exits is
    it, bar the last 50 ms)."""
    api = FakeWriterAPI(newest_first=True, delay=MEMORY_DELAY, failure_ratio=0.05, seed=11).start()
    try:
        source = _input(workdir / f"rows-{rows}.csv", rows)
        results = workdir / f"results-{rows}.jsonl"
        command = [sys.executable, "-m", "writer_jobs", "--base-url", api.base_url]
        command += ["--api-key", api.api_key, "batch", api.application_id, str(source)]
        command += ["--output", str(results), "--key", "sku", "--yes"]
        command += ["--rate-limit", str(MEMORY_RATE_LIMIT), "--max-attempts", str(MAX_ATTEMPTS)]
        started = time.monotonic()
        peak = 0.0
        with tempfile.TemporaryFile("w+") as stderr:
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
            while child.poll() is None:
                peak = max(peak, _peak_mb(child.pid) or 0.0)
                time.sleep(0.05)
            wall = time.monotonic() - started
            stderr.seek(0)
            tail = stderr.read()[-600:]
        requests = sum(api.requests_per_operation().values())
    finally:
        api.stop()
    keys = Counter(json.loads(line)["key"] for line in results.read_text().splitlines())
    return {
        "rows": rows,
        "exit": child.returncode,
        "stderr_tail": tail,
        "peak_mb": peak,
        "wall_s": wall,
        "requests_per_row": requests / rows,
        "rows_recorded_twice": sum(1 for n in keys.values() if n > 1),
        "rows_missing": rows - len(keys),
    }


def _memory(quick: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workdir:
        return [
            _memory_run(rows, Path(workdir))
            for rows in (QUICK_MEMORY_ROWS if quick else MEMORY_ROWS)
        ]


def _sdk_loop(
    api: FakeWriterAPI, scale: Scale, situation: Situation, workdir: Path
) -> dict[str, Any]:
    import writerai
    from writerai import Writer

    client = Writer(api_key=api.api_key, base_url=api.base_url)
    records: list[dict[str, Any]] = []
    lock = threading.Lock()

    def call(function: Any, *args: Any, **kwargs: Any) -> Any:
        while True:  # as users do: a 429 (after the SDK's own retries) waits and goes again
            try:
                return function(*args, **kwargs)
            except writerai.RateLimitError:
                time.sleep(1 * scale.time)

    def one(n: int) -> None:
        inputs = [{"id": "product", "value": [f"product {n}"]}]
        inputs.append({"id": "feature", "value": ["light", "red"]})
        job = call(client.applications.jobs.create, api.application_id, inputs=inputs)
        attempts = 1
        while True:
            time.sleep(5 * scale.time)
            state = call(client.applications.jobs.retrieve, job.id)
            if state.status == "failed" and attempts < MAX_ATTEMPTS:
                call(client.applications.jobs.retry, job.id)
                attempts += 1
            elif state.status in ("completed", "failed"):
                with lock:
                    records.append({"key": f"SKU-{n}", "job_id": job.id, "status": state.status})
                return

    errors = 0
    with ThreadPoolExecutor(64) as pool:
        for future in [pool.submit(one, n) for n in range(1, scale.rows + 1)]:
            if future.exception() is not None:
                errors += 1
    client.close()
    return {"exit": 1 if errors else 0, "records": records, "errors": errors}


def _rounds(api: FakeWriterAPI, others: set[uuid.UUID]) -> int:
    """Rounds of runs: the most runs any row's job had (the create, then its retries)."""
    return 1 + max(
        (job.retries for job in list(api.store._jobs.values()) if job.id not in others),
        default=0,
    )


def _run(scale: Scale, situation: Situation) -> dict[str, Any]:
    api = _account(scale, situation)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            peer = _sdk_loop if situation.sdk else _ours
            result = peer(api, scale, situation, Path(workdir))
        wall = time.monotonic() - started
        requests = sum(api.requests_per_operation().values())
        others = set(api.other_created)
        jobs = {j.id: j for j in list(api.store._jobs.values()) if j.id not in others}
        per_row = Counter(job.inputs[0]["value"][0] for job in jobs.values())
        lost = sum(
            1
            for e in api.log
            if e.operation == "create_job" and e.fault in ("drop_after", "drop_before")
        )
        rounds = _rounds(api, others)
    finally:
        api.stop()
    records = result.pop("records")
    keys = Counter(r["key"] for r in records)
    joined_wrong = 0
    wrong_status = 0
    for record in records:
        if record.get("job_id"):
            job = jobs.get(uuid.UUID(str(record["job_id"])))
            number = int(record["key"].split("-")[1])
            if job is None or job.inputs[0]["value"] != [f"product {number}"]:
                joined_wrong += 1
            elif record["status"] != job.status.value:
                wrong_status += 1
    best = scale.rows / scale.per_minute * 60 + 30 * scale.time * rounds
    best += 60 * scale.time if situation.outage else 0.0
    return {
        **result,
        "wall_s": wall,
        "ideal_s": best,
        "rounds": rounds,
        "vs_ideal": wall / best,
        "requests": requests,
        "requests_per_row": requests / scale.rows,
        "rate_limited": api.rate_limited,
        "lost_answers": lost,
        "other_jobs": len(others),
        "rows_with_two_jobs": sum(1 for n in per_row.values() if n > 1),
        "rows_without_a_job": scale.rows - len(per_row),
        "records": len(records),
        "rows_recorded_twice": sum(1 for n in keys.values() if n > 1),
        "rows_missing": scale.rows - len(keys),
        "joined_to_another_job": joined_wrong,
        "wrong_statuses": wrong_status,
        "unresolved": sum(1 for r in records if r["status"] == "unresolved"),
        "statuses": dict(Counter(r["status"] for r in records)),
    }


def bench_batch(quick: bool, only: list[str] | None = None) -> dict[str, Any]:
    scale = QUICK if quick else FULL
    chosen = [s for s in SITUATIONS if not only or any(o in s.name for o in only)]
    memory = not only or any(o in MEMORY_NAME for o in only)
    # The memory runs beside the situations: they wait on the fake far more than they
    # compute, and take about as long as the longest situation.
    with ThreadPoolExecutor(len(chosen) + 1) as pool:
        memory_runs = pool.submit(_memory, quick) if memory else None
        runs = list(pool.map(lambda s: _run(scale, s), chosen))
        memory_result = [] if memory_runs is None else memory_runs.result()
    return {
        "rows": scale.rows,
        "per_minute": scale.per_minute,
        "delay": list(scale.delay),
        "situations": {s.name: run for s, run in zip(chosen, runs, strict=True)},
        "memory": memory_result,
    }


def batch_targets(result: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    rows: list[tuple[str, float, str, bool]] = []
    for situation in SITUATIONS:
        run = result["situations"].get(situation.name)
        if run is None or situation.sdk:
            continue
        name = f"batch, {situation.name}"
        if situation.wall is not None:
            rows.append(
                (
                    f"{name}: wall vs ideal",
                    run["vs_ideal"],
                    f"<= {situation.wall}x",
                    run["vs_ideal"] <= situation.wall,
                )
            )
        if situation.per_row is not None:
            rows.append(
                (
                    f"{name}: requests a row",
                    run["requests_per_row"],
                    f"<= {situation.per_row}",
                    run["requests_per_row"] <= situation.per_row,
                )
            )
        broken = run["rows_with_two_jobs"] + run["rows_recorded_twice"] + run["rows_missing"]
        broken += run["joined_to_another_job"] + run["wrong_statuses"]
        rows.append(
            (
                f"{name}: rows with two jobs, recorded twice or missing, joined wrong",
                broken,
                "0, exit 0 or 3",
                broken == 0 and run["exit"] in (0, 3),
            )
        )
        limit = run["lost_answers"] if situation.other_creator else 0
        rows.append(
            (
                f"{name}: unresolved rows",
                run["unresolved"],
                f"<= {limit} (lost answers)",
                run["unresolved"] <= limit,
            )
        )
    memory = result.get("memory", [])
    if memory:
        largest = memory[-1]
        rows.append(
            (
                f"batch, {largest['rows']:,} rows on a fast account: peak memory (MB)",
                largest["peak_mb"],
                f"<= {MEMORY_TARGET_MB:g} MB",
                largest["peak_mb"] <= MEMORY_TARGET_MB,
            )
        )
        smallest = memory[0]
        rows.append(
            (
                f"batch, fast account: peak memory at {largest['rows']:,} rows less at "
                f"{smallest['rows']:,} (MB, no target)",
                largest["peak_mb"] - smallest["peak_mb"],
                "-",
                True,
            )
        )
        broken = sum(
            run["rows_recorded_twice"] + run["rows_missing"] + (run["exit"] not in (0, 3))
            for run in memory
        )
        rows.append(
            (
                f"batch, {smallest['rows']:,} and {largest['rows']:,} rows on a fast account: "
                "rows recorded twice or missing, exit not 0 or 3",
                broken,
                "0",
                broken == 0,
            )
        )
    return rows


def report_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        "## Batch: `writer-jobs batch APP rows.csv --output results.jsonl`",
        "",
        f"{result['rows']} rows, jobs of {result['delay'][0]:g}-{result['delay'][1]:g} s, "
        f"10 % of runs failing (at most {MAX_ATTEMPTS} runs a row), an account limit of "
        f"{result['per_minute']} requests a minute (sliding window, 429 without "
        "Retry-After). Ideal: every POST at that pace + 30 s a round of runs (+ the outage).",
        "",
        "| situation | wall | ideal (rounds) | vs ideal | requests a row | 429s | lost answers "
        "| other's jobs | rows with two jobs | joined wrong | unresolved | missing | exit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in result["situations"].items():
        lines.append(
            f"| {name} | {run['wall_s']:.0f} s | {run['ideal_s']:.0f} s ({run['rounds']}) | "
            f"{run['vs_ideal']:.2f}x | {run['requests_per_row']:.2f} | {run['rate_limited']} | "
            f"{run['lost_answers']} | {run['other_jobs']} | {run['rows_with_two_jobs']} | "
            f"{run['joined_to_another_job']} | {run['unresolved']} | {run['rows_missing']} | "
            f"{run['exit']} |"
        )
    memory = result.get("memory", [])
    if memory:
        lines += [
            "",
            "## Batch memory: the same command on a fast account",
            "",
            f"No rate limit on the fake (`--rate-limit {MEMORY_RATE_LIMIT}`), jobs of "
            f"{MEMORY_DELAY[0]:g}-{MEMORY_DELAY[1]:g} s, 5 % of runs failing. Peak resident "
            "memory (VmHWM) of the CLI's process (the fake serves from the bench's).",
            "",
            "| rows | peak memory | wall | requests a row | recorded twice | missing | exit |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for run in memory:
            lines.append(
                f"| {run['rows']:,} | {run['peak_mb']:.1f} MB | {run['wall_s']:.0f} s | "
                f"{run['requests_per_row']:.2f} | {run['rows_recorded_twice']} | "
                f"{run['rows_missing']} | {run['exit']} |"
            )
    return [*lines, ""]


def write_report(out: Path, result: dict[str, Any], quick: bool) -> str:
    lines = ["# writer-jobs batch", ""]
    lines += ["QUICK (tiny sizes, numbers meaningless)", ""] if quick else []
    lines += ["| measure | measured | target | met |", "| --- | --- | --- | --- |"]
    for measure, value, target, ok in batch_targets(result):
        lines.append(f"| {measure} | {value:.3g} | {target} | {'yes' if ok else 'NO'} |")
    text = "\n".join([*lines, "", *report_lines(result)])
    out.mkdir(parents=True, exist_ok=True)
    (out / "batch.md").write_text(text)
    (out / "batch.json").write_text(json.dumps(result, indent=2, default=str))
    return text


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to prove it runs")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--only", action="append", help="situations whose name has this")
    args = parser.parse_args(argv)
    print(write_report(args.out, bench_batch(args.quick, args.only), args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
