"""A watch round never ends the run: lists paged while jobs end under them (no
totalCount: a tail pushed down one job a page repeats, as a server ignoring offset's
would), a watched job deleted (its GET answers 404), and the pace a run's own
``rate_limit`` gives its watch. Counts are what the fake processed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from writer_jobs import (
    AsyncJobsClient,
    BatchSummary,
    BulkSummary,
    JobsClient,
    JobStatus,
    ResponseValidationError,
)
from writer_jobs._engine import IDENTICAL_PAGES
from writer_jobs._generated.models import JobList
from writer_jobs.bulk._selection import AnchoredPager
from writer_jobs.testing import FakeWriterAPI

ROWS = [{"product": f"row {n}"} for n in range(1, 13)]


def _one_ends_a_page(
    api: FakeWriterAPI, app: str, status: JobStatus | None, offset: int, _: int
) -> None:
    """Each page of the completed list past the first: a running job ends now and
    enters the newest-first list above the pages read (jobs ending at the pace pages
    are read). With pages of one job the list's last job comes back at every offset."""
    if status is JobStatus.COMPLETED and offset > 0:
        api.store.finish_next(app)


def _shifting_fake(**options: Any) -> FakeWriterAPI:
    api = FakeWriterAPI(
        newest_first=True, send_total_count=False, max_page_size=1, delay=(0.5, 3.0), **options
    )
    api.on_list = _one_ends_a_page
    return api


def _batch(
    api: FakeWriterAPI, client_kind: str, rows: list[dict[str, str]], **options: Any
) -> BatchSummary:
    if client_kind == "sync":
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            return client.batch(api.application_id, rows, **options)

    async def main() -> BatchSummary:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            return await client.batch(api.application_id, rows, **options)

    return asyncio.run(main())


def _retry_failed(api: FakeWriterAPI, client_kind: str, **options: Any) -> BulkSummary:
    if client_kind == "sync":
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            return client.retry_failed(api.application_id, **options)

    async def main() -> BulkSummary:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            return await client.retry_failed(api.application_id, **options)

    return asyncio.run(main())


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- lists shifting under the pages of a round, no totalCount ------------------------


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_a_batch_records_every_row_while_its_jobs_end_as_the_lists_are_paged(
    tmp_path: Path, client_kind: str
) -> None:
    results = tmp_path / "results.jsonl"
    with _shifting_fake() as api:
        summary = _batch(api, client_kind, ROWS, results=results)
        api.on_list = None
        created = api.processed("create_job")
    records = _results(results)
    assert summary.ok and created == len(ROWS)
    assert sorted(r["row"] for r in records) == list(range(1, len(ROWS) + 1))
    assert {r["status"] for r in records} == {"completed"}


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_retry_failed_records_every_job_while_they_end_as_the_lists_are_paged(
    client_kind: str,
) -> None:
    with _shifting_fake(seed_failed=10) as api:
        summary = _retry_failed(api, client_kind, wait=True, rate_limit=None)
        api.on_list = None
        per_job = api.retries_per_job()
    assert per_job == dict.fromkeys(api.seeded, 1)
    assert summary.outcomes == {"retried": 10} and summary.statuses == {"completed": 10}


# --- a watched job deleted (GET: 404) --------------------------------------------------


def _deletes_one(deleted: list[UUID]) -> Any:
    """The first time the running jobs are listed while one is running: the oldest is
    deleted (by a colleague, or expired by retention); no list shows it again."""

    def hook(api: FakeWriterAPI, app: str, status: JobStatus | None, offset: int, _: int) -> None:
        if status is not JobStatus.IN_PROGRESS or deleted:
            return
        running, _total = api.store.list(app, JobStatus.IN_PROGRESS, 0, 1000)
        if running:
            oldest = min(running, key=lambda job: job.created_at)
            api.store.delete(oldest.id)
            deleted.append(oldest.id)

    return hook


@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_a_deleted_job_fails_its_row_and_neither_the_batch_nor_its_resume(
    tmp_path: Path, client_kind: str
) -> None:
    results = tmp_path / "results.jsonl"
    deleted: list[UUID] = []
    with FakeWriterAPI(newest_first=True, delay=2.0) as api:
        api.on_list = _deletes_one(deleted)
        summary = _batch(api, client_kind, ROWS, results=results)
        again = _batch(api, client_kind, ROWS, results=results)
        api.on_list = None
        created = api.processed("create_job")
    records = {r["row"]: r for r in _results(results)}
    assert len(deleted) == 1 and created == len(ROWS), "no row is sent again"
    gone = [r for r in records.values() if r["job_id"] == str(deleted[0])]
    assert len(gone) == 1 and gone[0]["status"] == "failed" and "404" in gone[0]["error"]
    assert sorted(records) == list(range(1, len(ROWS) + 1))
    assert [r["status"] for r in records.values()].count("completed") == len(ROWS) - 1
    assert not summary.ok and again.skipped == len(ROWS)


def test_a_deleted_job_is_retry_faileds_not_found_outcome_not_its_end() -> None:
    deleted: list[UUID] = []
    with FakeWriterAPI(newest_first=True, delay=2.0, seed_failed=6) as api:
        api.on_list = _deletes_one(deleted)
        summary = _retry_failed(api, "sync", wait=True, rate_limit=None)
        api.on_list = None
        per_job = api.retries_per_job()
    assert len(deleted) == 1 and per_job == dict.fromkeys(api.seeded, 1)
    assert summary.outcomes == {"retried": 5, "not_found": 1}
    assert summary.statuses == {"completed": 5}


# --- the watch's pace from the run's own rate_limit ------------------------------------


def _lists(api: FakeWriterAPI) -> int:
    return api.requests_per_operation().get("list_jobs", 0)


def test_a_batchs_own_rate_limit_paces_its_watch_as_the_clients_would() -> None:
    """The same batch, its rate given once to the client, once to batch() only (the
    client unpaced): the watch lists about as often (unpaced it would list every 0.5 s)."""
    lists = []
    for given_to in ("client", "batch"):
        with FakeWriterAPI(newest_first=True, delay=3.0) as api:
            client_rate = 400 if given_to == "client" else None
            batch_rate = 400 if given_to == "batch" else None
            with JobsClient(api.api_key, base_url=api.base_url, rate_limit=client_rate) as client:
                summary = client.batch(api.application_id, ROWS, rate_limit=batch_rate)
            assert summary.ok
            lists.append(_lists(api))
    by_client, by_batch = lists
    assert by_batch <= by_client * 1.5 + 2, lists


def test_retry_faileds_own_rate_limit_paces_its_watch_as_the_clients_would() -> None:
    lists = []
    for given_to in ("client", "run"):
        with FakeWriterAPI(newest_first=True, delay=3.0, seed_failed=12) as api:
            client_rate = 400 if given_to == "client" else None
            run_rate = 400 if given_to == "run" else None
            with JobsClient(api.api_key, base_url=api.base_url, rate_limit=client_rate) as client:
                summary = client.retry_failed(api.application_id, wait=True, rate_limit=run_rate)
            assert summary.statuses == {"completed": 12}
            lists.append(_lists(api))
    by_client, by_run = lists
    assert by_run <= by_client * 1.5 + 2, lists


# --- a listing pass's tail repeating ---------------------------------------------------


def _page(ids: list[UUID]) -> JobList:
    return JobList.from_dict(
        {
            "result": [
                {
                    "id": str(job_id),
                    "status": "failed",
                    "application_id": "app",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:01Z",
                }
                for job_id in ids
            ]
        }
    )


def test_a_tail_repeating_ends_a_listing_pass_shifted_the_first_page_repeating_raises() -> None:
    """Overlap paging: a tail of two jobs pushed down one a page by jobs entering above
    comes back at offsets 1, 2, 3: the pass ends ``shifted`` (listed again), never raises;
    the first page coming back at every offset is a server ignoring offset: raises."""
    a, b, c, d = (UUID(int=n) for n in range(1, 5))
    tail = AnchoredPager("app", JobStatus.FAILED, 2)
    for page in ([c, d], [d, a], [a, b]):  # each page starts at the one before's last job
        assert tail.accept(_page(page))
    assert not tail.shifted
    for _ in range(IDENTICAL_PAGES - 1):  # a job enters above before each request
        assert tail.accept(_page([a, b])) == []
    assert tail.shifted and tail.next_call() is None
    first = AnchoredPager("app", JobStatus.FAILED, 2)
    for _ in range(IDENTICAL_PAGES - 1):
        first.accept(_page([a, b]))
    with pytest.raises(ResponseValidationError, match="ignores offset"):
        first.accept(_page([a, b]))


class _Stop(Exception):
    pass


def test_a_resume_fails_the_row_whose_job_was_deleted_since_and_ends(tmp_path: Path) -> None:
    """A batch stopped after its first result (the callback raises) left rows whose job
    it made and did not record; one of those jobs is deleted before the resume: the
    resume ends that row failed ("gone") and completes the others."""
    results = tmp_path / "results.jsonl"

    def stop(_: object) -> None:
        raise _Stop

    with FakeWriterAPI(newest_first=True, delay=1.0) as api:
        with pytest.raises(_Stop):
            _batch(api, "sync", ROWS, results=results, on_result=stop)
        recorded = {r["job_id"] for r in _results(results)} if results.exists() else set()
        made, _total = api.store.list(api.application_id, None, 0, 1000)
        unrecorded = [job.id for job in made if str(job.id) not in recorded]
        api.store.delete(unrecorded[0])
        summary = _batch(api, "sync", ROWS, results=results)
        created = api.processed("create_job")
    records = {r["row"]: r for r in _results(results)}
    gone = [r for r in records.values() if r["job_id"] == str(unrecorded[0])]
    assert created == len(ROWS), "one job a row, the deleted one's row never sent again"
    assert sorted(records) == list(range(1, len(ROWS) + 1))
    assert len(gone) == 1 and gone[0]["status"] == "failed" and "404" in gone[0]["error"]
    assert [r["status"] for r in records.values()].count("completed") == len(ROWS) - 1
    assert summary.rows == len(ROWS)
