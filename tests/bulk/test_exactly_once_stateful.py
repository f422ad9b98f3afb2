"""A hypothesis state machine against the fake: runs of retry_failed with one journal,
interleaved with lost answers (before and after processing), outages (503s, or
connections closed before or after carrying the request out), jobs failing again at
once, crashes at any outcome (a callback raising), new failures and resumes. After
every step no job has been re-triggered twice by the logical run; at the end a clean
run leaves every job with a final outcome."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from writer_jobs import JobOutcome, JobsClient, _engine
from writer_jobs.bulk._journal import Journal
from writer_jobs.testing import FakeWriterAPI, Outage
from writer_jobs.testing._conditions import OutageKind

FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.01, "max_retries": 2}


class Crash(Exception):
    """The process dies here: nothing after this outcome happens."""


class ExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.journal = Path(self.folder.name) / "run.jsonl"
        self.api = FakeWriterAPI(delay=30).start()
        self.client = JobsClient(self.api.api_key, base_url=self.api.base_url, **FAST)
        self.seeded: set[Any] = set()

    @initialize(count=st.integers(1, 25))
    def seed(self, count: int) -> None:
        self.seeded.update(self.api.seed_failed(count))

    @rule(count=st.integers(1, 5))
    def more_jobs_fail(self, count: int) -> None:
        self.seeded.update(self.api.seed_failed(count))

    @rule(
        lost_after=st.integers(0, 6),
        lost_before=st.integers(0, 3),
        checks_fail=st.integers(0, 3),
        fail_again=st.booleans(),
        crash_at=st.none() | st.integers(0, 10),
        concurrency=st.sampled_from([1, 4]),
        outage=st.none()
        | st.tuples(st.floats(0.0, 0.2), st.sampled_from(["503", "close"]), st.booleans()),
    )
    def run(
        self,
        lost_after: int,
        lost_before: int,
        checks_fail: int,
        fail_again: bool,
        crash_at: int | None,
        concurrency: int,
        outage: tuple[float, OutageKind, bool] | None,
    ) -> None:
        self.api.store.fail_again_after = 0.0 if fail_again else None
        if lost_after:
            self.api.fail_next("retry_job", "drop_after", lost_after)
        if lost_before:
            self.api.fail_next("retry_job", "drop_before", lost_before)
        if checks_fail:
            self.api.fail_next("get_job", "503", checks_fail)
        if outage is not None:  # the service goes away for a moment while the run goes
            after, kind, processed = outage
            self.api.schedule(
                Outage(self.api.elapsed() + after, 0.4, kind=kind, processed=processed)
            )
        seen: list[JobOutcome] = []

        def on_outcome(outcome: JobOutcome) -> None:
            seen.append(outcome)
            if crash_at is not None and len(seen) > crash_at:
                raise Crash

        with contextlib.suppress(Crash):
            self.client.retry_failed(
                self.api.application_id,
                journal=self.journal,
                rate_limit=None,
                concurrency=concurrency,
                on_outcome=on_outcome,
            )

    @invariant()
    def never_triggered_twice(self) -> None:
        per_job = self.api.retries_per_job()
        assert max(per_job.values(), default=0) <= 1, per_job

    def teardown(self) -> None:
        try:
            if self.seeded:
                self.api.clear_faults()
                self.api.store.fail_again_after = None
                self.client.retry_failed(
                    self.api.application_id, journal=self.journal, rate_limit=None
                )
                per_job = self.api.retries_per_job()
                assert max(per_job.values(), default=0) <= 1
                journal = Journal(
                    self.journal,
                    application_id=self.api.application_id,
                    base_url=self.client.base_url,
                )
                journal.close()
                assert journal.final == self.seeded, "every job has a final outcome"
                assert set(per_job) == self.seeded, "every job was re-triggered once"
        finally:
            self.client.close()
            self.api.stop()
            self.folder.cleanup()


@pytest.fixture(autouse=True)
def _settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake carries a request out before answering or never: nothing lands late, so
    # the wait before the check (REPEAT_SETTLE, for servers that do) only slows the search.
    monkeypatch.setattr(_engine, "REPEAT_SETTLE", 0.01)


TestExactlyOnce = ExactlyOnce.TestCase
TestExactlyOnce.settings = settings(
    max_examples=30,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
