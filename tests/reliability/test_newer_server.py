"""A server newer than openapi.yaml: unknown status values and unknown fields on all
four operations (single objects and inside list pages), on a real loopback socket.
Every call succeeds, the new values are visible, nothing is lost (to_dict gives back
exactly what was sent), wait() keeps polling an unknown status, and the CLI shows it."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import (
    AsyncJobsClient,
    JobDetails,
    JobsClient,
    JobStatus,
    WaitTimeoutError,
    _engine,
)

from ..loopback import LoopbackServer, Reply, Request

KEY = "sk-newer-server-key"
NEW = f"zz-queued-{uuid.uuid4().hex[:6]}"  # a status no spec will ever list
CREATED = "2025-01-02T03:04:05+00:00"  # the form to_dict() writes back
IDS = [uuid.UUID(int=n) for n in (1, 2, 3)]
EXTRA = {"queue_position": 3, "region": {"name": "eu", "zones": [1, 2]}}


def job(job_id: uuid.UUID, status: str = NEW) -> dict[str, Any]:
    return {"id": str(job_id), "status": status, "created_at": CREATED, **EXTRA}


def details(job_id: uuid.UUID, status: str = NEW) -> dict[str, Any]:
    data = {"title": "t", "suggestion": "s", "tokens": 12}  # unknown field, nested too
    return {**job(job_id, status), "application_id": "my-app", "data": data, "error": None}


class NewerWriter:
    """Answers every operation with NEW and fields the spec does not have; the job
    settles to ``completed`` after ``settle_after`` GETs (never, by default)."""

    def __init__(self, settle_after: int | None = None) -> None:
        self.settle_after = settle_after
        self.gets = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        path, _, query = request.path.partition("?")
        if request.method == "POST":
            return Reply.json(202, job(IDS[0]))
        if path.startswith("/v1/applications/jobs/"):
            with self.lock:
                self.gets += 1
                done = self.settle_after is not None and self.gets > self.settle_after
            return Reply.json(200, details(IDS[0], "completed" if done else NEW))
        offset = int(dict(p.split("=") for p in query.split("&")).get("offset", "0"))
        page = [details(i) for i in IDS][offset : offset + 2]
        return Reply.json(200, {"result": page, "totalCount": len(IDS), "next_cursor": "c2"})


@pytest.fixture
def newer() -> Iterator[tuple[NewerWriter, LoopbackServer]]:
    handler = NewerWriter()
    with LoopbackServer(handler) as server:
        yield handler, server


def check_everything_kept(results: dict[str, Any]) -> None:
    assert results["retry"].status.value == NEW and results["create"].status.value == NEW
    assert results["retry"].to_dict() == job(IDS[0]) == results["create"].to_dict()
    got: JobDetails = results["get"]
    assert got.status.value == NEW and got.status not in list(JobStatus)
    assert got.to_dict() == details(IDS[0]), "nothing lost, nested unknown fields included"
    assert got.additional_properties == EXTRA
    assert [j.to_dict() for j in results["list"]] == [details(i) for i in IDS]  # two pages


def test_sync_client_keeps_unknown_values_on_all_four_operations(
    newer: tuple[NewerWriter, LoopbackServer],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, server = newer
    monkeypatch.setattr(_engine, "_warned", set())  # whatever ran before in this process
    caplog.set_level(logging.WARNING, logger="writer_jobs")
    with JobsClient(KEY, base_url=server.url) as client:
        results = {
            "retry": client.retry(IDS[0]),
            "create": client.create("my-app", {"topic": "cats"}),
            "get": client.get(IDS[0]),
            "list": list(client.list("my-app", page_size=2)),
        }
    check_everything_kept(results)
    warned = [r for r in caplog.records if NEW in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING", "once per unknown value"


def test_async_client_keeps_unknown_values_on_all_four_operations(
    newer: tuple[NewerWriter, LoopbackServer],
) -> None:
    _, server = newer

    async def main() -> dict[str, Any]:
        async with AsyncJobsClient(KEY, base_url=server.url) as client:
            return {
                "retry": await client.retry(IDS[0]),
                "create": await client.create("my-app", {"topic": "cats"}),
                "get": await client.get(IDS[0]),
                "list": [j async for j in client.list("my-app", page_size=2)],
            }

    check_everything_kept(asyncio.run(main()))


def test_wait_treats_an_unknown_status_as_not_terminal() -> None:
    handler = NewerWriter(settle_after=2)
    with LoopbackServer(handler) as server, JobsClient(KEY, base_url=server.url) as client:
        done = client.wait(IDS[0], deadline=30)
    assert done.status is JobStatus.COMPLETED and handler.gets == 3


def test_wait_on_an_unknown_status_polls_until_its_deadline(
    newer: tuple[NewerWriter, LoopbackServer],
) -> None:
    handler, server = newer
    with JobsClient(KEY, base_url=server.url) as client, pytest.raises(WaitTimeoutError) as info:
        client.wait(IDS[0], deadline=1.2)
    assert handler.gets >= 2 and NEW in str(info.value)
    assert info.value.last_job is not None and info.value.last_job.status.value == NEW


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_shows_the_unknown_status_and_fields(
    newer: tuple[NewerWriter, LoopbackServer], as_json: bool
) -> None:
    _, server = newer
    script = Path(sys.executable).parent / "writer-jobs"
    flags = ["--json"] if as_json else []
    args = [str(script), "--base-url", server.url, "--api-key", KEY, *flags, "list", "my-app"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    if as_json:
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows == [details(i) for i in IDS]
    else:
        assert result.stdout.count(NEW) == len(IDS)
