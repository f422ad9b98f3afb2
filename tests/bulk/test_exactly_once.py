"""Exactly-once under the conditions the real service produces: answers lost after
processing, jobs failing again within milliseconds, servers that cap pages or omit
totalCount / updated_at / Date, clocks that disagree, two runs at once, a callback
raising, Ctrl-C, cancellation. Every count is what the fake *processed*."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from writer_jobs import (
    AsyncJobsClient,
    InvalidArgumentError,
    JobOutcome,
    JobsClient,
    JobStatus,
    RetryOutcomeUnknownError,
    RunInProgressError,
    ServiceUnavailableError,
)
from writer_jobs.bulk import _plan, _sync
from writer_jobs.bulk._journal import RunLock
from writer_jobs.testing import FakeWriterAPI, Faults

from ..conftest import Processes, sigint_raises

FAST: dict[str, Any] = {"backoff_initial": 0.005, "backoff_max": 0.05}
#: Seeded failures this old (seconds) are provably older than a POST sent now: the
#: Date header's whole seconds plus the margin for clocks that disagree behind one API.
OLDER_THAN_THE_MARGIN = 120.0


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _ours(api: FakeWriterAPI) -> dict[UUID, int]:
    return api.retries_per_job(include_other=False)


# --- retry(): an answer lost after processing, the job failing again at once ---------


def test_retry_whose_answer_was_lost_and_that_failed_again_is_not_posted_again() -> None:
    # A deterministic error: the job fails again the moment it runs.
    with FakeWriterAPI(seed_failed=1, fail_again_after=0.0) as api:
        job_id = api.seeded[0]
        api.fail_next("retry_job", "drop_after")
        with (
            JobsClient(api.api_key, base_url=api.base_url, **FAST) as client,
            pytest.raises(RetryOutcomeUnknownError, match="never triggered twice") as caught,
        ):
            client.retry(job_id)
        assert api.processed("retry_job", job_id) == 1
    assert caught.value.job.status is JobStatus.FAILED


async def test_async_retry_whose_answer_was_lost_and_that_failed_again_is_not_posted_again() -> (
    None
):
    with FakeWriterAPI(seed_failed=1, fail_again_after=0.0, clock_offset=-10) as api:
        job_id = api.seeded[0]
        api.fail_next("retry_job", "drop_after")
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            with pytest.raises(RetryOutcomeUnknownError):
                await client.retry(job_id)
        assert api.processed("retry_job", job_id) == 1


def test_retry_whose_lost_post_was_not_processed_is_posted_again() -> None:
    """The other side: the POST never ran (dropped before processing), the job failed
    long ago by the server's clock (10 s behind ours): safe to POST again, and done."""
    with FakeWriterAPI(
        seed_failed=1, clock_offset=-10, delay=30, seed_failed_age=OLDER_THAN_THE_MARGIN
    ) as api:
        job_id = api.seeded[0]
        api.fail_next("retry_job", "drop_before")
        with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            job = client.retry(job_id)
        assert job.status is JobStatus.IN_PROGRESS
        assert api.processed("retry_job", job_id) == 1


def test_retry_happy_path_costs_one_request() -> None:
    with FakeWriterAPI(seed_failed=1, fail_again_after=0.0) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            client.retry(api.seeded[0])
        assert [e.operation for e in api.log] == ["retry_job"]


@pytest.mark.parametrize("date", [True, False], ids=["with-date", "no-date-header"])
def test_retry_without_updated_at_never_posts_twice(date: bool) -> None:
    with FakeWriterAPI(
        seed_failed=1,
        fail_again_after=0.0,
        send_date_header=date,
        omit_updated_at=frozenset({"get_job"}),
    ) as api:
        api.fail_next("retry_job", "drop_after")
        with (
            JobsClient(api.api_key, base_url=api.base_url, **FAST) as client,
            pytest.raises(RetryOutcomeUnknownError),
        ):
            client.retry(api.seeded[0])
        assert api.processed("retry_job") == 1


# --- retry_failed: lost answers, jobs failing again at once ----------------------------


@pytest.mark.parametrize("client_kind", ["sync", "async"])
async def test_bulk_with_lost_answers_and_jobs_failing_again_triggers_each_once(
    tmp_path: Path, client_kind: str
) -> None:
    faults = Faults(rate=0.2, kinds=("drop_after",), operations=frozenset({"retry_job"}), seed=5)
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=200, fail_again_after=0.0, faults=faults) as api:
        kwargs: dict[str, Any] = {"rate_limit": None, "journal": journal, "concurrency": 16}
        if client_kind == "sync":
            with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
                summary = client.retry_failed(api.application_id, **kwargs)
        else:
            async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as aclient:
                summary = await aclient.retry_failed(api.application_id, **kwargs)
        per_job = _ours(api)
        dropped = sum(1 for e in api.log if e.fault == "drop_after")
    assert dropped >= 20, "the condition happened"
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1
    assert summary.outcomes == {"retried": 200}
    # A lost answer was checked: the job had failed again, its updated_at moved since the
    # listing, so it was re-triggered; the others were answered "in_progress".
    assert summary.statuses == {"failed": dropped, "in_progress": 200 - dropped}


# --- two runs at once ----------------------------------------------------------------


@pytest.mark.parametrize("same_journal", [True, False], ids=["same-journal", "other-journal"])
def test_a_second_run_on_the_same_application_is_refused_before_any_request(
    tmp_path: Path, same_journal: bool
) -> None:
    listing = threading.Event()
    release = threading.Event()
    with FakeWriterAPI(seed_failed=50, delay=30) as api:

        def hold_first_listing(*_: Any) -> None:
            listing.set()
            release.wait(10)

        api.on_list = hold_first_listing
        results: list[Any] = []
        first_journal = tmp_path / "a.jsonl"
        second_journal = first_journal if same_journal else tmp_path / "b.jsonl"

        def first() -> None:
            with JobsClient(api.api_key, base_url=api.base_url) as client:
                results.append(
                    client.retry_failed(api.application_id, journal=first_journal, rate_limit=None)
                )

        thread = threading.Thread(target=first)
        thread.start()
        assert listing.wait(10)
        requests_before = len(api.log) + 1  # the held listing is logged when it answers
        with (
            JobsClient(api.api_key, base_url=api.base_url) as client,
            pytest.raises(RunInProgressError) as caught,
        ):
            client.retry_failed(api.application_id, journal=second_journal, rate_limit=None)
        api.on_list = None
        release.set()
        thread.join(30)
        assert len(results) == 1 and results[0].outcomes == {"retried": 50}
        assert max(_ours(api).values()) == 1
        # 50 POSTs, the page holding only the anchor (totalCount is not trusted), 1 re-listing
        second_requests = len(api.log) - requests_before - 50 - 2
        assert second_requests == 0, "the refused run sent nothing"
    message = str(caught.value)
    assert api.application_id in message and f"pid {os.getpid()}" in message
    assert caught.value.holder["pid"] == os.getpid()


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "{cut", ""])
def test_a_lock_file_that_is_not_a_holder_still_refuses_the_second_run(content: str) -> None:
    held = RunLock("http://127.0.0.1:9", "odd-lock-app", None)
    try:
        held.path.write_text(content)  # flock is advisory: the file can be rewritten
        with pytest.raises(RunInProgressError, match=r"pid \?") as caught:
            RunLock("http://127.0.0.1:9", "odd-lock-app", None)
        assert caught.value.holder == {}
    finally:
        held.release()


def test_a_killed_run_does_not_leave_the_lock_stuck(tmp_path: Path, processes: Processes) -> None:
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from writer_jobs.bulk._journal import RunLock\n"
        "lock = RunLock('http://127.0.0.1:9', 'killed-app', None)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = processes.start([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    with pytest.raises(RunInProgressError, match=f"pid {proc.pid}"):
        RunLock("http://127.0.0.1:9", "killed-app", None)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    RunLock("http://127.0.0.1:9", "killed-app", None).release()


# --- listing finds every failed job ---------------------------------------------------


@pytest.mark.parametrize("pagination_mode", ["effective", "requested", "omitted"])
def test_a_server_that_caps_limit_and_omits_total_count_loses_no_job(
    pagination_mode: str,
) -> None:
    with FakeWriterAPI(
        seed_failed=250,
        delay=30,
        max_page_size=50,
        send_total_count=False,
        pagination_mode=pagination_mode,
    ) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            summary = client.retry_failed(api.application_id, rate_limit=None)
        per_job = _ours(api)
    assert summary.outcomes == {"retried": 250}
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


async def test_jobs_leaving_failed_between_pages_do_not_hide_the_rest() -> None:
    """Another client retries failed jobs while we page: the rest shift to offsets
    already read. A second pass finds them; none is left failed, none triggered twice."""
    with FakeWriterAPI(seed_failed=300, delay=30) as api:
        state = {"calls": 0}

        def another_run(fake: FakeWriterAPI, app: str, status: Any, offset: int, _: int) -> None:
            state["calls"] += 1
            if status is JobStatus.FAILED and offset > 0 and state["calls"] <= 4:
                for job in fake.store.list(app, JobStatus.FAILED, 0, 40)[0]:
                    fake.retry_as_other(job.id)

        api.on_list = another_run
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            summary = await client.retry_failed(api.application_id, rate_limit=None)
        ours = _ours(api)
        everyone = api.retries_per_job()
        still_failed = api.store.counts(api.application_id)[JobStatus.FAILED]
    assert still_failed == 0, "no failed job was skipped"
    assert max(everyone.values()) == 1, "no job triggered twice, by us and the other run"
    assert summary.outcomes.get("retried") == len(ours) and len(ours) >= 140
    assert set(everyone) == set(api.seeded)


def test_jobs_that_failed_again_are_not_retried_again_in_the_same_run() -> None:
    with FakeWriterAPI(seed_failed=40, fail_again_after=0.0) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            summary = client.retry_failed(api.application_id, rate_limit=None)
        listings = [e for e in api.log if e.operation == "list_jobs"]
        failed_again = api.store.counts(api.application_id)[JobStatus.FAILED]
    assert max(_ours(api).values()) == 1 and summary.outcomes == {"retried": 40}
    assert failed_again == 40 and len(listings) >= 2, "the second pass saw them failed again"


# --- a run never outlives its call -----------------------------------------------------


class Boom(Exception):
    pass


async def test_async_run_whose_callback_raises_stops_and_a_rerun_triggers_none_twice(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=200, delay=30) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            seen: list[JobOutcome] = []

            def explode(outcome: JobOutcome) -> None:
                seen.append(outcome)
                if len(seen) == 5:
                    raise Boom("the callback failed")

            with pytest.raises(Boom):
                await client.retry_failed(
                    api.application_id,
                    concurrency=8,
                    rate_limit=1200,
                    journal=journal,
                    on_outcome=explode,
                )
            returned = time.monotonic()
            await asyncio.sleep(1.0)  # the client stays open: nothing may go on in it
            late = [e for e in api.log if e.at > returned + 0.3]
            processed = api.processed("retry_job")
            started = {e["job_id"] for e in _lines(journal) if e["event"] == "started"}
            assert late == [], "no request after the call raised"
            assert {str(j) for j in _ours(api)} <= started, "every POST has its started line"
            assert processed < 200
            rerun = await client.retry_failed(api.application_id, rate_limit=None, journal=journal)
        per_job = _ours(api)
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1
    assert rerun.outcomes == {"retried": 200 - 5}


async def test_async_run_cancelled_sends_nothing_after() -> None:
    with FakeWriterAPI(seed_failed=100, delay=30) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            task = asyncio.create_task(
                client.retry_failed(api.application_id, rate_limit=600, concurrency=4)
            )
            give_up = time.monotonic() + 20  # a loaded machine: the first POSTs first
            while api.processed("retry_job") < 2 and time.monotonic() < give_up:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            cancelled = time.monotonic()
            await asyncio.sleep(1.0)
            assert [e for e in api.log if e.at > cancelled + 0.3] == []
            assert 0 < api.processed("retry_job") < 100


def test_sync_run_stops_on_ctrl_c_within_about_a_second_and_resumes(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=300, delay=30) as api:
        with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
            timer.start()
            with sigint_raises(), pytest.raises(KeyboardInterrupt):
                # 300 jobs at 600/min would take 30 s.
                client.retry_failed(
                    api.application_id, rate_limit=600, concurrency=16, journal=journal
                )
            returned = time.monotonic()
            timer.join()
            time.sleep(1.0)
            assert [e for e in api.log if e.at > returned + 0.3] == []
            # Loose on purpose (a shared machine): the old code went on for ~30 s.
            first_request = min(e.at for e in api.log)
            assert returned - first_request < 10
            started = {e["job_id"] for e in _lines(journal) if e["event"] == "started"}
            assert {str(j) for j in _ours(api)} <= started
            client.retry_failed(api.application_id, rate_limit=None, journal=journal)
        per_job = _ours(api)
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


def test_a_journal_write_failing_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "run.jsonl"
    with (
        FakeWriterAPI(seed_failed=50, delay=30) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        calls = {"n": 0}

        def failing_outcome(outcome: JobOutcome) -> None:
            calls["n"] += 1

        original = _plan.start_run

        def spy(*a: Any, **k: Any) -> Any:
            run, plan = original(*a, **k)
            real_write = run.journal.write

            def write(entry: dict[str, Any]) -> None:
                if entry["event"] == "outcome" and calls["n"] >= 3:
                    raise OSError(28, "No space left on device")
                real_write(entry)

            run.journal.write = write  # type: ignore[method-assign]
            return run, plan

        monkeypatch.setattr(_sync, "start_run", spy)
        with pytest.raises(OSError, match="No space left"):
            client.retry_failed(
                api.application_id, journal=journal, on_outcome=failing_outcome, concurrency=4
            )
        returned = time.monotonic()
        time.sleep(1.0)
        assert [e for e in api.log if e.at > returned + 0.3] == []
        assert api.processed("retry_job") < 50


# --- resume judged by the server's clock ---------------------------------------------------


def test_resume_without_listed_updated_at_and_a_server_clock_behind_triggers_none_twice(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(
        seed_failed=20,
        clock_offset=-10,
        fail_again_after=0.05,
        omit_updated_at=frozenset({"list_jobs"}),
        seed_failed_age=OLDER_THAN_THE_MARGIN,
    ) as api:
        # The first run's POSTs all go through, every answer is lost: outcomes unknown.
        api.fail_next("retry_job", "drop_after", times=20)
        with JobsClient(api.api_key, base_url=api.base_url, max_retries=0) as client:
            first = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
            # The run waits the lost answers out (an outage); a job whose POST went out
            # once the server's clock had moved past the margin is proved 'retried', the
            # rest cannot be proved either way: 'error'.
            assert set(first.outcomes) <= {"error", "retried"}
            assert sum(first.outcomes.values()) == 20 and first.outcomes.get("error", 0) > 0
            time.sleep(0.2)  # every job has failed again by now
            second = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
        per_job = _ours(api)
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1
    # The unproved ones still cannot be proved: left alone, never POSTed again.
    assert second.outcomes == {"error": first.outcomes["error"]}


def test_a_resume_never_records_a_listing_newer_than_the_first_runs(tmp_path: Path) -> None:
    """The first run's listing had no updated_at; a resume's listing has one, taken
    after the first run's POSTs landed. Recording it as "the listed updated_at" would
    let a second resume prove, wrongly, that nothing landed, and POST again."""
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(
        seed_failed=10,
        fail_again_after=0.001,
        omit_updated_at=frozenset({"list_jobs"}),
        seed_failed_age=OLDER_THAN_THE_MARGIN,
    ) as api:
        api.fail_next("retry_job", "drop_after", times=10)
        with JobsClient(api.api_key, base_url=api.base_url, backoff_initial=0.05) as client:
            first = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
            time.sleep(0.2)  # every job has failed again by now
            api._fake.omit_updated_at = frozenset()  # the server now sends updated_at
            client.retry_failed(api.application_id, journal=journal, rate_limit=None)
            third = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
        per_job = _ours(api)
    assert first.outcomes.get("error") and not third.outcomes.get("retried")
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


def test_resume_without_listed_updated_at_retries_jobs_that_were_never_posted(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(
        seed_failed=20,
        clock_offset=-10,
        delay=30,
        omit_updated_at=frozenset({"list_jobs"}),
        seed_failed_age=OLDER_THAN_THE_MARGIN,
    ) as api:
        api.fail_next("retry_job", "drop_before", times=20)  # never processed
        with JobsClient(api.api_key, base_url=api.base_url, max_retries=0) as client:
            # A bulk run waits out dropped connections: max_unavailable=0 stops this one
            # at the first, leaving its jobs started and unsettled for the resume.
            with pytest.raises(ServiceUnavailableError):
                client.retry_failed(
                    api.application_id, journal=journal, rate_limit=None, max_unavailable=0
                )
            second = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
        per_job = _ours(api)
    assert second.outcomes == {"retried": 20}
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


# --- a journal belongs to one run target -------------------------------------------------


def _bad_journal(tmp_path: Path, kind: str) -> Path:
    if kind == "other-application":
        path = tmp_path / "other.jsonl"
        path.write_text(
            json.dumps(
                {"event": "journal", "format": 1, "application_id": "other", "base_url": "x"}
            )
            + "\n"
        )
        return path
    if kind == "not-a-journal":
        path = tmp_path / "notes.txt"
        path.write_text("shopping list\n")
        return path
    if kind == "directory":
        return tmp_path
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
        return path
    if kind == "device":
        return Path("/dev/null")
    if kind == "missing-folder":
        return tmp_path / "nope" / "run.jsonl"
    assert kind == "unwritable"
    return Path("/proc/version")  # not writable, even for root


@pytest.mark.parametrize(
    "kind",
    [
        "other-application",
        "not-a-journal",
        "directory",
        "fifo",
        "device",
        "missing-folder",
        "unwritable",
    ],
)
def test_a_journal_that_is_not_this_runs_is_refused_before_any_request(
    tmp_path: Path, kind: str
) -> None:
    path = _bad_journal(tmp_path, kind)
    with FakeWriterAPI(seed_failed=3) as api:
        with (
            JobsClient(api.api_key, base_url=api.base_url) as client,
            pytest.raises(InvalidArgumentError, match="journal") as caught,
        ):
            client.retry_failed(api.application_id, journal=path)
        assert api.log == []
    assert str(path) in str(caught.value)


def test_a_500k_line_journal_is_streamed(tmp_path: Path) -> None:
    import tracemalloc

    from writer_jobs.bulk._journal import Journal

    path = tmp_path / "big.jsonl"
    target = {"application_id": "app", "base_url": "http://127.0.0.1:1"}
    ids = [str(UUID(int=i)) for i in range(50)]
    with path.open("w") as f:
        f.write(json.dumps({"event": "journal", "format": 1, **target}) + "\n")
        for n in range(500_000):
            f.write(json.dumps({"event": "started", "job_id": ids[n % 50], "at": "x"}) + "\n")
    size = path.stat().st_size
    tracemalloc.start()
    journal = Journal(path, application_id="app", base_url="http://127.0.0.1:1")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    journal.close()
    assert len(journal.unsettled) == 50
    assert peak < size / 10, f"peak {peak} bytes for a {size}-byte journal"


# --- small ones -------------------------------------------------------------------------


def test_repr_of_a_client_whose_construction_raised() -> None:
    client = JobsClient.__new__(JobsClient)
    assert "not configured" in repr(client)
    with pytest.raises(Exception, match="API key"):
        JobsClient(api_key="")


@pytest.mark.parametrize("timeout", [0, 0.0])
def test_timeout_zero_is_refused(timeout: float) -> None:
    import httpx

    with pytest.raises(InvalidArgumentError, match=r"> 0"):
        JobsClient(api_key="k", base_url="http://127.0.0.1:9", timeout=timeout)
    with pytest.raises(InvalidArgumentError, match=r"timeout\.read"):
        JobsClient(
            api_key="k", base_url="http://127.0.0.1:9", timeout=httpx.Timeout(5, read=timeout)
        )
