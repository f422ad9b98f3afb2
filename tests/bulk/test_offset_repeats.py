"""A page equal to the one before it: jobs entering above an honest, newest-first list
shift it down by exactly a page, or the server ignores offset. The first must not end
a run or a watch; the second must still end, never loop: in a clear error for a list
call and retry_failed's selection, settled by GETs in a watch (a watch round's paging
never ends the run). Counts are what the server processed."""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any
from uuid import UUID

import pytest

from writer_jobs import (
    AsyncJobsClient,
    BulkSummary,
    JobsClient,
    JobStatus,
    ResponseValidationError,
)
from writer_jobs.bulk import _selection as _bulk
from writer_jobs.testing import FakeWriterAPI

from ..loopback import LoopbackServer, Reply, Request


@pytest.fixture(autouse=True)
def _quick_settle_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass whose pages shifted waits 1 s or more before listing again; the shift
    here is the test's own, so the pause is cut to keep the suite fast."""
    monkeypatch.setattr(_bulk, "SETTLE_PAUSE", 0.01)


def _once(status: JobStatus, entering: int, *, run: Any) -> Any:
    """An on_list hook: the first time a page of ``status`` past offset 0 is asked
    for, ``run(api, app, entering)`` puts ``entering`` jobs on top of that list (after
    the page before it was read, before this one is computed)."""
    done: list[int] = []

    def hook(api: FakeWriterAPI, app: str, listed: Any, offset: int, _: int) -> None:
        if listed is status and offset > 0 and not done:
            done.append(offset)
            run(api, app, entering)

    return hook


def _another_program_creates(api: FakeWriterAPI, app: str, count: int) -> None:
    for _ in range(count):
        api.store.create(app, [])


def _another_job_fails(api: FakeWriterAPI, app: str, count: int) -> None:
    api.store.seed_failed(app, count)


# --- watching: the in_progress list, no totalCount ---------------------------------------


@pytest.mark.parametrize("entering", [1, 7])
@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_jobs_entering_above_the_watched_ones_do_not_end_retry_failed(
    client_kind: str, entering: int
) -> None:
    """The run's re-triggered jobs are the whole in_progress list (one page, capped at
    7 with 7 jobs); right after the watcher reads it, another program creates as many
    jobs, which enter the newest-first list above: the next page (no totalCount, so
    it is asked for) is the same page again. The watch goes on; every job gets its
    outcome with the status it ended with, each POSTed once."""
    with FakeWriterAPI(
        seed_failed=entering,
        newest_first=True,
        send_total_count=False,
        max_page_size=entering,
        delay=2.0,
    ) as api:
        api.on_list = _once(JobStatus.IN_PROGRESS, entering, run=_another_program_creates)
        settings: dict[str, Any] = {"wait": True, "rate_limit": None}
        if client_kind == "sync":
            with JobsClient(api.api_key, base_url=api.base_url) as client:
                summary = client.retry_failed(api.application_id, **settings)
        else:

            async def main() -> BulkSummary:
                async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
                    return await client.retry_failed(api.application_id, **settings)

            summary = asyncio.run(main())
        api.on_list = None
        per_job = api.retries_per_job()
        truth = [api.store.job(j).status.value for j in api.seeded]
    assert per_job == dict.fromkeys(api.seeded, 1)
    assert summary.outcomes == {"retried": entering}
    assert summary.statuses == {"completed": entering} and truth == ["completed"] * entering


@pytest.mark.parametrize("entering", [1, 7])
def test_jobs_entering_above_the_watched_ones_do_not_end_wait_many(entering: int) -> None:
    with FakeWriterAPI(
        seed_failed=entering,
        newest_first=True,
        send_total_count=False,
        max_page_size=entering,
        delay=2.0,
    ) as api:
        with JobsClient(api.api_key, base_url=api.base_url, rate_limit=None) as client:
            for job_id in api.seeded:
                client.retry(job_id)
            api.on_list = _once(JobStatus.IN_PROGRESS, entering, run=_another_program_creates)
            ended = list(client.wait_many(api.seeded, deadline=30))
        api.on_list = None
    assert sorted(job.id for job in ended) == sorted(api.seeded)
    assert {job.status for job in ended} == {JobStatus.COMPLETED}


# --- the failed listing, totalCount sent ----------------------------------------------


@pytest.mark.parametrize(("seeded", "page_size"), [(1, 100), (2, 2)])
@pytest.mark.parametrize("client_kind", ["sync", "async"])
def test_a_job_failing_between_the_first_two_pages_does_not_end_the_run(
    client_kind: str, seeded: int, page_size: int
) -> None:
    """One failed job (a page of one: the next is asked for, totalCount is not trusted
    while paging), or two with page_size=2 (the next page starts at the anchor):
    another job fails between the two page requests and enters the newest-first list
    above them, so the second page repeats the first. The run goes on and retries
    every failed job once, the late one too (in its next pass)."""
    with FakeWriterAPI(seed_failed=seeded, newest_first=True, delay=30) as api:
        api.on_list = _once(JobStatus.FAILED, 1, run=_another_job_fails)
        settings: dict[str, Any] = {"rate_limit": None}
        if client_kind == "sync":
            with JobsClient(api.api_key, base_url=api.base_url, page_size=page_size) as client:
                summary = client.retry_failed(api.application_id, **settings)
        else:

            async def main() -> BulkSummary:
                async with AsyncJobsClient(
                    api.api_key, base_url=api.base_url, page_size=page_size
                ) as client:
                    return await client.retry_failed(api.application_id, **settings)

            summary = asyncio.run(main())
        api.on_list = None
        per_job = api.retries_per_job()
    assert len(per_job) == seeded + 1 and set(api.seeded) <= per_job.keys()
    assert max(per_job.values()) == 1 and summary.outcomes == {"retried": seeded + 1}


# --- a server that really ignores offset ---------------------------------------------


class IgnoresOffset:
    """Every list request gets the same first page (totalCount 30: more to come), and
    in_progress jobs while it is asked for in_progress ones; a job's first GET shows it
    in_progress, the next ones completed; counts what it processed."""

    def __init__(self) -> None:
        self.ids = [UUID(int=n + 1) for n in range(30)]
        self.lists = 0
        self.posts = 0
        self.gets: dict[UUID, int] = {}

    def __call__(self, request: Request) -> Reply:
        path, _, query = request.path.partition("?")
        if request.method == "POST":
            self.posts += 1
            job_id = path.split("/")[-2]
            body = {"id": job_id, "status": "in_progress", "created_at": "2026-01-01T00:00:00Z"}
            return Reply.json(202, body)
        if path.startswith("/v1/applications/jobs/"):  # GET one job
            got = UUID(path.split("/")[-1])
            self.gets[got] = self.gets.get(got, 0) + 1
            status = "in_progress" if self.gets[got] == 1 else "completed"
            return Reply.json(200, self._job(got, status))
        self.lists += 1
        params = dict(urllib.parse.parse_qsl(query))
        status = params.get("status", "failed")
        limit = int(params.get("limit", 100))
        page = [self._job(job_id, status) for job_id in self.ids[: min(limit, 10)]]
        return Reply.json(200, {"result": page, "totalCount": len(self.ids)})

    @staticmethod
    def _job(job_id: UUID, status: str) -> dict[str, Any]:
        return {
            "id": str(job_id),
            "status": status,
            "application_id": "app",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:01Z",
            **({"error": "boom"} if status == "failed" else {}),
        }


def test_a_server_that_ignores_offset_still_ends_retry_failed_with_a_clear_error() -> None:
    server = IgnoresOffset()
    with (
        LoopbackServer(server) as loopback,
        JobsClient("k", base_url=loopback.url) as client,
        pytest.raises(ResponseValidationError, match="ignores offset") as caught,
    ):
        client.retry_failed("app", rate_limit=None)
    assert "offset" in str(caught.value) and server.posts == 0
    assert server.lists == 3, "three identical pages in a row: no shift explains that"


def test_a_server_that_ignores_offset_still_ends_list_with_a_clear_error() -> None:
    server = IgnoresOffset()
    with (
        LoopbackServer(server) as loopback,
        JobsClient("k", base_url=loopback.url) as client,
        pytest.raises(ResponseValidationError, match="ignores offset"),
    ):
        list(client.list("app"))
    assert server.lists == 3 and server.posts == 0


def test_a_server_that_ignores_offset_never_ends_wait_many_a_get_settles_the_job() -> None:
    """A watch round's equal pages (here the first page, again and again) end the round's
    paging, never the wait: the watched job, on no page read, is missed twice and a GET
    shows it completed. Two rounds of three lists (three pages each), one GET more."""
    server = IgnoresOffset()
    watched = server.ids[20]  # not on the first page
    with (
        LoopbackServer(server) as loopback,
        JobsClient("k", base_url=loopback.url) as client,
    ):
        ended = list(client.wait_many([watched], deadline=30))
    assert [(job.id, job.status) for job in ended] == [(watched, JobStatus.COMPLETED)]
    assert server.gets == {watched: 2} and server.posts == 0
    assert server.lists == 2 * 3 * 3
