"""A server newer than the spec: unknown status values and unknown fields on all four
operations, alone and inside list pages. Every call succeeds, the values are visible,
nothing is lost; an unknown status is not an end, and bulk never retries it."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import pytest

from writer_jobs import (
    AsyncJobsClient,
    InvalidArgumentError,
    Job,
    JobDetails,
    JobsClient,
    JobStatus,
)

from ..loopback import LoopbackServer, Reply, Request

JOB = uuid.UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
CREATED = "2025-01-02T03:04:05Z"


class NewerServer:
    """Answers everything with status ``queued`` and fields this spec does not have."""

    def __init__(self) -> None:
        self.gets = 0
        self.lock = threading.Lock()

    def job(self, status: str = "queued") -> dict[str, Any]:
        return {
            "id": str(JOB),
            "status": status,
            "application_id": "my-app",
            "created_at": CREATED,
            "updated_at": CREATED,
            "queue_position": 3,
            "labels": {"team": "growth"},
        }

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            if request.method == "POST":
                return Reply.json(202, {**self.job(), "priority": "high"})
            if "/applications/jobs/" in request.path:
                self.gets += 1
                # queued for two polls, then completed
                return Reply.json(200, self.job("queued" if self.gets <= 2 else "completed"))
            return Reply.json(200, {"result": [self.job()], "totalCount": 1, "next_cursor": "abc"})


@pytest.fixture
def server() -> Any:
    handler = NewerServer()
    with LoopbackServer(handler) as loop:
        loop.handler_state = handler  # type: ignore[attr-defined]
        yield loop


def test_every_operation_keeps_unknown_values_and_fields(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "writer_jobs")
    with JobsClient("k", base_url=server.url) as client:
        retried = client.retry(JOB)
        created = client.create("my-app", {"topic": "cats"})
        got = client.get(JOB)
        listed = list(client.list("my-app"))
    jobs: list[Job | JobDetails] = [retried, created, got, *listed]
    for job in jobs:
        assert job.status == "queued" and job.status.value == "queued"
        assert not job.status.known and job.status != JobStatus.IN_PROGRESS
        assert job.to_dict()["status"] == "queued", "written back unchanged"
    assert got.additional_properties == {"queue_position": 3, "labels": {"team": "growth"}}
    assert retried.additional_properties["priority"] == "high"
    assert len(listed) == 1 and listed[0].additional_properties["queue_position"] == 3
    warnings = [r for r in caplog.records if "queued" in r.getMessage()]
    assert len(warnings) <= 1, "a warning once per unknown value, not per call"


async def test_async_too(server: LoopbackServer) -> None:
    async with AsyncJobsClient("k", base_url=server.url) as client:
        assert (await client.get(JOB)).status == "queued"
        assert [j.status.value async for j in client.list("my-app")] == ["queued"]


def test_wait_treats_an_unknown_status_as_not_ended(server: LoopbackServer) -> None:
    """`queued` is before running: wait() keeps polling until a listed end."""
    with JobsClient("k", base_url=server.url) as client:
        done = client.wait(JOB, deadline=30)
    assert done.status is JobStatus.COMPLETED


def test_requests_stay_closed() -> None:
    with (
        JobsClient("k", base_url="http://127.0.0.1:9") as client,
        pytest.raises(InvalidArgumentError, match="status must be one of"),
    ):
        list(client.list("my-app", status="queued"))


def test_the_cli_prints_unknown_values(server: LoopbackServer) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "writer-jobs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    result = subprocess.run(
        [str(script), "--base-url", server.url, "--api-key", "k", "--json", "get", str(JOB)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.splitlines()[0])
    assert line["status"] == "queued" and line["queue_position"] == 3
