from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from writer_jobs import AsyncJobsClient, JobsClient

from .helpers import KEY, Recorder

# The account budget is tested on its own (test_budget.py): here, no pacing.
FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.005, "rate_limit": None}


@pytest.fixture
def make_client() -> Iterator[Callable[..., JobsClient]]:
    made: list[JobsClient] = []

    def make(recorder: Recorder, **settings: Any) -> JobsClient:
        client = JobsClient(
            KEY,
            base_url="https://api.test",
            http_client=httpx.Client(transport=recorder.transport),
            **{**FAST, **settings},
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_async_client() -> Callable[..., AsyncJobsClient]:
    def make(recorder: Recorder, **settings: Any) -> AsyncJobsClient:
        return AsyncJobsClient(
            KEY,
            base_url="https://api.test",
            http_client=httpx.AsyncClient(transport=recorder.async_transport),
            **{**FAST, **settings},
        )

    return make


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep the sync client makes, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("writer_jobs._client.time.sleep", recorded.append)
    return recorded


def respond(status: int, payload: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)
