"""AsyncJobsClient: the same behaviour as the sync twin, through the same engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from writer_jobs import (
    AsyncJobsClient,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    InvalidArgumentError,
    JobStatus,
    NotFoundError,
)

from .conftest import respond
from .helpers import JOB_ID, Recorder, details_body, job_body, sequence, writer_error


async def test_retry_get_create(make_async_client: Callable[..., AsyncJobsClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return respond(202, job_body())
        return respond(200, details_body("completed"))

    recorder = Recorder(handler)
    async with make_async_client(recorder) as client:
        job = await client.retry(JOB_ID)
        details = await client.get(job.id)
        created = await client.create("my-app", {"topic": "cats"})
        done = await client.wait(job.id)
    assert job.status is JobStatus.IN_PROGRESS and details.status is JobStatus.COMPLETED
    assert created.id == JOB_ID and done.status is JobStatus.COMPLETED


async def test_ambiguous_retry_is_checked_not_resent(
    make_async_client: Callable[..., AsyncJobsClient],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("timed out")
        return respond(200, details_body("in_progress"))

    recorder = Recorder(handler)
    async with make_async_client(recorder) as client:
        job = await client.retry(JOB_ID)
    assert job.status is JobStatus.IN_PROGRESS
    assert recorder.count("POST") == 1


async def test_errors_are_the_same_types(make_async_client: Callable[..., AsyncJobsClient]) -> None:
    body = writer_error("NotFound", "fail.notFound.resource", "Job not found")
    recorder = Recorder(sequence(respond(404, body), respond(409), respond(503)))
    async with make_async_client(recorder, max_retries=1) as client:
        with pytest.raises(NotFoundError, match="Job not found"):
            await client.get(JOB_ID)
        with pytest.raises(ConflictError):
            await client.create("my-app", {"t": "v"})
        with pytest.raises(InternalServerError, match="after 2 attempts"):
            await client.get(JOB_ID)


async def test_list_is_an_async_iterator(make_async_client: Callable[..., AsyncJobsClient]) -> None:
    from uuid import uuid4

    ids = [uuid4() for _ in range(7)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        page = [details_body("failed", i) for i in ids[offset : offset + limit]]
        return respond(200, {"result": page, "totalCount": len(ids)})

    recorder = Recorder(handler)
    async with make_async_client(recorder) as client:
        seen = [job.id async for job in client.list("my-app", page_size=3)]
    assert seen == ids and len(recorder.requests) == 3


async def test_validation_before_io_and_closed_client(
    make_async_client: Callable[..., AsyncJobsClient],
) -> None:
    recorder = Recorder(lambda r: respond(202, job_body()))
    client = make_async_client(recorder)
    with pytest.raises(InvalidArgumentError):
        await client.retry("nope")
    with pytest.raises(InvalidArgumentError):
        client.list("a/b")
    await client.aclose()
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.retry(JOB_ID)
    assert recorder.requests == []


async def test_many_concurrent_tasks_share_one_client(
    make_async_client: Callable[..., AsyncJobsClient],
) -> None:
    recorder = Recorder(lambda r: respond(202, job_body()))
    async with make_async_client(recorder) as client:
        jobs = await asyncio.gather(*(client.retry(JOB_ID) for _ in range(200)))
    assert len(jobs) == 200 and all(j.id == JOB_ID for j in jobs)
