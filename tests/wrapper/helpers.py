"""Bodies and a counting mock transport for the wrapper tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx

JOB_ID = UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
CREATED = "2025-01-02T03:04:05Z"
KEY = "sk-test-SENTINEL-4f1c"


def job_body(status: str = "in_progress", job_id: UUID = JOB_ID) -> dict[str, Any]:
    return {"id": str(job_id), "status": status, "created_at": CREATED}


def details_body(status: str = "failed", job_id: UUID = JOB_ID, **extra: Any) -> dict[str, Any]:
    return {**job_body(status, job_id), "application_id": "my-app", **extra}


def writer_error(tpe: str, key: str, description: str) -> dict[str, Any]:
    return {
        "tpe": tpe,
        "errors": [{"description": description, "key": key, "extras": {}}],
        "extras": {},
    }


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def count(self, method: str, suffix: str = "") -> int:
        return sum(1 for r in self.requests if r.method == method and r.url.path.endswith(suffix))

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    @property
    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """Answer with each response (or raise each exception) in turn; repeat the last."""
    items = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = items.pop(0) if len(items) > 1 else items[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler
