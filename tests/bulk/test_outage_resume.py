"""A run stopped during an outage leaves its client able to run again: Ctrl-C or a
cancelled task while the one probe let through is out (waiting for its answer, or
sleeping its pace) does not leave the client believing a probe is still out. The
outage over, a resume on the SAME client with the same journal finishes, with or
without max_unavailable, each job re-triggered exactly once. And max_unavailable
stops a run only once a probe at the bound failed too: an outage shorter than the
bound, however the probes' backoff falls, is waited out. Counted on the server; a
regression fails (a bounded wait) rather than hangs the suite."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from writer_jobs import AsyncJobsClient, JobsClient
from writer_jobs.testing import FakeWriterAPI, Outage
from writer_jobs.testing._conditions import OutageKind

JOBS = 10


def _account() -> FakeWriterAPI:
    return FakeWriterAPI(seed_failed=JOBS, newest_first=True, delay=0.2)


def _poll(condition: Callable[[], bool], limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)


def _ctrl_c_when(condition: Callable[[], bool], after: float) -> None:
    """A thread that sends this process SIGINT ``after`` seconds once ``condition()`` holds."""

    def watch() -> None:
        _poll(condition)
        time.sleep(after)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()


def _wait_out(api: FakeWriterAPI, outage: Outage) -> None:
    while api.elapsed() < outage.start + outage.duration + 0.1:
        time.sleep(0.05)


def _exactly_once(api: FakeWriterAPI) -> None:
    per_job = api.retries_per_job()
    assert set(per_job) == set(api.seeded), "every job re-triggered"
    assert max(per_job.values()) == 1, "no job triggered twice"


# Stopped while the probe let through sleeps its pace (503s; the run's rate_limit of
# 12 a minute spaces its requests 5 s apart), or while it waits for its answer (the
# service stalls; the client's timeout is 1 s).
STOPS: dict[str, tuple[OutageKind, float | None, int, float]] = {
    "in the probe's pace": ("503", 12, 1, 1.5),
    "while the probe is out": ("stall", None, 2, 0.2),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("stop", list(STOPS), ids=list(STOPS))
@pytest.mark.parametrize("bound", [None, 30.0], ids=["no bound", "bound"])
def test_ctrl_c_during_an_outage_then_a_resume_on_the_same_client_finishes(
    tmp_path: Path, stop: str, bound: float | None
) -> None:
    kind, rate_limit, seen, after = STOPS[stop]
    journal = tmp_path / "run.jsonl"
    with (
        _account() as api,
        JobsClient(api.api_key, base_url=api.base_url, max_retries=0, timeout=1.0) as client,
    ):
        outage = Outage(start=api.elapsed(), duration=5.0, kind=kind)
        api.schedule(outage)
        # The first request failed (or the probe is held): Ctrl-C a moment later.
        _ctrl_c_when(lambda: api.unavailable >= seen, after)
        with pytest.raises(KeyboardInterrupt):
            client.retry_failed(
                api.application_id, journal=journal, max_unavailable=30, rate_limit=rate_limit
            )
        assert api.processed("retry_job") == 0
        _wait_out(api, outage)
        # A bounded wait: a resume that never sends is a failure, not a hung suite.
        done: list[object] = []

        def resume() -> None:
            done.append(
                client.retry_failed(api.application_id, journal=journal, max_unavailable=bound)
            )

        thread = threading.Thread(target=resume, daemon=True)
        thread.start()
        thread.join(20)
        assert done, "the resume on the same client never finished"
        _exactly_once(api)


@pytest.mark.timeout(90)
async def test_a_task_cancelled_during_an_outage_then_a_resume_on_the_same_client_finishes(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with _account() as api:
        async with AsyncJobsClient(
            api.api_key, base_url=api.base_url, max_retries=0, timeout=1.0
        ) as client:
            outage = Outage(start=api.elapsed(), duration=4.0, kind="stall")
            api.schedule(outage)
            task = asyncio.create_task(
                client.retry_failed(api.application_id, journal=journal, max_unavailable=30)
            )
            # The first request timed out; the probe is held.
            await asyncio.to_thread(_poll, lambda: api.unavailable >= 2)
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.to_thread(_wait_out, api, outage)
            summary = await asyncio.wait_for(
                client.retry_failed(api.application_id, journal=journal, max_unavailable=None),
                45,
            )
        _exactly_once(api)
        assert summary.outcomes == {"retried": JOBS}


# max_unavailable 6 s, an outage of 4 s from the start: with probes 0.5 s doubling
# apart (0.5, 1.5, 3.5, then 7.5 s), the last failed one is at 3.5 s and the next is
# due past the bound; the run must probe at the bound rather than stop unprobed.
SHORT_OUTAGE = 4.0
BOUND = 6.0


@pytest.mark.timeout(90)
def test_an_outage_shorter_than_max_unavailable_is_waited_out() -> None:
    with _account() as api:
        api.schedule(Outage(start=api.elapsed(), duration=SHORT_OUTAGE, kind="503"))
        with JobsClient(
            api.api_key, base_url=api.base_url, max_retries=0, backoff_initial=0.5
        ) as client:
            summary = client.retry_failed(api.application_id, wait=True, max_unavailable=BOUND)
        _exactly_once(api)
    assert summary.outcomes == {"retried": JOBS}
    assert summary.unavailable_seconds > 0, "the run met the outage"


@pytest.mark.timeout(90)
async def test_an_outage_shorter_than_max_unavailable_is_waited_out_async() -> None:
    with _account() as api:
        api.schedule(Outage(start=api.elapsed(), duration=SHORT_OUTAGE, kind="503"))
        async with AsyncJobsClient(
            api.api_key, base_url=api.base_url, max_retries=0, backoff_initial=0.5
        ) as client:
            summary = await client.retry_failed(
                api.application_id, wait=True, max_unavailable=BOUND
            )
        _exactly_once(api)
    assert summary.outcomes == {"retried": JOBS}
    assert summary.unavailable_seconds > 0, "the run met the outage"
