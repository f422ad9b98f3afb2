"""wait() polls with growing intervals until a final status; list() walks every page."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from uuid import UUID, uuid4

import httpx
import pytest

from writer_jobs import JobsClient, JobStatus, ResponseValidationError, WaitTimeoutError

from .conftest import respond
from .helpers import JOB_ID, Recorder, details_body, sequence


def test_wait_polls_until_completed_with_growing_intervals(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    statuses = ["in_progress"] * 8 + ["completed"]
    recorder = Recorder(sequence(*(respond(200, details_body(s)) for s in statuses)))
    done = make_client(recorder).wait(JOB_ID)
    assert done.status is JobStatus.COMPLETED
    assert len(recorder.requests) == 9
    assert sleeps[0] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(sleeps))
    assert max(sleeps) == 10.0


def test_wait_returns_a_failed_job(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    recorder = Recorder(lambda r: respond(200, details_body("failed", error="boom")))
    done = make_client(recorder).wait(JOB_ID)
    assert done.status is JobStatus.FAILED and done.error == "boom"
    assert sleeps == []


def test_wait_deadline_raises_with_the_last_job(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(200, details_body("in_progress")))
    with pytest.raises(WaitTimeoutError) as info:
        make_client(recorder).wait(JOB_ID, deadline=0.05)
    assert isinstance(info.value, TimeoutError)
    assert info.value.last_job is not None
    assert info.value.last_job.status is JobStatus.IN_PROGRESS
    assert "in_progress" in str(info.value)


def _jobs_server(total: int, *, page_cap: int | None = None, total_count: bool = True) -> Recorder:
    ids = [uuid4() for _ in range(total)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", 0))
        limit = int(request.url.params.get("limit", 100))
        if page_cap:
            limit = min(limit, page_cap)
        status = request.url.params.get("status", "failed")
        page = [details_body(status, job_id) for job_id in ids[offset : offset + limit]]
        body: dict[str, object] = {"result": page, "pagination": {"offset": offset, "limit": limit}}
        if total_count:
            body["totalCount"] = total
        return respond(200, body)

    recorder = Recorder(handler)
    recorder.ids = ids  # type: ignore[attr-defined]
    return recorder


def test_list_walks_every_page_lazily(make_client: Callable[..., JobsClient]) -> None:
    recorder = _jobs_server(250)
    client = make_client(recorder)
    iterator = client.list("my-app", status=JobStatus.FAILED)
    assert recorder.requests == [], "nothing is fetched before iteration"
    first = next(iterator)
    assert len(recorder.requests) == 1 and isinstance(first.id, UUID)
    jobs = [first, *iterator]
    assert [j.id for j in jobs] == recorder.ids  # type: ignore[attr-defined]
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", "100", "200"]
    assert all(r.url.params["status"] == "failed" for r in recorder.requests)


def test_list_page_size_is_configurable(make_client: Callable[..., JobsClient]) -> None:
    recorder = _jobs_server(25)
    jobs = list(make_client(recorder).list("my-app", page_size=10))
    assert len(jobs) == 25 and len(recorder.requests) == 3
    assert recorder.requests[0].url.params["limit"] == "10"


def test_list_continues_when_the_server_caps_the_page(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = _jobs_server(120, page_cap=50)
    assert len(list(make_client(recorder).list("my-app"))) == 120


def test_list_without_total_count_goes_on_until_an_empty_page(
    make_client: Callable[..., JobsClient],
) -> None:
    # A short page proves nothing when the server may cap limit without saying so.
    recorder = _jobs_server(130, total_count=False)
    assert len(list(make_client(recorder).list("my-app"))) == 130
    assert len(recorder.requests) == 3


def test_list_of_nothing_is_one_request(make_client: Callable[..., JobsClient]) -> None:
    recorder = _jobs_server(0)
    assert list(make_client(recorder).list("my-app")) == []
    assert len(recorder.requests) == 1


def test_list_raises_rather_than_looping_when_the_server_repeats_a_page(
    make_client: Callable[..., JobsClient],
) -> None:
    page = [details_body("failed", uuid4()) for _ in range(100)]
    recorder = Recorder(lambda r: respond(200, {"result": page, "totalCount": 1000}))
    # Two equal pages can be an honest list shifted by jobs entering above; a third is not.
    with pytest.raises(ResponseValidationError, match="same page for offsets 0, 100, 200"):
        list(make_client(recorder).list("my-app"))
    assert len(recorder.requests) == 3
