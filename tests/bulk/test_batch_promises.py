"""The batch's promises where the job list is slow or misleading (the fake made to be):
a create applied after its answer was lost, a job clock away from the Date header's, no
Date at all, one job of another program, a crash of long downtime, a job that never
ends. Every row's job is created once; no row is given a job it did not create; the
batch ends."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import InvalidArgumentError, JobsClient
from writer_jobs.bulk import _batch, _batch_proof
from writer_jobs.testing import FakeWriterAPI, Faults, OtherCreator

#: A short settle bound and request timeout: the tests wait for them.
SETTLE = 1.5
CLIENT: dict[str, Any] = {
    "timeout": 1.0,
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "max_retries": 2,
}


@pytest.fixture(autouse=True)
def _short_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batch_proof, "SETTLE", SETTLE)


def _fake(**options: Any) -> FakeWriterAPI:
    """The fake, started (jobs of 0.05 s, listed newest first), with two jobs another
    program made an hour ago (a list of one job never proves it held still)."""
    api = FakeWriterAPI(**{"delay": 0.05, "newest_first": True, **options}).start()
    for _ in range(2):
        api.create_as_other(ago=3600)
    return api


def _rows(count: int) -> list[dict[str, str]]:
    return [{"product": f"row-{n}"} for n in range(1, count + 1)]


def _batch_run(api: FakeWriterAPI, rows: list[dict[str, str]], results: Path) -> Any:
    with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
        return client.batch(api.application_id, rows, results=results, concurrency=4)


def _made_per_row(api: FakeWriterAPI) -> dict[str, list[uuid.UUID]]:
    others = set(api.other_created)
    per_row: dict[str, list[uuid.UUID]] = {}
    for job in list(api.store._jobs.values()):
        if job.id not in others:
            per_row.setdefault(job.inputs[0]["value"][0], []).append(job.id)
    return per_row


def _records(results: Path) -> dict[int, dict[str, Any]]:
    return {r["row"]: r for r in map(json.loads, results.read_text().splitlines())}


def _assert_no_row_joined_to_another_job(api: FakeWriterAPI, results: Path) -> None:
    mine = {job: row for row, jobs in _made_per_row(api).items() for job in jobs}
    for record in _records(results).values():
        if record["job_id"] is not None:
            assert mine.get(uuid.UUID(record["job_id"])) == record["inputs"]["product"][0], record


def test_a_create_applied_after_its_answer_was_lost_is_not_created_again_nor_taken(
    tmp_path: Path,
) -> None:
    # Row 2's connection closes unanswered; the server makes its job a second later,
    # after a first look at the list would have shown nothing.
    api = _fake(faults=Faults(late=1.0))
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_late")
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        while not any(entry.fault == "drop_late" for entry in api.log):
            time.sleep(0.05)  # the late create carried out (after a run that ended early)
        per_row = _made_per_row(api)
        assert {row: len(jobs) for row, jobs in per_row.items()} == {
            "row-1": 1,
            "row-2": 1,
            "row-3": 1,
        }
        _assert_no_row_joined_to_another_job(api, results)
        assert summary.lost_answers == 1
        # Made after its POST ended (the server still at work when the client gave up):
        # past what the job clock's bounds say a create's own job can be, so never taken
        # (another program's job then would be just as likely), nor created again.
        record = _records(results)[2]
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(per_row["row-2"][0])]
    finally:
        api.stop()


def test_a_resume_at_once_after_a_crash_waits_for_the_create_in_flight(tmp_path: Path) -> None:
    # The run died while row 1's create was out; the server makes its job a moment
    # after the same command started again.
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)  # the journal's header
        server_now = api.store.now().timestamp()
        line = {
            "event": "creating",
            "row": 1,
            "sent_after": server_now - 0.5,
            "job_clock": True,
            "at": time.time() - 0.5,
        }
        journal = Path(str(results) + ".journal")
        with journal.open("a") as f:
            f.write(json.dumps(line) + "\n")
        inputs = [{"id": "product", "value": ["row-1"]}]
        late = threading.Timer(0.5, api.store.create, (api.application_id, inputs))
        late.start()
        _batch_run(api, _rows(1), results)
        late.join()
        assert len(_made_per_row(api)["row-1"]) == 1
        _assert_no_row_joined_to_another_job(api, results)
        assert _records(results)[1]["status"] == "completed"
    finally:
        api.stop()


def test_a_job_clock_behind_the_date_header_still_finds_the_lost_creates_job(
    tmp_path: Path,
) -> None:
    # The front end's Date is 45 s ahead of the clock that stamps created_at.
    api = FakeWriterAPI(delay=0.05, newest_first=True, date_offset=45.0).start()
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_after")
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        assert all(len(jobs) == 1 for jobs in _made_per_row(api).values())
        assert len(_made_per_row(api)) == 3
        _assert_no_row_joined_to_another_job(api, results)
    finally:
        api.stop()


def test_with_no_date_header_an_old_job_of_another_program_is_never_a_rows(
    tmp_path: Path,
) -> None:
    # No Date header and no answer yet: the newest job listed before the run bounds the
    # job clock. The hour-old job is older than that bound (it was listed): never a
    # candidate; the lost create is proved to have made nothing and sent again.
    api = FakeWriterAPI(delay=0.05, newest_first=True, send_date_header=False).start()
    try:
        foreign = api.create_as_other(ago=3600)
        api.fail_next("create_job", "drop_before")
        results = tmp_path / "results.jsonl"
        summary = _batch_run(api, _rows(1), results)
        record = _records(results)[1]
        assert record["job_id"] != str(foreign.id)
        assert record["status"] == "completed"
        assert [record["job_id"]] == [str(j) for j in _made_per_row(api)["row-1"]]
        assert summary.lost_answers == 1
    finally:
        api.stop()


def test_with_no_clock_at_all_and_an_empty_application_any_job_is_a_candidate(
    tmp_path: Path,
) -> None:
    # No Date header, no answer, an application empty before the run: every job listed
    # since is the run's or another program's; one that came while the lost create was
    # out cannot be bounded by any clock: unresolved, never taken nor created again.
    api = FakeWriterAPI(delay=0.05, newest_first=True, send_date_header=False).start()
    try:
        api.fail_next("create_job", "drop_before")
        dropped = _when(lambda: any(e.fault == "drop_before" for e in api.log), api.create_as_other)
        results = tmp_path / "results.jsonl"
        summary = _batch_run(api, _rows(1), results)
        dropped.join()
        record = _records(results)[1]
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(api.other_created[0])]
        assert "row-1" not in _made_per_row(api)
        assert summary.unresolved == 1
    finally:
        api.stop()


def test_a_lone_job_of_another_program_across_a_long_downtime_is_never_a_rows(
    tmp_path: Path,
) -> None:
    # The run died with row 1's create out (it made nothing) an hour ago; another
    # program made one job since. The window spans the downtime: nothing proves whose.
    api = FakeWriterAPI(delay=0.05, newest_first=True).start()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)
        server_now = api.store.now().timestamp()
        line = {
            "event": "creating",
            "row": 1,
            "sent_after": server_now - 3600,
            "job_clock": True,
            "at": time.time() - 3600,
        }
        with Path(str(results) + ".journal").open("a") as f:
            f.write(json.dumps(line) + "\n")
        foreign = api.create_as_other(ago=1800)
        _batch_run(api, _rows(1), results)
        record = _records(results)[1]
        assert record["job_id"] != str(foreign.id)
        assert record["status"] == "unresolved"
        assert str(foreign.id) in record["candidates"]
        assert "row-1" not in _made_per_row(api)  # not created again either
    finally:
        api.stop()


def test_a_resume_never_takes_a_job_made_after_it_started_for_a_dead_runs_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run died a moment ago with row 1's create out (the server made nothing); the
    # same command again waits the settle bound, and meanwhile another program makes a
    # job. The dead run's POST had ended by the time the resume started: a job stamped
    # after that, by the job clock's bound the journal kept, is not one made while it
    # was out, and is never taken for row 1's (as in a live run).
    monkeypatch.setattr(_batch_proof, "SETTLE", 4.0)
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)  # the journal's header
        server_now = api.store.now().timestamp()
        line = {
            "event": "creating",
            "row": 1,
            "sent_after": server_now - 0.5,
            "job_clock": True,
            "at": time.time() - 0.5,
            "clock_ahead": server_now - time.time() + 0.01,
        }
        with Path(str(results) + ".journal").open("a") as f:
            f.write(json.dumps(line) + "\n")
        other = threading.Timer(1.5, api.create_as_other)  # during the resume's wait
        other.start()
        summary = _batch_run(api, _rows(1), results)
        other.join()
        foreign = api.other_created[2]
        record = _records(results)[1]
        assert record["job_id"] is None
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(foreign)]
        assert "row-1" not in _made_per_row(api)  # not created again either
        assert summary.unresolved == 1
    finally:
        api.stop()


def test_a_resume_waits_the_settle_bound_before_giving_a_job_an_earlier_run_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first run took another program's job (made while row 1's create was out) for
    # row 1's, and was killed at once. The server makes row 1's own job late (within
    # the settle bound) while the same command runs again: the resume's last look at
    # the list waits for it, sees a job no row claims, and gives row 1 no job.
    monkeypatch.setattr(_batch_proof, "SETTLE", 4.0)
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)  # the journal's header
        server_now = api.store.now().timestamp()
        taken = api.create_as_other(ago=0.8)
        lines = [
            {
                "event": "creating",
                "row": 1,
                "sent_after": server_now - 1.0,
                "job_clock": True,
                "at": time.time() - 1.0,
            },
            {
                "event": "proved",
                "row": 1,
                "verdict": "made",
                "job_id": str(taken.id),
                "created_at": taken.created_at.timestamp(),
            },
        ]
        with Path(str(results) + ".journal").open("a") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
        inputs = [{"id": "product", "value": ["row-1"]}]
        late = threading.Timer(1.5, api.store.create, (api.application_id, inputs))
        late.start()
        summary = _batch_run(api, _rows(1), results)
        late.join()
        record = _records(results)[1]
        assert record["job_id"] is None
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(taken.id)]
        assert len(_made_per_row(api)["row-1"]) == 1  # its own, late: not created again
        assert summary.unresolved == 1
    finally:
        api.stop()


def test_a_creates_journal_line_bounds_the_job_clock_for_a_resume(tmp_path: Path) -> None:
    # Once an answer told the job clock, each create's line says how far ahead of the
    # wall clock it can be (the fake's job clock is the wall clock's, give or take the
    # time a request takes).
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, _rows(3), results)
        lines = [
            json.loads(line) for line in Path(str(results) + ".journal").read_text().splitlines()
        ]
        creating = [line for line in lines if line.get("event") == "creating"]
        assert len(creating) == 3
        assert "clock_ahead" not in creating[0]  # no answer yet
        for line in creating[1:]:
            assert -1.0 < line["clock_ahead"] < 1.0, line
    finally:
        api.stop()


def test_another_programs_job_before_a_lost_create_shows_in_the_summary(tmp_path: Path) -> None:
    # Another program's job 30 s before the create: no candidate of the create (it made
    # nothing, created again), but the summary says another program creates jobs.
    api = FakeWriterAPI(delay=0.05, newest_first=True).start()
    try:
        api.fail_next("create_job", "latency")
        api.create_as_other(ago=30)
        api.fail_next("create_job", "drop_before")
        results = tmp_path / "results.jsonl"
        summary = _batch_run(api, _rows(2), results)
        assert summary.other_creator is True
        assert summary.completed == 2
    finally:
        api.stop()


@pytest.mark.timeout(120)
def test_a_job_that_never_ends_leaves_its_row_unfinished_and_the_batch_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_batch, "JOB_DEADLINE", 1.0)
    api = FakeWriterAPI(delay=10_000.0, newest_first=True).start()  # never ends
    try:
        results = tmp_path / "results.jsonl"
        summary = _batch_run(api, _rows(1), results)
        record = _records(results)[1]
        assert record["status"] == "unfinished"
        assert record["job_id"] is not None and record["job_id"] in record["error"]
        assert summary.statuses == {"unfinished": 1}
    finally:
        api.stop()


def _when(condition: Callable[[], bool], then: Callable[[], object]) -> threading.Thread:
    """Run ``then`` as soon as ``condition()`` holds (polled), on a thread."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.005)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_another_programs_job_in_a_lost_creates_window_is_not_a_rows_when_it_makes_more(
    tmp_path: Path,
) -> None:
    # Row 2's create is lost and makes nothing; another program's job lands in its window,
    # alone in view: the proof takes it for row 2's. The same program makes another job
    # later in the run, after that proof: the run's last look at the list sees it, and
    # row 2 gets no result of a job that is not provably its. (The first create's 1.5 s
    # latency, under a 5 s timeout, widens the window the job clock allows past a
    # POST's end: the other program's job, made by a thread that sees the drop, lands
    # in it on a loaded machine too.)
    api = _fake(faults=Faults(latency=1.5))
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_before")

        def creates() -> list[Any]:
            return [e for e in api.log if e.operation == "create_job"]

        first = _when(lambda: any(e.fault == "drop_before" for e in creates()), api.create_as_other)
        later = _when(lambda: len(creates()) >= 3, api.create_as_other)
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **{**CLIENT, "timeout": 5.0}) as client:
            summary = client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        first.join()
        later.join()
        in_window, after = api.other_created[2:]
        record = _records(results)[2]
        assert record["status"] == "unresolved"
        assert record["job_id"] is None
        assert record["candidates"] == [str(in_window)]
        assert "another program" in record["error"]
        assert str(after) not in json.dumps(_records(results))
        assert "row-2" not in _made_per_row(api)  # not created again either
        assert [_records(results)[n]["status"] for n in (1, 3)] == ["completed", "completed"]
        _assert_no_row_joined_to_another_job(api, results)
        assert summary.other_creator is True
        assert summary.unresolved == 1
    finally:
        api.stop()


def test_a_lost_creates_job_is_the_rows_when_nobody_else_creates_during_the_run(
    tmp_path: Path,
) -> None:
    # Row 2's create makes its job and loses the answer; nobody else creates jobs: the
    # run's last look at the list finds every job claimed, and row 2 gets its job.
    api = _fake()
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_after")
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        per_row = _made_per_row(api)
        assert _records(results)[2]["job_id"] == str(per_row["row-2"][0])
        assert _records(results)[2]["status"] == "completed"
        assert {row: len(jobs) for row, jobs in per_row.items()} == {
            "row-1": 1,
            "row-2": 1,
            "row-3": 1,
        }
        assert summary.other_creator is False
        assert summary.completed == 3
    finally:
        api.stop()


@pytest.mark.parametrize("another_program", [False, True])
def test_a_resume_looks_back_to_the_first_runs_creates_before_giving_a_proved_job(
    tmp_path: Path, another_program: bool
) -> None:
    # The first run proved row 1's lost create made its job and died before its last look
    # at the list. The same command again follows the job, then looks back to the first
    # run's create: another program's job since makes row 1 unresolved; asked to, the
    # run after creates it again.
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)  # the journal's header
        server_now = api.store.now().timestamp()
        job = api.store.create(api.application_id, [{"id": "product", "value": ["row-1"]}], ago=5)
        lines = [
            {
                "event": "creating",
                "row": 1,
                "sent_after": server_now - 5.5,
                "job_clock": True,
                "at": time.time() - 5.5,
            },
            {
                "event": "proved",
                "row": 1,
                "verdict": "made",
                "job_id": str(job.id),
                "created_at": job.created_at.timestamp(),
            },
        ]
        journal = Path(str(results) + ".journal")
        with journal.open("a") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
        if another_program:
            api.create_as_other(ago=2)
        summary = _batch_run(api, _rows(1), results)
        record = _records(results)[1]
        if not another_program:
            assert record["status"] == "completed"
            assert record["job_id"] == str(job.id)
            assert summary.other_creator is False
            return
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(job.id)]
        assert summary.other_creator is True
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            again = client.batch(
                api.application_id, _rows(1), results=results, create_unresolved=True
            )
        record = _records(results)[1]
        assert record["status"] == "completed"
        assert record["job_id"] not in (None, str(job.id))
        assert again.created == 1
        assert len(_made_per_row(api)["row-1"]) == 2  # asked for: the user's flag
    finally:
        api.stop()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_the_first_create_lost_before_any_answer_is_proved_once_another_teaches_the_job_clock(
    tmp_path: Path, concurrency: int
) -> None:
    # The run's first create makes its job and loses the answer: no answer has given the
    # job clock yet, so no window can be bounded. With other rows to create, their
    # answers teach the clock and the row gets its job; with none under way (one
    # worker), it is unresolved, its job the candidate, never created again.
    api = _fake()
    try:
        api.fail_next("create_job", "drop_after")
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(
                api.application_id, _rows(4), results=results, concurrency=concurrency
            )
        per_row = _made_per_row(api)
        assert sorted(len(jobs) for jobs in per_row.values()) == [1, 1, 1, 1]
        _assert_no_row_joined_to_another_job(api, results)
        assert summary.lost_answers == 1
        first = next(e.job_id for e in api.log if e.fault == "drop_after")
        lost_row = next(r for r in _records(results).values() if str(first) in json.dumps(r))
        if concurrency == 1:
            assert lost_row["status"] == "unresolved"
            assert lost_row["candidates"] == [str(first)]
            assert summary.completed == 3
        else:
            assert lost_row["status"] == "completed"
            assert lost_row["job_id"] == str(first)
            assert summary.completed == 4
    finally:
        api.stop()


def test_a_lost_creates_job_made_with_it_is_given_without_waiting_the_settle_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job was made with the create (the answer lost after): it shows in the list at
    # once, and the next create does not wait the settle bound (here a minute) out.
    monkeypatch.setattr(_batch_proof, "SETTLE", 60.0)
    api = _fake()
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_after")
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        creates = [e for e in api.log if e.operation == "create_job"]
        assert len(creates) == 3
        assert creates[1].fault == "drop_after"
        assert creates[2].at - creates[1].at < 30  # not the minute of the settle bound
        assert _records(results)[2]["job_id"] == str(creates[1].job_id)
        assert summary.completed == 3
    finally:
        api.stop()


@pytest.mark.parametrize("seed", range(6))
def test_another_program_creating_now_and_then_never_has_its_jobs_given_to_rows(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many lost creates (a third of them, half having made the job) and another program
    # creating a job a quarter of the look-back apart (4 a minute, at Writer's scale):
    # its jobs land in lost creates' windows again and again, each alone in view once
    # the one before was taken. A row given one of them is the worst outcome: none is,
    # and no row has two jobs.
    # Writer's scale, ten times faster: the look-back, the settle bound, the slack and
    # the early look as the fake's other program and jobs.
    monkeypatch.setattr(_batch_proof, "LOOKBACK", 6.0)
    monkeypatch.setattr(_batch_proof, "SETTLE", 1.0)
    monkeypatch.setattr(_batch_proof, "SLACK", 0.5)
    monkeypatch.setattr(_batch, "_EARLY_LOOK", 0.1)
    monkeypatch.setattr(_batch_proof, "DRIFT", 0.025)
    api = FakeWriterAPI(
        delay=(0.2, 1.0),
        newest_first=True,
        seed=seed,
        faults=Faults(lose_creates=0.3, seed=seed),
        conditions=[OtherCreator(40)],
    ).start()
    try:
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(24), results=results)
        assert sorted(len(jobs) for jobs in _made_per_row(api).values()) == [1] * len(
            _made_per_row(api)
        )
        _assert_no_row_joined_to_another_job(api, results)
        assert not set(map(str, api.other_created)) & {
            r["job_id"] for r in _records(results).values()
        }
        assert sorted(_records(results)) == list(range(1, 25))
        assert summary.unresolved <= summary.lost_answers
    finally:
        api.stop()


def test_another_programs_lone_job_after_a_lost_create_ended_is_never_taken_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Row 2's create is lost and makes nothing; well after its POST ended (within the
    # settle bound) another program makes its only job of the run. A create's own job
    # is stamped before its POST ended: this one cannot be row 2's own unless made late,
    # and is never taken for it; the row is unresolved with it as candidate. (Made 1.5 s
    # after the drop is seen, settled at 4 s: margins a loaded machine does not eat.)
    monkeypatch.setattr(_batch_proof, "SETTLE", 4.0)
    api = _fake()
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_before")

        def later() -> None:
            time.sleep(1.5)  # past the drift the bounds allow (0.2 s latency + 0.25 s)
            api.create_as_other()

        dropped = _when(lambda: any(e.fault == "drop_before" for e in api.log), later)
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(3), results=results, concurrency=1)
        dropped.join()
        foreign = api.other_created[2]
        record = _records(results)[2]
        assert record["status"] == "unresolved"
        assert record["candidates"] == [str(foreign)]
        assert "row-2" not in _made_per_row(api)
        assert summary.unresolved == 1
    finally:
        api.stop()


def test_creates_failing_again_and_again_end_the_row_failed_not_the_run_hung(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every create of row 1 answers 500 and makes nothing: each is proved to have made
    # none and sent again, up to MAX_CREATES; then the row is failed and the run ends.
    monkeypatch.setattr(_batch, "MAX_CREATES", 3)
    api = FakeWriterAPI(delay=0.05, newest_first=True).start()
    try:
        api.fail_next("create_job", "500", 3)
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            summary = client.batch(api.application_id, _rows(1), results=results, concurrency=1)
        record = _records(results)[1]
        assert record["status"] == "failed"
        assert "3 creates failed" in record["error"]
        assert "row-1" not in _made_per_row(api)
        assert sum(e.operation == "create_job" for e in api.log) == 3
        assert summary.completed == 0
    finally:
        api.stop()


def test_a_resume_with_no_timeout_waits_the_settle_bound_for_the_create_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No timeout: nothing bounds when the dead run's POST ended (sent 2.5 s ago). The
    # server makes its job 1.5 s after the same call started again, within the settle
    # bound from then: found, never created again.
    monkeypatch.setattr(_batch_proof, "SETTLE", 3.0)
    api = _fake()
    try:
        results = tmp_path / "results.jsonl"
        _batch_run(api, [], results)
        line = {
            "event": "creating",
            "row": 1,
            "sent_after": api.store.now().timestamp() - 2.5,
            "job_clock": True,
            "at": time.time() - 2.5,
        }
        with Path(str(results) + ".journal").open("a") as f:
            f.write(json.dumps(line) + "\n")
        inputs = [{"id": "product", "value": ["row-1"]}]
        late = threading.Timer(1.5, api.store.create, (api.application_id, inputs))
        late.start()
        with JobsClient(api.api_key, base_url=api.base_url, **{**CLIENT, "timeout": None}) as c:
            c.batch(api.application_id, _rows(1), results=results)
        late.join()
        assert len(_made_per_row(api)["row-1"]) == 1
        assert _records(results)[1]["status"] in {"completed", "unresolved"}
    finally:
        api.stop()


def test_a_taken_job_that_failed_is_not_retried_before_the_run_looked_at_the_list(
    tmp_path: Path,
) -> None:
    # Row 2's lost create made its job, taken for it; every job fails. Another program
    # made a job later in the run: the taken job may be its, so it is never re-triggered
    # (the row is unresolved); the other rows' jobs are retried as usual.
    api = _fake(failure_ratio=1.0)
    try:
        api.fail_next("create_job", "latency")
        api.fail_next("create_job", "drop_after")

        def creates() -> int:
            return sum(e.operation == "create_job" for e in api.log)

        later = _when(lambda: creates() >= 3, api.create_as_other)
        results = tmp_path / "results.jsonl"
        with JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client:
            client.batch(
                api.application_id, _rows(3), results=results, concurrency=1, max_attempts=2
            )
        later.join()
        taken = next(e.job_id for e in api.log if e.fault == "drop_after")
        assert taken is not None
        retries = api.retries_per_job()
        assert retries.get(taken, 0) == 0
        assert _records(results)[2]["status"] == "unresolved"
        assert _records(results)[2]["candidates"] == [str(taken)]
        others = [r for n, r in _records(results).items() if n != 2]
        assert all(retries.get(uuid.UUID(r["job_id"]), 0) == 1 for r in others)
    finally:
        api.stop()


def test_a_resume_with_the_rows_in_another_order_is_refused_before_anything_is_joined(
    tmp_path: Path,
) -> None:
    # Rows given as a list carry no file fingerprint: the journal's digest of each row
    # tells the same call from one whose rows moved (row 1 is now another row).
    api = FakeWriterAPI(delay=0.05, newest_first=True).start()
    try:
        results = tmp_path / "results.jsonl"
        rows = _rows(3)
        _batch_run(api, rows, results)
        before = results.read_text()
        with (
            JobsClient(api.api_key, base_url=api.base_url, **CLIENT) as client,
            pytest.raises(InvalidArgumentError, match=r"row 1 .* is not the row 1"),
        ):
            client.batch(api.application_id, rows[::-1], results=results)
        assert results.read_text() == before
        assert sum(len(jobs) for jobs in _made_per_row(api).values()) == 3
        _batch_run(api, rows, results)  # the same rows: nothing to do, nothing refused
    finally:
        api.stop()
