"""retry_failed: every failed job gets exactly one final outcome, none is re-triggered
twice, under faults, with pacing, and across an interrupted run."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from writer_jobs import AsyncJobsClient, BulkProgress, JobOutcome, JobsClient, JobStatus, Outcome
from writer_jobs._budget import Budget
from writer_jobs.bulk._journal import Journal
from writer_jobs.testing import FakeWriterAPI, Faults

FAST: dict[str, Any] = {"backoff_initial": 0.005, "backoff_max": 0.05}
FAULTS = Faults(
    rate=0.10, kinds=("429", "500", "503", "drop_before", "drop_after"), seed=3, retry_after=0.01
)


def _journal(path: Path) -> list[dict[str, Any]]:
    """The journal's whole lines (a line cut by a crash is skipped, as the client does)."""
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def _final_outcomes(path: Path) -> collections.Counter[str]:
    return collections.Counter(
        e["job_id"] for e in _journal(path) if e["event"] == "outcome" and e["final"]
    )


async def test_a_thousand_failed_jobs_with_ten_percent_faults(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    seen: list[JobOutcome] = []
    with FakeWriterAPI(seed_failed=1000, delay=0.05, faults=FAULTS) as api:
        async with AsyncJobsClient(
            api.api_key, base_url=api.base_url, max_retries=8, **FAST
        ) as client:
            summary = await client.retry_failed(
                api.application_id,
                concurrency=32,
                rate_limit=None,
                journal=journal,
                on_outcome=seen.append,
            )
        per_job = api.retries_per_job()
        injected = sum(1 for e in api.log if e.fault)
    assert summary.total == 1000 and summary.outcomes == {"retried": 1000}, summary
    assert summary.ok and summary.transient_failures > 0 and injected > 50
    assert len(seen) == 1000 and {o.job_id for o in seen} == set(api.seeded)
    finals = _final_outcomes(journal)
    assert len(finals) == 1000 and set(finals.values()) == {1}
    assert set(per_job) == set(api.seeded), "every job was re-triggered"
    assert max(per_job.values()) == 1, "no job was re-triggered twice"


def test_sync_twin_with_wait(tmp_path: Path) -> None:
    with (
        FakeWriterAPI(seed_failed=40, delay=0.05, failure_ratio=0.25, seed=5) as api,
        JobsClient(api.api_key, base_url=api.base_url, **FAST) as client,
    ):
        api.seed_failed(3, application_id="other-app")
        summary = client.retry_failed(api.application_id, concurrency=8, wait=True, rate_limit=None)
        per_job = api.retries_per_job()
    assert summary.outcomes == {"retried": 40}
    assert sum(summary.statuses.values()) == 40
    assert set(summary.statuses) <= {"completed", "failed"}, "wait=True waits for the end"
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


async def test_jobs_that_are_no_longer_failed_or_gone(tmp_path: Path) -> None:
    with FakeWriterAPI(seed_failed=6, delay=5) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            # Someone else retries two of them between the listing and our retry.
            original = client._run

            async def racing(flow: Any, admission: Any = None) -> Any:
                result = await original(flow, admission)
                if isinstance(result, type(None)) or not hasattr(result, "result"):
                    return result
                for job in result.result[:2]:
                    api.store.retry(job.id)
                return result

            client._run = racing  # type: ignore[method-assign]
            summary = await client.retry_failed(api.application_id, rate_limit=None)
    assert summary.outcomes == {"retried": 4, "not_failed": 2}


async def test_resume_skips_final_outcomes_and_rechecks_started_jobs(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=10, delay=30) as api:
        # An earlier run: three done, one started (and really re-triggered) but its
        # outcome line was cut by a crash, one started but never sent.
        done, cut, unsent = api.seeded[:3], api.seeded[3], api.seeded[4]
        lines: list[dict[str, Any]] = []
        for job_id in done:
            api.store.retry(job_id)
            lines.append(
                {"event": "started", "job_id": str(job_id), "at": "2020-01-01T00:00:00+00:00"}
            )
            lines.append(
                {
                    "event": "outcome",
                    "job_id": str(job_id),
                    "outcome": "retried",
                    "final": True,
                    "status": "in_progress",
                }
            )
        import datetime

        def listed(job_id: UUID) -> float:
            return api.store.job(job_id).updated_at.timestamp()

        now = datetime.datetime.now(datetime.UTC).isoformat()
        lines.append(
            {"event": "started", "job_id": str(cut), "at": now, "listed_updated_at": listed(cut)}
        )
        lines.append(
            {
                "event": "started",
                "job_id": str(unsent),
                "at": now,
                "listed_updated_at": listed(unsent),
            }
        )
        api.store.retry(cut)  # the crashed run's POST went through
        header = {"event": "journal", "format": 1, "application_id": api.application_id}
        lines.insert(0, header | {"base_url": api.base_url})
        text = "".join(json.dumps(line) + "\n" for line in lines)
        journal.write_text(text + '{"event":"outcome","job_id":"' + str(cut)[:10])
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            summary = await client.retry_failed(
                api.application_id, rate_limit=None, journal=journal
            )
        per_job = api.retries_per_job()
    assert summary.skipped == 0  # the 3 done are no longer failed, so not even listed
    assert summary.outcomes == {"retried": 7}
    # The earlier run's retries went straight to the store; the log shows this run's.
    assert cut not in per_job, "the job whose outcome line was cut was not re-triggered again"
    assert api.store.job(cut).retries == 1
    assert not set(done) & set(per_job)
    assert per_job[unsent] == 1
    assert all(per_job[j] == 1 for j in api.seeded[4:])
    finals = _final_outcomes(journal)
    assert set(finals) == {str(j) for j in api.seeded} and set(finals.values()) == {1}


async def test_rerun_with_the_same_journal_does_nothing_more(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=20, delay=0.01, failure_ratio=1.0) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            first = await client.retry_failed(
                api.application_id, rate_limit=None, journal=journal, wait=True
            )
            # Every job failed again: they are listed as failed, but the journal says done.
            second = await client.retry_failed(api.application_id, rate_limit=None, journal=journal)
        per_job = api.retries_per_job()
    assert first.outcomes == {"retried": 20} and first.statuses == {"failed": 20}
    assert second.skipped == 20 and second.outcomes == {}
    assert max(per_job.values()) == 1


async def test_pacing_keeps_under_the_rate_limit() -> None:
    with FakeWriterAPI(seed_failed=30, delay=30) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            summary = await client.retry_failed(api.application_id, rate_limit=600, concurrency=16)
        times = sorted(e.at for e in api.log)
    # One list page, the page holding only its last job (the anchor: totalCount is not
    # trusted to end a list), 30 retries, and a second listing that finds nothing new.
    assert summary.requests == 33
    # 600/min is one request every 0.1 s: no window of 1 s holds more than 10 (+1 edge).
    # The stamps are the fake's, taken as its thread gets to each request: on a loaded
    # machine (CI: four suites on two cores) sends half a second apart may be stamped
    # together. An unpaced run puts all 33 in one second, one paced twice as fast 20.
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert worst <= 16


def test_a_runs_own_cap_keeps_to_it_and_counts_429s() -> None:
    """A run's rate_limit is a cap on top of its client's budget: the client's budget
    learns from 429s (tests/wrapper/test_budget.py); the cap only counts them."""
    clock = [0.0]
    pacer = Budget(600, burst=1, learn=False, clock=lambda: clock[0])  # rate_limit=600
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2], rel=0.01)
    import httpx

    pacer.observe(httpx.Response(429))
    pacer.observe(httpx.Response(429))
    assert pacer.share is None and pacer.pace() == pytest.approx(599.0)
    assert pacer.rate_limited == 2
    unlimited = Budget(None, burst=1)
    assert unlimited.reserve() == 0.0


def test_journal_reads_cut_and_foreign_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    job = UUID(int=1)
    target = {"application_id": "app", "base_url": "http://127.0.0.1:1"}
    path.write_text(
        json.dumps({"event": "journal", "format": 1, **target})
        + "\n"
        + json.dumps({"event": "outcome", "job_id": str(job), "final": True, "outcome": "retried"})
        + "\n"
        + json.dumps({"event": "started", "job_id": 12345})  # not a string: unreadable
        + "\n"
        + '{"event": "sta'
    )
    journal = Journal(path, application_id="app", base_url="http://127.0.0.1:1")
    assert journal.final == {job} and journal.cut_lines == 2 and not journal.unsettled
    journal.write({"event": "started", "job_id": str(UUID(int=2)), "at": "x"})
    journal.close()
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["job_id"] == str(UUID(int=2)), "the cut line was ended first"


def test_invalid_arguments_before_any_request() -> None:
    from writer_jobs import InvalidArgumentError

    with FakeWriterAPI() as api, JobsClient(api.api_key, base_url=api.base_url) as client:
        for kwargs in ({"concurrency": 0}, {"rate_limit": 0}, {"wait_deadline": -1}):
            with pytest.raises(InvalidArgumentError):
                client.retry_failed(api.application_id, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            client.retry_failed("a/b")
        assert api.log == []


def test_outcome_json_is_stable() -> None:
    outcome = JobOutcome(UUID(int=3), Outcome.NOT_FAILED, JobStatus.COMPLETED)
    assert outcome.to_json() == {
        "event": "outcome",
        "job_id": str(UUID(int=3)),
        "outcome": "not_failed",
        "final": True,
        "status": "completed",
    }


async def test_on_progress_is_told_the_number_of_jobs_before_they_start() -> None:
    told: list[BulkProgress] = []
    outcomes_when_told: list[int] = []
    seen: list[JobOutcome] = []

    def on_progress(progress: BulkProgress) -> None:
        told.append(progress)
        outcomes_when_told.append(len(seen))

    with FakeWriterAPI(seed_failed=9, delay=30) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            await client.retry_failed(
                api.application_id, rate_limit=None, on_progress=on_progress, on_outcome=seen.append
            )
    assert told[0] == BulkProgress(total=9, resumed=0, sent=0, finished=0)
    assert outcomes_when_told[0] == 0 and len(seen) == 9
    assert told[-1] == BulkProgress(total=9, resumed=0, sent=9, finished=9)


def test_with_wait_progress_tells_sent_jobs_before_they_finish() -> None:
    told: list[BulkProgress] = []
    with (
        FakeWriterAPI(seed_failed=8, delay=3.0) as api,
        JobsClient(api.api_key, base_url=api.base_url, **FAST) as client,
    ):
        client.retry_failed(api.application_id, wait=True, on_progress=told.append)
    # Every job was sent before the first one finished (they run 3 s): the progress
    # showed 8 sent, 0 finished, which a count of outcomes alone cannot show.
    assert BulkProgress(total=8, resumed=0, sent=8, finished=0) in told
    assert told[-1] == BulkProgress(total=8, resumed=0, sent=8, finished=8)


def _started_journal(path: Path, api: FakeWriterAPI, jobs: list[UUID]) -> None:
    """A journal an interrupted run left: these jobs started, none finished."""
    lines = [
        {
            "event": "journal",
            "format": 1,
            "application_id": api.application_id,
            "base_url": api.base_url,
        }
    ]
    lines += [{"event": "started", "job_id": str(job)} for job in jobs]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_a_resume_counts_the_jobs_it_resumed_apart_from_the_new_ones(tmp_path: Path) -> None:
    journal = tmp_path / "run.jsonl"
    told: list[BulkProgress] = []
    with FakeWriterAPI(seed_failed=10, delay=30) as api:
        earlier = api.seeded[:4]
        for job in earlier:  # the interrupted run's POSTs landed
            api.store.retry(job)
        _started_journal(journal, api, earlier)
        with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            summary = client.retry_failed(
                api.application_id, journal=journal, on_progress=told.append
            )
        per_job = api.retries_per_job()
    assert told[0] == BulkProgress(total=10, resumed=4, sent=0, finished=0)
    assert summary.total == 10 and summary.resumed == 4 and summary.skipped == 0
    assert summary.outcomes == {"retried": 10} and summary.ok
    # The four were checked with a GET and found running: only the six new ones POSTed.
    assert set(per_job) == set(api.seeded[4:]) and max(per_job.values()) == 1


def test_ok_is_false_when_jobs_failed_again_and_a_new_journal_retries_them(
    tmp_path: Path,
) -> None:
    first, again = tmp_path / "run.jsonl", tmp_path / "run.2.jsonl"
    with FakeWriterAPI(seed_failed=6, delay=0.1, failure_ratio=1.0) as api:
        with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
            summary = client.retry_failed(api.application_id, wait=True, journal=first)
            assert summary.failed_again == 6 and summary.errors == 0
            assert not summary.ok and summary.to_json()["ok"] is False
            # The same journal is the same logical run: it never retries a job twice.
            rerun = client.retry_failed(api.application_id, wait=True, journal=first)
            assert rerun.outcomes == {} and rerun.skipped == 6
            assert max(api.retries_per_job().values()) == 1
            # A new journal is a new run: each job that failed again is retried once more.
            second = client.retry_failed(api.application_id, wait=True, journal=again)
        per_job = api.retries_per_job()
    assert second.outcomes == {"retried": 6} and second.failed_again == 6
    assert set(per_job) == set(api.seeded) and set(per_job.values()) == {2}


@pytest.mark.parametrize("fault", ["malformed", "spec_breaking"])
def test_an_accepted_retry_with_an_unreadable_answer_is_retried_not_an_error(fault: str) -> None:
    """The server processed the POST and answered 202 with a body that breaks the spec:
    a 2xx is never reported as a failure (the outcome says what was wrong)."""
    with FakeWriterAPI(seed_failed=3, delay=30) as api:
        api.fail_next("retry_job", fault, times=3)
        seen: list[JobOutcome] = []
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            summary = client.retry_failed(api.application_id, on_outcome=seen.append)
        per_job = api.retries_per_job()
    assert summary.outcomes == {"retried": 3} and summary.ok
    assert all(o.error_type == "ResponseValidationError" for o in seen)
    assert set(per_job) == set(api.seeded) and max(per_job.values()) == 1


def test_the_journal_records_what_a_run_sent_and_a_resume_counts_it_as_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each second a run is answered, a ``sent`` line; a resume reads those of the last
    minute into its client's budget (the account's window holds them), and says so
    before its first request."""
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=30, delay=0.05) as api:
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            first = client.retry_failed(api.application_id, journal=journal, rate_limit=None)
        answered = sum(1 for e in api.log if e.status is not None and e.status != 429)
        recorded = [e for e in _journal(journal) if e["event"] == "sent"]
        assert sum(e["requests"] for e in recorded) == answered == first.requests
        api.store.seed_failed(api.application_id, 5)
        with (
            caplog.at_level("INFO", logger="writer_jobs"),
            JobsClient(api.api_key, base_url=api.base_url) as client,
        ):
            second = client.retry_failed(api.application_id, journal=journal)
        (said,) = [r for r in caplog.records if hasattr(r, "resuming")]
    assert said.resuming["recalled_requests"] == answered
    assert said.resuming["final"] == 30 and said.resuming["in_flight"] == 0
    assert second.total == 5 and second.outcomes == {"retried": 5}
    assert caplog.records.index(said) == 0, "said before anything else"


def test_sent_lines_older_than_the_window_are_not_recalled(tmp_path: Path) -> None:
    import time

    path = tmp_path / "run.jsonl"
    now = time.time()
    lines = [
        {"event": "journal", "format": 1, "application_id": "a", "base_url": "http://x"},
        {"event": "sent", "at": now - 600, "requests": 50},
        {"event": "sent", "at": now - 10, "requests": 7},
        {"event": "sent", "at": "soon", "requests": 3},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    journal = Journal(path, application_id="a", base_url="http://x")
    journal.close()
    assert [n for _, n in journal.sent.recent] == [7]
    assert journal.cut_lines == 1
