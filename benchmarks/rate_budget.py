"""The number that matters to a user: retry every failed job and watch them finish,
against an account that allows 400 requests a minute (a sliding window, 429 without
Retry-After), an application with a long history, jobs that run 15-30 s.

Side by side, each against its own fake account (in this process: the load is a few
requests a second): ``writer-jobs``' ``retry_failed(wait=True)`` and the loop a user
writes with the official SDK (list the failed jobs, then 16 threads: retry, then GET
every 5 s until it ends). Counted on the server: requests, 429s, double triggers;
checked against it: every reported final status.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from writer_jobs.testing import FakeWriterAPI


def _account(jobs: int, history: int, per_minute: int, delay: tuple[float, float]) -> FakeWriterAPI:
    return FakeWriterAPI(
        seed_failed=jobs,
        seed_completed=history,
        newest_first=True,
        delay=delay,
        failure_ratio=0.1,
        rate_limit=per_minute,
        seed=7,
    ).start()


def _ours(api: FakeWriterAPI, per_minute: int, finished: Callable[[str, str], None]) -> None:
    from writer_jobs import JobsClient

    with JobsClient(api.api_key, base_url=api.base_url, rate_limit=per_minute) as client:
        client.retry_failed(
            api.application_id,
            wait=True,
            on_outcome=lambda o: finished(str(o.job_id), o.status.value if o.status else "?"),
        )


def _sdk_loop(api: FakeWriterAPI, per_minute: int, finished: Callable[[str, str], None]) -> None:
    from writerai import Writer

    client = Writer(api_key=api.api_key, base_url=api.base_url)
    ids = [job.id for job in client.applications.jobs.list(api.application_id, status="failed")]

    def one(job_id: str) -> None:
        client.applications.jobs.retry(job_id)
        while True:
            time.sleep(5 * SCALE[0])
            job = client.applications.jobs.retrieve(job_id)
            if job.status in ("completed", "failed"):
                finished(job_id, job.status)
                return

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, ids))
    client.close()


#: Time scale of the quick run (1.0: real time), applied to the SDK loop's 5 s poll.
SCALE = [1.0]

PEERS: dict[str, Callable[[FakeWriterAPI, int, Callable[[str, str], None]], None]] = {
    "writer-jobs retry_failed(wait=True)": _ours,
    "writer-sdk loop (16 threads: retry, GET every 5 s)": _sdk_loop,
}


def bench_rate_budget(quick: bool) -> dict[str, Any]:
    jobs, history = (30, 150) if quick else (300, 1500)
    per_minute = 6000 if quick else 400
    delay = (1.0, 2.0) if quick else (15.0, 30.0)
    SCALE[0] = 400 / per_minute
    ideal = jobs / per_minute * 60 + delay[1]
    results: dict[str, Any] = {
        "jobs": jobs,
        "history": history,
        "per_minute": per_minute,
        "delay": list(delay),
        "ideal_s": ideal,
        "peers": {},
    }
    for name, peer in PEERS.items():
        results["peers"][name] = _run_peer(peer, _account(jobs, history, per_minute, delay))
    return results


def _run_peer(
    peer: Callable[[FakeWriterAPI, int, Callable[[str, str], None]], None], api: FakeWriterAPI
) -> dict[str, Any]:
    jobs = len(api.seeded)
    reported: dict[str, str] = {}
    times: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def finished(job_id: str, status: str) -> None:
        with lock:
            reported[job_id] = status
            times.append(time.monotonic() - started)

    try:
        peer(api, api._fake.rate_limit or 0, finished)
        wall = time.monotonic() - started
        requests = sum(api.requests_per_operation().values())
        truth = {str(j): api.store.job(j).status.value for j in api.seeded}
        per_job = api.retries_per_job()
    finally:
        api.stop()
    return {
        "wall_s": wall,
        "requests": requests,
        "requests_per_job": requests / jobs,
        "rate_limited": api.rate_limited,
        "wrong_statuses": sum(1 for j, s in truth.items() if reported.get(j) != s),
        "double_triggers": sum(1 for n in per_job.values() if n > 1),
        "finished_at": sorted(times),
    }


def report_lines(rate: dict[str, Any]) -> list[str]:
    lines = [
        "## Rate budget: retry and watch every failed job",
        "",
        f"{rate['jobs']} failed jobs of {rate['delay'][0]:g}-{rate['delay'][1]:g} s, "
        f"{rate['history']:,} completed jobs of history, an account limit of "
        f"{rate['per_minute']:,} requests a minute (sliding window, 429 without "
        f"Retry-After). Ideal: {rate['jobs']} POSTs at the limit + the longest job = "
        f"{rate['ideal_s']:.0f} s.",
        "",
        "| client | wall time | vs ideal | requests | requests a job | 429s | wrong statuses "
        "| double triggers |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, peer in rate["peers"].items():
        lines.append(
            f"| {name} | {peer['wall_s']:.0f} s | {peer['wall_s'] / rate['ideal_s']:.2f}x | "
            f"{peer['requests']:,} | {peer['requests_per_job']:.2f} | {peer['rate_limited']} | "
            f"{peer['wrong_statuses']} | {peer['double_triggers']} |"
        )
    return [*lines, ""]


def rate_targets(rate: dict[str, Any]) -> list[tuple[str, float, str, bool]]:
    ours, sdk = (rate["peers"][name] for name in PEERS)
    wall = ours["wall_s"] / rate["ideal_s"]
    share_429 = ours["rate_limited"] / max(ours["requests"], 1)
    return [
        (
            "rate budget: requests a job",
            ours["requests_per_job"],
            "<= 1.2",
            ours["requests_per_job"] <= 1.2,
        ),
        ("rate budget: wall time vs ideal", wall, "<= 1.2x", wall <= 1.2),
        ("rate budget: 429s, share of requests", share_429, "<= 0.01", share_429 <= 0.01),
        (
            "rate budget: wrong final statuses + double triggers",
            ours["wrong_statuses"] + ours["double_triggers"],
            "0",
            ours["wrong_statuses"] + ours["double_triggers"] == 0,
        ),
        (
            "rate budget: wall time vs the writer-sdk loop",
            ours["wall_s"] / sdk["wall_s"],
            "< 1x",
            ours["wall_s"] < sdk["wall_s"],
        ),
    ]


def chart(ax: Any, rate: dict[str, Any]) -> None:
    for name, peer in rate["peers"].items():
        times = peer["finished_at"]
        ax.step(times, range(1, len(times) + 1), where="post", label=name)
    ax.axvline(rate["ideal_s"], linestyle="--", color="grey", label="ideal")
    ax.set_xlabel("seconds")
    ax.set_ylabel("jobs finished and reported")
    ax.set_title(f"{rate['jobs']} jobs at {rate['per_minute']} requests a minute")
    ax.legend()
