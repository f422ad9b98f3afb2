"""Waits end whatever the server's lists and timestamps fail to prove: a server that
ignores ``?status=``, a job whose ``updated_at`` is missing or never changes, a retry
accepted that does nothing, a status the spec does not list. Each wait ends with the
status the server shows (never a hang), and the job is triggered once."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from writer_jobs import JobsClient, JobStatus, ServiceUnavailableError
from writer_jobs.bulk import _watcher

from ..jobserver import JOB_ID, JobServer
from ..loopback import LoopbackServer, Reply, Request

KEY = "test-key-watch-ends"
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05}


class EndingServer(JobServer):
    """The one failed job of JobServer (whose list ignores ``?status=``): a retry
    starts it and ``finish_after`` seconds later it ends as ``end``. ``stamp``:
    "new" (updated_at moves), "frozen" (updated_at never changes from the failure
    retried) or "missing" (bodies after the retry carry none). ``apply_retry=False``:
    the retry is answered 202 and the job left as it is."""

    def __init__(
        self,
        *,
        end: str = "failed",
        stamp: str = "new",
        apply_retry: bool = True,
        finish_after: float = 0.2,
    ) -> None:
        super().__init__()
        self.end, self.stamp, self.apply_retry = end, stamp, apply_retry
        self.finish_after = finish_after
        self.baseline = self.updated_at
        self.retried_at: float | None = None

    def _details(self, job_id: Any) -> dict[str, Any]:
        details = super()._details(job_id)
        if self.stamp == "missing" and self.retried_at is not None:
            del details["updated_at"]
        return details

    def _normal(self, operation: str) -> Reply:
        if operation == "retry_job" and self.status == "failed":
            self.retried_at = time.time()
            if not self.apply_retry:
                return Reply.json(
                    202, {"id": str(JOB_ID), "status": "in_progress", "created_at": "2025"}
                )
        reply = super()._normal(operation)
        if self.stamp == "frozen":
            self.updated_at = self.baseline
        return reply

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            retried = self.retried_at
            if (
                self.status == "in_progress"
                and retried is not None
                and time.time() >= retried + self.finish_after
            ):
                self.status = self.end
                if self.stamp != "frozen":
                    self.updated_at = time.time()
        query = parse_qs(urlsplit(request.path).query)
        if request.method == "GET" and int(query.get("offset", ["0"])[0]) > 0:
            return Reply.json(200, {"result": [], "totalCount": 1})  # offset honoured
        return super().__call__(request)


@pytest.fixture(autouse=True)
def _settle_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bound is rounds and seconds; the rounds alone keep what these tests show.
    monkeypatch.setattr(_watcher, "SETTLE_SECONDS", 0.5, raising=False)


def _retry_and_wait(server: EndingServer) -> tuple[dict[str, int], int]:
    with (
        LoopbackServer(server) as loop,
        JobsClient(KEY, base_url=loop.url, **FAST) as client,
    ):
        summary = client.retry_failed("my-app", wait=True, wait_deadline=60)
    return summary.statuses, server.processed["retry_job"]


@pytest.mark.timeout(90)
def test_a_server_ignoring_the_status_filter_does_not_keep_a_failed_job_running() -> None:
    statuses, retries = _retry_and_wait(EndingServer(end="failed"))
    assert statuses == {"failed": 1} and retries == 1


@pytest.mark.timeout(90)
def test_a_refailure_with_a_frozen_updated_at_ends_the_wait_as_failed() -> None:
    statuses, retries = _retry_and_wait(EndingServer(end="failed", stamp="frozen"))
    assert statuses == {"failed": 1} and retries == 1


@pytest.mark.timeout(90)
def test_a_refailure_without_updated_at_ends_the_wait_as_failed() -> None:
    statuses, retries = _retry_and_wait(EndingServer(end="failed", stamp="missing"))
    assert statuses == {"failed": 1} and retries == 1


@pytest.mark.timeout(90)
def test_a_retry_accepted_that_changes_nothing_ends_the_wait_as_failed() -> None:
    statuses, retries = _retry_and_wait(EndingServer(apply_retry=False))
    assert statuses == {"failed": 1} and retries == 1  # one POST, answered 202


@pytest.mark.timeout(90)
def test_a_status_the_spec_does_not_list_ends_the_wait_with_that_status() -> None:
    statuses, retries = _retry_and_wait(EndingServer(end="canceled"))
    assert statuses == {"canceled": 1} and retries == 1


@pytest.mark.timeout(90)
def test_wait_many_ends_on_a_status_the_spec_does_not_list() -> None:
    server = EndingServer(end="canceled", stamp="frozen")
    with (
        LoopbackServer(server) as loop,
        JobsClient(KEY, base_url=loop.url, **FAST) as client,
    ):
        client.retry(JOB_ID)
        ended = list(client.wait_many([JOB_ID], deadline=60))
    assert [j.status.value for j in ended] == ["canceled"]
    assert not ended[0].status.known and ended[0].status is not JobStatus.FAILED


class RateLimitedServer(JobServer):
    """The job is running; every list is answered 429 without ``Retry-After``."""

    def __init__(self) -> None:
        super().__init__()
        self.status = "in_progress"

    def __call__(self, request: Request) -> Reply:
        if request.method == "GET" and "/jobs?" in request.path:
            body = {"tpe": "TooManyRequests", "errors": [{"description": "slow down"}]}
            return Reply.json(429, body)
        return super().__call__(request)


@pytest.mark.timeout(120)
def test_nothing_but_429s_longer_than_max_unavailable_stops_wait_many() -> None:
    with (
        LoopbackServer(RateLimitedServer()) as loop,
        JobsClient(KEY, base_url=loop.url, **FAST) as client,
        pytest.raises(ServiceUnavailableError, match="only 429") as info,
    ):
        list(client.wait_many([JOB_ID], max_unavailable=1.0))
    assert info.value.answered and "max_unavailable=1 s" in str(info.value)
