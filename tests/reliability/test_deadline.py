"""No call hangs: each attempt, response headers included, ends within its deadline
(connect + read timeout) however slowly a server trickles bytes; on every transport."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from writer_jobs import APITimeoutError, AsyncJobsClient, JobsClient

from ..loopback import LoopbackServer, Reply, Request

JOB_ID = "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
BODY = {
    "id": JOB_ID,
    "status": "failed",
    "application_id": "a",
    "created_at": "2025-01-02T03:04:05Z",
}


def _trickler(action: str) -> LoopbackServer:
    def handler(request: Request) -> Reply:
        # A byte every 0.25 s: each read is well within the 1 s read timeout, while the
        # whole answer (~200 bytes) would take ~50 s.
        return Reply.json(200, BODY, action=action, delay=0.25)

    return LoopbackServer(handler)


SETTINGS: dict[str, Any] = {"timeout": httpx.Timeout(1.0, connect=1.0), "max_retries": 0}


@pytest.mark.parametrize("action", ["trickle_head", "trickle"])
def test_sync_attempt_ends_at_its_deadline_however_slow_the_server(action: str) -> None:
    with _trickler(action) as server, JobsClient("k", base_url=server.url, **SETTINGS) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="deadline"):
            client.get(JOB_ID)
        took = time.monotonic() - started
    # The deadline is 2 s (connect 1 + read 1); loose for a shared machine, far below ~50 s.
    assert took < 15


@pytest.mark.parametrize("action", ["trickle_head", "trickle"])
async def test_async_attempt_ends_at_its_deadline_however_slow_the_server(action: str) -> None:
    with _trickler(action) as server:
        async with AsyncJobsClient("k", base_url=server.url, **SETTINGS) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError, match="deadline"):
                await client.get(JOB_ID)
            took = time.monotonic() - started
            # The client is still usable after a cancelled attempt.
            await asyncio.sleep(0)
    assert took < 15
