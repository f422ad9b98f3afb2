"""Against a real HTTP server on 127.0.0.1: what only a socket shows."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from writer_jobs import (
    APIConnectionError,
    APITimeoutError,
    AsyncJobsClient,
    JobsClient,
    JobStatus,
)

from ..jobserver import Fault, JobServer
from ..loopback import LoopbackServer, Reply, Request
from .helpers import JOB_ID, KEY, details_body

FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05}


def _drops_the_first_answer() -> JobServer:
    """One failed job; the first POST .../retry is processed, then its connection is
    dropped before any answer."""
    server = JobServer()
    server.script("retry_job", Fault(Reply(action="close"), stage="after"))
    return server


def test_post_retry_dropped_after_processing_is_not_sent_twice() -> None:
    handler = _drops_the_first_answer()
    with LoopbackServer(handler) as server, JobsClient(KEY, base_url=server.url, **FAST) as client:
        job = client.retry(JOB_ID)
    assert job.status is JobStatus.IN_PROGRESS
    assert handler.processed["retry_job"] == 1
    assert server.count("POST") == 1 and server.count("GET") == 1


async def test_async_post_retry_dropped_after_processing_is_not_sent_twice() -> None:
    handler = _drops_the_first_answer()
    with LoopbackServer(handler) as server:
        async with AsyncJobsClient(KEY, base_url=server.url, **FAST) as client:
            job = await client.retry(JOB_ID)
    assert job.status is JobStatus.IN_PROGRESS
    assert handler.processed["retry_job"] == 1


def test_read_timeout_is_retried_then_typed() -> None:
    def stall(request: Request) -> Reply:
        return Reply.json(200, details_body(), action="stall", delay=20)

    with (
        LoopbackServer(stall) as server,
        JobsClient(KEY, base_url=server.url, timeout=0.2, max_retries=1, **FAST) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="gave up after 2 attempts"):
            client.get(JOB_ID)
        elapsed = time.monotonic() - started
    assert server.count("GET") == 2
    # The server stalls 20 s: returning well before proves the client timed out.
    assert elapsed < 10, "the client waited for the stalled server instead of timing out"


def test_per_call_timeout_overrides_the_client_timeout() -> None:
    def stall(request: Request) -> Reply:
        return Reply.json(200, details_body(), action="stall", delay=0.5)

    with (
        LoopbackServer(stall) as server,
        JobsClient(KEY, base_url=server.url, timeout=0.1, max_retries=0) as client,
    ):
        with pytest.raises(APITimeoutError):
            client.get(JOB_ID)
        assert client.get(JOB_ID, timeout=5).status is JobStatus.FAILED


def test_retry_after_is_honoured_on_the_wire() -> None:
    replies = [Reply.json(429, {}, headers={"Retry-After": "1"}), Reply.json(200, details_body())]

    with (
        LoopbackServer(lambda r: replies.pop(0)) as server,
        JobsClient(KEY, base_url=server.url) as client,
    ):
        started = time.monotonic()
        client.get(JOB_ID)
        elapsed = time.monotonic() - started
    assert server.count("GET") == 2
    assert 0.9 <= elapsed < 5.0


def test_connection_refused_is_typed_and_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = JobsClient(KEY, base_url=f"http://127.0.0.1:{port}", max_retries=2, **FAST)
    with client, pytest.raises(APIConnectionError, match="not sent") as info:
        client.retry(JOB_ID)
    assert info.value.may_have_been_processed is False
    assert info.value.attempts == 3


def test_body_cut_mid_way_is_retried_for_get() -> None:
    replies = [Reply.json(200, details_body(), action="cut"), Reply.json(200, details_body())]
    with (
        LoopbackServer(lambda r: replies.pop(0)) as server,
        JobsClient(KEY, base_url=server.url, **FAST) as client,
    ):
        assert client.get(JOB_ID).status is JobStatus.FAILED
    assert server.count("GET") == 2


def test_connections_are_reused() -> None:
    with (
        LoopbackServer(lambda r: Reply.json(200, details_body())) as server,
        JobsClient(KEY, base_url=server.url) as client,
    ):
        for _ in range(20):
            client.get(JOB_ID)
    assert server.count("GET") == 20 and server.connections == 1


def test_logging_shows_attempts_and_retries_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="writer_jobs")
    replies = [Reply.json(503, {}), Reply.json(200, details_body())]
    with (
        LoopbackServer(lambda r: replies.pop(0)) as server,
        JobsClient(KEY, base_url=server.url, **FAST) as client,
    ):
        client.get(JOB_ID)
    records = [r for r in caplog.records if r.name == "writer_jobs"]
    assert any(r.levelno == logging.DEBUG and "attempt 1 of 6" in r.getMessage() for r in records)
    retry_logs = [r for r in records if r.levelno == logging.INFO]
    assert retry_logs and "status 503" in retry_logs[0].getMessage()
    assert "retrying in" in retry_logs[0].getMessage()
    assert KEY not in caplog.text
