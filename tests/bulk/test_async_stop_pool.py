"""A stopped async run sends nothing more, even with ``concurrency`` above the
connection pool: a task still waiting for a pooled connection has sent nothing and
must not send once the run has stopped (the sync client never did)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from typing import Any
from uuid import UUID

import pytest

from writer_jobs import AsyncJobsClient

from ..loopback import LoopbackServer, Reply, Request

JOBS = [UUID(int=n + 1) for n in range(150)]
CREATED = "2026-11-01T00:00:00Z"


class PoolServer:
    """150 failed jobs; each POST is answered 6 s after it arrives (holding one of the
    client's 100 pooled connections meanwhile: long enough for all 100 to be sent on a
    loaded machine before the first answer stops the run). Records when each POST
    arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        path, _, query = request.path.partition("?")
        if request.method == "POST":
            with self._lock:
                self.arrivals.append(time.monotonic())
            job_id = path.split("/")[-2]
            body = {"id": job_id, "status": "in_progress", "created_at": CREATED}
            return Reply(202, json.dumps(body).encode(), action="stall", delay=6.0)
        params = dict(urllib.parse.parse_qsl(query))
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        page = [
            {
                "id": str(job_id),
                "status": "failed",
                "application_id": "pool-app",
                "created_at": CREATED,
                "updated_at": CREATED,
                "error": "boom",
            }
            for job_id in JOBS[offset : offset + limit]
        ]
        return Reply.json(200, {"result": page, "totalCount": len(JOBS)})

    def posts_after(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at in self.arrivals if at > moment)


@pytest.mark.parametrize("stop", ["cancelled", "callback raises"])
def test_a_stopped_async_run_over_the_pool_sends_no_post_after_the_call(stop: str) -> None:
    """concurrency=150 over the pool of 100 connections: 100 POSTs go out, 50 tasks
    wait for a connection. The run stops (cancelled, or its on_outcome raising when
    the first answers come back); counted by the server, no POST arrives after
    retry_failed raised (it was 49 of 150)."""
    server = PoolServer()
    with LoopbackServer(server) as loopback:

        def on_outcome(_: Any) -> None:
            raise RuntimeError("stop the run")

        async def main() -> float:
            async with AsyncJobsClient("k", base_url=loopback.url) as client:
                run = asyncio.create_task(
                    client.retry_failed(
                        "pool-app",
                        concurrency=150,
                        rate_limit=None,
                        on_outcome=on_outcome if stop == "callback raises" else None,
                    )
                )
                if stop == "cancelled":
                    while len(server.arrivals) < 100:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
                    await asyncio.sleep(0.2)  # the other 50 wait for a pooled connection
                    run.cancel()
                with pytest.raises((asyncio.CancelledError, RuntimeError)):
                    await run
                raised = time.monotonic()
            return raised  # leaving the client waited for the POSTs that were out

        raised = asyncio.run(main())
        time.sleep(2.5)  # any POST a waiting task sent would have arrived by now
        assert len(server.arrivals) >= 100, "the pool was full when the run stopped"
        assert server.posts_after(raised) == 0
