"""A hypothesis state machine against the fake: runs of one batch (one results file),
with create answers lost before and after the server made the job, crashes at any
journal or results line (before or after it is written), with and without another
program creating jobs in the application, on the thread and the task driver. The fake
counts the jobs it made and with which inputs: after every step no row has two jobs,
no result carries a job its row did not create, and no row has two records; a last
clean run gives every row its record."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from writer_jobs import AsyncJobsClient, JobsClient
from writer_jobs.bulk import _batch_journal, _batch_proof, _rows
from writer_jobs.testing import FakeWriterAPI, OtherCreator

# A short request timeout and settle bound: a lost create is proved after both.
FAST: dict[str, Any] = {
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "max_retries": 2,
    "timeout": 0.5,
}
SETTLE = 0.1
MAX_ATTEMPTS = 2


class Crash(Exception):
    """The process dies here: nothing after this line happens."""


class _Crasher:
    """Raises Crash at the n-th line the run writes (journal or results), before or
    after writing it."""

    def __init__(self, at: int | None, after: bool) -> None:
        self.at, self.after, self.lines = at, after, 0

    def wrap(self, write: Any) -> Any:
        def crashing(*args: Any, **kwargs: Any) -> Any:
            self.lines += 1
            hit = self.at is not None and self.lines > self.at
            if hit and not self.after:
                raise Crash
            result = write(*args, **kwargs)
            if hit:
                raise Crash
            return result

        return crashing


class BatchExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.results = Path(self.folder.name) / "results.jsonl"
        self.rows: list[dict[str, str]] = []
        self.api: FakeWriterAPI | None = None
        self._settle = _batch_proof.SETTLE
        _batch_proof.SETTLE = SETTLE

    @initialize(count=st.integers(1, 10), other_creator=st.booleans(), seed=st.integers(0, 9))
    def start(self, count: int, other_creator: bool, seed: int) -> None:
        # Another program creating a job every 0.5 s: always seen in the look-back.
        conditions = [OtherCreator(120)] if other_creator else []
        self.api = FakeWriterAPI(
            delay=0.05, failure_ratio=0.4, seed=seed, newest_first=True, conditions=conditions
        ).start()
        self.rows = [{"product": f"row-{n}"} for n in range(1, count + 1)]

    @rule(
        lost_after=st.integers(0, 3),
        lost_before=st.integers(0, 3),
        crash_at=st.none() | st.integers(0, 25),
        crash_after_write=st.booleans(),
        concurrency=st.sampled_from([1, 4]),
        use_async=st.booleans(),
    )
    def run(
        self,
        lost_after: int,
        lost_before: int,
        crash_at: int | None,
        crash_after_write: bool,
        concurrency: int,
        use_async: bool,
    ) -> None:
        assert self.api is not None
        if lost_after:
            self.api.fail_next("create_job", "drop_after", lost_after)
        if lost_before:
            self.api.fail_next("create_job", "drop_before", lost_before)
        crasher = _Crasher(crash_at, crash_after_write)
        with (
            contextlib.suppress(Crash),
            _patched(_batch_journal.BatchJournal, "write", crasher),
            _patched(_rows.ResultsFile, "write", crasher),
        ):
            self._batch(concurrency, use_async)
        self.api.clear_faults()

    def _batch(self, concurrency: int, use_async: bool, **options: Any) -> None:
        assert self.api is not None
        api = self.api
        if use_async:

            async def go() -> None:
                async with AsyncJobsClient(api.api_key, base_url=api.base_url, **FAST) as c:
                    await c.batch(
                        api.application_id,
                        self.rows,
                        results=self.results,
                        concurrency=concurrency,
                        max_attempts=MAX_ATTEMPTS,
                        **options,
                    )

            asyncio.run(go())
        else:
            with JobsClient(api.api_key, base_url=api.base_url, **FAST) as client:
                client.batch(
                    api.application_id,
                    self.rows,
                    results=self.results,
                    concurrency=concurrency,
                    max_attempts=MAX_ATTEMPTS,
                    **options,
                )

    # --- what the server made, and what the results say ----------------------------
    def _jobs_per_row(self) -> dict[str, list[uuid.UUID]]:
        assert self.api is not None
        others = set(self.api.other_created)
        per_row: dict[str, list[uuid.UUID]] = {}
        for job in list(self.api.store._jobs.values()):
            if job.id not in others:
                per_row.setdefault(job.inputs[0]["value"][0], []).append(job.id)
        return per_row

    def _records(self) -> list[dict[str, Any]]:
        if not self.results.exists():
            return []
        lines = self.results.read_text().splitlines(keepends=True)
        return [json.loads(line) for line in lines if line.endswith("\n")]

    @invariant()
    def never_two_jobs_for_a_row(self) -> None:
        if self.api is None:
            return
        per_row = self._jobs_per_row()
        assert all(len(jobs) == 1 for jobs in per_row.values()), per_row

    @invariant()
    def never_a_row_joined_to_a_job_it_did_not_create(self) -> None:
        if self.api is None:
            return
        mine = {job: row for row, jobs in self._jobs_per_row().items() for job in jobs}
        for record in self._records():
            if record["job_id"] is not None:
                made_for = mine.get(uuid.UUID(record["job_id"]))
                assert made_for == record["inputs"]["product"][0], (record, made_for)

    @invariant()
    def one_record_per_row(self) -> None:
        rows = [record["row"] for record in self._records()]
        assert len(rows) == len(set(rows)), rows

    @invariant()
    def retried_at_most_once_per_attempt(self) -> None:
        if self.api is None:
            return
        retries = self.api.retries_per_job()
        assert max(retries.values(), default=0) <= MAX_ATTEMPTS - 1, retries

    def teardown(self) -> None:
        try:
            if self.api is not None:
                self._batch(4, use_async=False)
                records = {record["row"]: record for record in self._records()}
                assert sorted(records) == list(range(1, len(self.rows) + 1)), "a row was lost"
                per_row = self._jobs_per_row()
                for number, record in records.items():
                    made = per_row.get(f"row-{number}", [])
                    assert len(made) <= 1
                    if record["status"] == "failed" and record["job_id"] is None:
                        assert made == [], (record, made)  # its creates all made nothing
                    elif record["status"] in {"completed", "failed"}:
                        assert [str(j) for j in made] == [record["job_id"]], (record, made)
                    else:
                        assert record["status"] == "unresolved", record
                        assert record["candidates"], record
                        # Nobody else creating: only a create sent before any answer
                        # of its run gave the job clock (Date's clock cannot bound its
                        # window), or a row whose job was taken from the list when such a
                        # row's candidate is in the run's last look (it may be another
                        # program's job: so may the taken one).
                        if not self.api.other_created and self._job_clock_known(number):
                            clockless = [
                                r["row"]
                                for r in records.values()
                                if r["status"] == "unresolved"
                                and not self._job_clock_known(r["row"])
                            ]
                            if not (self._swept(number) and clockless):
                                raise AssertionError(
                                    f"unresolved with nobody else creating: {record}"
                                )
        finally:
            _batch_proof.SETTLE = self._settle
            if self.api is not None:
                self.api.stop()
            self.folder.cleanup()

    def _swept(self, number: int) -> bool:
        """Whether the row was made unresolved by a run's last look at the list."""
        journal = Path(str(self.results) + ".journal").read_text().splitlines()
        for line in journal:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("row") == number and entry.get("swept") is True:
                    return True
        return False

    def _job_clock_known(self, number: int) -> bool:
        """Whether the row's last create went out with the job clock known."""
        journal = Path(str(self.results) + ".journal").read_text().splitlines()
        known = False
        for line in journal:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == "creating" and entry.get("row") == number:
                    known = entry.get("job_clock") is True
        return known


@contextlib.contextmanager
def _patched(cls: type[Any], name: str, crasher: _Crasher) -> Any:
    original = getattr(cls, name)
    setattr(cls, name, crasher.wrap(original))
    try:
        yield
    finally:
        setattr(cls, name, original)


TestBatchExactlyOnce = BatchExactlyOnce.TestCase
# Every lost answer is proved after the settle bound: longer than the suite's 300 s.
TestBatchExactlyOnce.pytestmark = [pytest.mark.timeout(900)]  # type: ignore[attr-defined]
TestBatchExactlyOnce.settings = settings(
    max_examples=25,
    stateful_step_count=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
