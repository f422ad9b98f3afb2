"""One client shared by many threads or tasks: correct results, reused connections."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from writer_jobs import AsyncJobsClient, ClientClosedError, JobsClient, JobStatus
from writer_jobs.testing import FakeWriterAPI


def test_one_sync_client_shared_by_16_threads_for_2000_calls() -> None:
    with (
        FakeWriterAPI(seed_failed=50, delay=60) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        ids = api.seeded

        def work(n: int) -> bool:
            job_id = ids[n % len(ids)]
            details = client.get(job_id)
            return details.id == job_id and details.status is JobStatus.FAILED

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(work, range(2000)))
        connections = {e.client_port for e in api.log}
    assert results == [True] * 2000
    assert len(api.log) == 2000
    assert len(connections) <= 20, f"{len(connections)} connections for 16 threads"


async def test_one_async_client_with_500_concurrent_tasks() -> None:
    with FakeWriterAPI(seed_failed=500, delay=60) as api:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            jobs = await asyncio.gather(*(client.retry(job_id) for job_id in api.seeded))
            again = await asyncio.gather(*(client.get(job.id) for job in jobs))
        connections = {e.client_port for e in api.log}
        per_job = api.retries_per_job()
    assert [j.id for j in jobs] == api.seeded
    assert all(d.status is JobStatus.IN_PROGRESS for d in again)
    assert set(per_job.values()) == {1}
    # 1,000 requests over a pool of 100: connections are reused, not opened per request
    # (the server may close a few idle ones, so allow some turnover beyond 100).
    assert len(connections) <= 200, f"{len(connections)} connections for 1,000 requests"


async def test_close_twice_and_use_after_close() -> None:
    with FakeWriterAPI(seed_failed=1) as api:
        client = JobsClient(api.api_key, base_url=api.base_url)
        client.close()
        client.close()
        with pytest.raises(ClientClosedError, match="closed"):
            client.get(api.seeded[0])
        aclient = AsyncJobsClient(api.api_key, base_url=api.base_url)
        await aclient.aclose()
        await aclient.aclose()
        with pytest.raises(ClientClosedError, match="closed"):
            await aclient.get(api.seeded[0])
        assert api.log == []
