"""writer-jobs benchmarks: per-call cost, bulk throughput, import time, bulk memory.

    python benchmarks/bench.py            # full run, writes benchmarks/results/
    python benchmarks/bench.py --quick    # tiny sizes: proves it works (make test)

Every peer is measured in the same run, in interleaved rounds, against one minimal
loopback server (benchmarks/server.py); medians and ratios are reported. Absolute
times depend on the machine; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks import batch
from benchmarks.rate_budget import bench_rate_budget, rate_targets, report_lines
from benchmarks.rate_budget import chart as rate_budget_chart

HERE = Path(__file__).resolve().parent
JOB_ID = uuid.UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
RETRY_PATH = f"/v1/applications/jobs/{JOB_ID}/retry"
KEY = "bench-key"
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)

TARGETS = [
    # (measure, numerator, denominator, op, target)
    ("sync retry() per call vs raw httpx", "JobsClient.retry", "httpx.Client", "<=", 1.10),
    ("sync retry() per call vs writer-sdk", "JobsClient.retry", "writer-sdk Writer", "<=", 0.70),
    (
        "async bulk c=64, default (httpx) vs raw httpx.AsyncClient",
        "AsyncJobsClient (httpx, default)",
        "httpx.AsyncClient",
        ">=",
        0.95,
    ),
]


@contextmanager
def bench_server(jobs: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--jobs", str(jobs)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


# --- sync: per-call cost of retry() -------------------------------------------------------
def sync_peers(url: str) -> dict[str, tuple[Callable[[], Any], Callable[[], None]]]:
    from writerai import Writer

    from writer_jobs import JobsClient
    from writer_jobs._generated import AuthenticatedClient
    from writer_jobs._generated.api.template import retry_job

    peers: dict[str, tuple[Callable[[], Any], Callable[[], None]]] = {}

    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    request = (
        f"POST {RETRY_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: 0\r\n\r\n"
    ).encode()

    def raw_socket() -> Any:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        return json.loads(body)

    peers["raw socket (floor)"] = (raw_socket, sock.close)

    raw = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"})
    peers["httpx.Client"] = (lambda: raw.post(RETRY_PATH).json(), raw.close)

    generated = AuthenticatedClient(base_url=url, token=KEY)
    peers["generated client"] = (
        lambda: retry_job.sync_detailed(JOB_ID, client=generated).parsed,
        lambda: generated.get_httpx_client().close(),
    )

    ours = JobsClient(KEY, base_url=url)
    peers["JobsClient.retry"] = (lambda: ours.retry(JOB_ID), ours.close)

    sdk = Writer(api_key=KEY, base_url=url, max_retries=0)
    peers["writer-sdk Writer"] = (lambda: sdk.applications.jobs.retry(str(JOB_ID)), sdk.close)
    return peers


def bench_sync(url: str, calls: int, rounds: int) -> dict[str, float]:
    peers = sync_peers(url)
    samples: dict[str, list[float]] = {name: [] for name in peers}
    for fn, _ in peers.values():
        for _ in range(20):  # warm up connections and caches
            fn()
    for _ in range(rounds):
        for name, (fn, _) in peers.items():
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - started) / calls * 1e6)
    for _, close in peers.values():
        close()
    return {name: statistics.median(values) for name, values in samples.items()}


# --- async: bulk throughput -----------------------------------------------------------------
AsyncPeer = Callable[
    [str], Awaitable[tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[None]]]]
]


async def _httpx_async(url: str) -> Any:
    client = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {KEY}"}, limits=LIMITS
    )

    async def call() -> Any:
        return (await client.post(RETRY_PATH)).json()

    return call, client.aclose


async def _ours_httpx(url: str) -> Any:
    from writer_jobs import AsyncJobsClient

    client = AsyncJobsClient(KEY, base_url=url)
    return (lambda: client.retry(JOB_ID)), client.aclose


async def _sdk_async(url: str) -> Any:
    from writerai import AsyncWriter

    client = AsyncWriter(
        api_key=KEY, base_url=url, max_retries=0, http_client=httpx.AsyncClient(limits=LIMITS)
    )
    return (lambda: client.applications.jobs.retry(str(JOB_ID))), client.close


ASYNC_PEERS: dict[str, AsyncPeer] = {
    "httpx.AsyncClient": _httpx_async,
    "AsyncJobsClient (httpx, default)": _ours_httpx,
    "writer-sdk AsyncWriter": _sdk_async,
}


async def _throughput(peer: AsyncPeer, url: str, requests: int, concurrency: int) -> float:
    call, close = await peer(url)
    try:
        await asyncio.gather(*(call() for _ in range(min(concurrency, 20))))  # warm up
        per_worker = requests // concurrency

        async def worker() -> None:
            for _ in range(per_worker):
                await call()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - started)
    finally:
        await close()


def bench_async(
    url: str, requests: int, rounds: int, concurrencies: tuple[int, ...]
) -> dict[int, dict[str, float]]:
    results: dict[int, dict[str, float]] = {}
    for concurrency in concurrencies:
        samples: dict[str, list[float]] = {name: [] for name in ASYNC_PEERS}
        for _ in range(rounds):
            for name, peer in ASYNC_PEERS.items():
                samples[name].append(asyncio.run(_throughput(peer, url, requests, concurrency)))
        results[concurrency] = {n: statistics.median(v) for n, v in samples.items()}
    return results


# --- import time ------------------------------------------------------------------------------
IMPORTS = {
    "import writer_jobs": "import writer_jobs",
    "import writerai": "import writerai",
    # The first real use: making a client needs httpx (and writerai's pydantic).
    "from writer_jobs import JobsClient": "from writer_jobs import JobsClient; JobsClient",
    "from writerai import Writer": "from writerai import Writer",
}


def bench_import(runs: int) -> dict[str, float]:
    def once(statement: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        return time.perf_counter() - started

    samples: dict[str, list[float]] = {name: [] for name in ["pass", *IMPORTS]}
    for _ in range(runs):
        samples["pass"].append(once("pass"))
        for name, statement in IMPORTS.items():
            samples[name].append(once(statement))
    base = statistics.median(samples.pop("pass"))
    return {name: (statistics.median(values) - base) * 1000 for name, values in samples.items()}


# --- memory of retry_failed -------------------------------------------------------------------
def rss_child(url: str, jobs: int) -> None:
    """Run in a fresh interpreter: RSS before and after retry_failed over ``jobs`` jobs."""
    from writer_jobs import AsyncJobsClient

    def rss_mb() -> float:
        """Resident memory now (Linux /proc), else the peak so far."""
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return peak_mb()

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def main() -> dict[str, Any]:
        async with AsyncJobsClient(KEY, base_url=url) as client:
            await client.retry(JOB_ID)  # warm: pools, imports, caches
            before = rss_mb()
            started = time.perf_counter()
            summary = await client.retry_failed("bench-app", concurrency=64, rate_limit=None)
            elapsed = time.perf_counter() - started
        return {
            "jobs": summary.total,
            "retried": summary.outcomes.get("retried", 0),
            "before_mb": before,
            "peak_mb": peak_mb(),
            "seconds": elapsed,
        }

    print(json.dumps(asyncio.run(main())))


def bench_rss(jobs: int) -> dict[str, Any]:
    with bench_server(jobs) as url:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", "--rss-child", url, str(jobs)],
            cwd=HERE.parent,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result: dict[str, Any] = json.loads(out)
    result["growth_mb"] = result["peak_mb"] - result["before_mb"]
    return result


# --- report -------------------------------------------------------------------------------------
def ratio_rows(
    sync: dict[str, float],
    bulk: dict[int, dict[str, float]],
    imports: dict[str, float],
    rss: dict[str, Any],
) -> list[tuple[str, float, str, bool]]:
    rows = []
    for measure, num, den, op, target in TARGETS:
        if measure.startswith("sync"):
            value = sync[num] / sync[den]
        else:
            top = bulk[max(bulk)]
            value = top[num] / top[den]
        ok = value <= target if op == "<=" else value >= target
        rows.append((measure, value, f"{op} {target:g}x", ok))
    value = imports["import writer_jobs"] / imports["import writerai"]
    rows.append(("import writer_jobs vs import writerai", value, "<= 0.5x", value <= 0.5))
    value = imports["from writer_jobs import JobsClient"] / imports["from writerai import Writer"]
    rows.append(("first use: import the sync client, vs writerai's (no target)", value, "-", True))
    rows.append(
        (
            f"peak RSS growth, retry_failed over {rss['jobs']:,} jobs (MB)",
            rss["growth_mb"],
            "<= 60 MB",
            rss["growth_mb"] <= 60,
        )
    )
    return rows


def write_report(
    out: Path,
    sync: dict[str, float],
    bulk: dict[int, dict[str, float]],
    imports: dict[str, float],
    rss: dict[str, Any],
    quick: bool,
    rate: dict[str, Any],
) -> str:
    rows = rate_targets(rate) + ratio_rows(sync, bulk, imports, rss)
    lines = [
        "# writer-jobs benchmark",
        "",
        f"{'QUICK (tiny sizes, numbers meaningless)' if quick else 'Full run'}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores. Medians of interleaved "
        "rounds against one loopback server.",
        "",
        "## Targets",
        "",
        "| measure | measured | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for measure, value, target, ok in rows:
        shown = f"{value:.1f}" if "MB" in measure else f"{value:.2f}x"
        if measure.startswith("rate budget") and "vs" not in measure:
            shown = f"{value:.3g}"
        lines.append(f"| {measure} | {shown} | {target} | {'yes' if ok else 'NO'} |")
    lines += ["", *report_lines(rate)]
    lines += [
        "",
        "## Sync: one `retry()` call",
        "",
        "| peer | µs per call | vs httpx.Client |",
        "| --- | --- | --- |",
    ]
    for name, micros in sync.items():
        lines.append(f"| {name} | {micros:.0f} | {micros / sync['httpx.Client']:.2f}x |")
    lines += [
        "",
        "## Async bulk: `retry()` requests per second",
        "",
        "| peer | " + " | ".join(f"c={c}" for c in bulk) + " |",
        "| --- |" + " --- |" * len(bulk),
    ]
    for name in ASYNC_PEERS:
        lines.append(f"| {name} | " + " | ".join(f"{bulk[c][name]:,.0f}" for c in bulk) + " |")
    lines += [
        "",
        "## Import time (fresh interpreter, minus `python -c pass`)",
        "",
        "| module | ms |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {ms:.0f} |" for name, ms in imports.items()]
    lines += [
        "",
        "## retry_failed memory",
        "",
        f"{rss['jobs']:,} failed jobs, concurrency 64, no rate limit: RSS "
        f"{rss['before_mb']:.0f} MB before, {rss['peak_mb']:.0f} MB peak "
        f"(+{rss['growth_mb']:.1f} MB), {rss['seconds']:.1f} s.",
        "",
    ]
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(text)
    (out / "results.json").write_text(
        json.dumps(
            {
                "sync_us": sync,
                "bulk_rps": {str(k): v for k, v in bulk.items()},
                "import_ms": imports,
                "rss": rss,
                "rate_budget": rate,
                "quick": quick,
            },
            indent=2,
        )
    )
    chart(out / "chart.png", sync, bulk)
    rate_chart(out / "rate_budget.png", rate)
    return text


def write_rate_report(out: Path, rate: dict[str, Any], quick: bool) -> str:
    """The rate budget section alone (``--rate-only``): rate_budget.md and .json."""
    lines = ["# writer-jobs rate budget", ""]
    lines += ["QUICK (tiny sizes, numbers meaningless)", ""] if quick else []
    lines += ["| measure | measured | target | met |", "| --- | --- | --- | --- |"]
    for measure, value, target, ok in rate_targets(rate):
        lines.append(f"| {measure} | {value:.3g} | {target} | {'yes' if ok else 'NO'} |")
    text = "\n".join([*lines, "", *report_lines(rate)])
    out.mkdir(parents=True, exist_ok=True)
    (out / "rate_budget.md").write_text(text)
    (out / "rate_budget.json").write_text(json.dumps(rate, indent=2))
    rate_chart(out / "rate_budget.png", rate)
    return text


def rate_chart(path: Path, rate: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(9, 4.8))
    rate_budget_chart(ax, rate)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def chart(path: Path, sync: dict[str, float], bulk: dict[int, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = list(sync)
    left.barh(names, [sync[n] for n in names], color="#4c72b0")
    left.set_xlabel("µs per retry() call (lower is better)")
    left.set_title("Sync, one call at a time")
    left.invert_yaxis()
    peers = list(ASYNC_PEERS)
    width = 0.8 / len(bulk)
    for index, concurrency in enumerate(bulk):
        positions = [i + index * width for i in range(len(peers))]
        right.barh(
            positions,
            [bulk[concurrency][p] for p in peers],
            height=width,
            label=f"concurrency {concurrency}",
        )
    right.set_yticks([i + width * (len(bulk) - 1) / 2 for i in range(len(peers))], peers)
    right.invert_yaxis()
    right.set_xlabel("retry() requests per second (higher is better)")
    right.set_title("Async bulk")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def speed_only(quick: bool) -> int:
    """The two speed targets measured in one run, printed (no files written)."""
    with bench_server(jobs=10) as url:
        sync = bench_sync(url, calls=30 if quick else 300, rounds=2 if quick else 31)
        bulk = bench_async(
            url, requests=64 if quick else 3200, rounds=1 if quick else 3, concurrencies=(64,)
        )
    print(f"sync retry() vs raw httpx: {sync['JobsClient.retry'] / sync['httpx.Client']:.3f}x")
    ours, raw = bulk[64]["AsyncJobsClient (httpx, default)"], bulk[64]["httpx.AsyncClient"]
    print(f"async c=64 vs raw httpx: {ours / raw:.3f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to prove it runs")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--rate-only",
        action="store_true",
        help="only the rate budget and outage situations (results/rate_budget.md)",
    )
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="only sync retry() per call and async bulk, side by side; prints their ratios",
    )
    parser.add_argument(
        "--batch-only",
        action="store_true",
        help="only the batch situations (results/batch.md)",
    )
    parser.add_argument("--rss-child", nargs=2, metavar=("URL", "JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child[0], int(args.rss_child[1]))
        return 0
    quick = args.quick
    if args.speed_only:
        return speed_only(quick)
    if args.batch_only:
        print(batch.write_report(args.out, batch.bench_batch(quick), quick))
        return 0
    print("rate budget and outages ...", flush=True)
    rate = bench_rate_budget(quick)
    if args.rate_only:
        print(write_rate_report(args.out, rate, quick))
        return 0
    with bench_server(jobs=10) as url:
        print("sync per-call ...", flush=True)
        sync = bench_sync(url, calls=30 if quick else 300, rounds=2 if quick else 31)
        print("async bulk ...", flush=True)
        bulk = bench_async(
            url, requests=64 if quick else 3200, rounds=1 if quick else 3, concurrencies=(1, 16, 64)
        )
    print("import time ...", flush=True)
    imports = bench_import(runs=2 if quick else 9)
    print("retry_failed memory ...", flush=True)
    rss = bench_rss(jobs=500 if quick else 100_000)
    print(write_report(args.out, sync, bulk, imports, rss, quick, rate))
    print("batch ...", flush=True)
    print(batch.write_report(args.out, batch.bench_batch(quick), quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
