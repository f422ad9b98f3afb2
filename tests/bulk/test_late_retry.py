"""A retry POST whose answer is lost and which the server applies late (after the
client's timeout): the check that decides "it did not land, post again" waits a
settle bound after the failure, so the job is triggered once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from writer_jobs import JobsClient, JobStatus

from ..jobserver import JOB_ID, JobServer
from ..loopback import LoopbackServer, Reply, Request

KEY = "test-key-late-retry"
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05}


class LateRetryServer(JobServer):
    """The first retry POST is applied ``late`` seconds after it arrives, and its
    answer never comes (the connection is held past the client's timeout)."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late
        self.applied = 0
        self._first = True

    def _apply(self) -> None:
        with self.lock:
            if self.status == "failed":
                self.applied += 1
                self.status, self.updated_at = "in_progress", time.time()

    def __call__(self, request: Request) -> Reply:
        if request.method == "POST" and request.path.endswith("/retry"):
            with self.lock:
                first, self._first = self._first, False
            if first:
                threading.Timer(self.late, self._apply).start()
                return Reply(action="stall", delay=self.late + 2)
            with self.lock:
                if self.status == "failed":
                    self.applied += 1
        if request.method == "GET" and "offset=0" not in request.path and "offset" in request.path:
            return Reply.json(200, {"result": [], "totalCount": 1})  # pages past the one job
        return super().__call__(request)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bulk", [False, True], ids=["retry", "retry_failed"])
def test_a_retry_applied_after_the_timeout_is_not_posted_again(bulk: bool) -> None:
    server = LateRetryServer(late=2.5)
    with (
        LoopbackServer(server) as loop,
        JobsClient(KEY, base_url=loop.url, timeout=1.0, max_retries=3, **FAST) as client,
    ):
        if bulk:
            summary = client.retry_failed("my-app")
            assert summary.outcomes == {"retried": 1}
        else:
            assert client.retry(JOB_ID).status is JobStatus.IN_PROGRESS
        posts = loop.count("POST", "/retry")
    # Each POST the server accepts triggers the job (the late one too, whatever the job
    # is by then): one POST, one trigger.
    assert posts == 1 and server.applied == 1, "the job was triggered once"
