"""A precise misbehaving Writer: a loopback server with one job and a script of faults
per operation, counting what it actually processed."""

from __future__ import annotations

import collections
import datetime
import json
import threading
import time
import uuid
from typing import Any

import attrs

from .loopback import Reply, Request

JOB_ID = uuid.UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
NEW_JOB_ID = uuid.UUID("0b5e7a8c-1d2f-4e3a-9b4c-5d6e7f8a9b0c")
CREATED = "2025-01-02T03:04:05Z"
OPERATIONS = ("retry_job", "get_job", "list_jobs", "create_job")


@attrs.frozen
class Fault:
    """A reply given ``before`` or ``after`` the operation is carried out."""

    reply: Reply
    stage: str = "before"


def _operation(request: Request) -> str:
    path = request.path.split("?")[0]
    if request.method == "POST" and path.endswith("/retry"):
        return "retry_job"
    if request.method == "POST":
        return "create_job"
    if path.startswith("/v1/applications/jobs/"):
        return "get_job"
    return "list_jobs"


class JobServer:
    """One failed job; each operation answers from its fault script, then normally."""

    def __init__(self) -> None:
        self.status = "failed"
        # As the real service: the job's last change, on the server's clock.
        self.updated_at = time.time() - 3600
        self.processed: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()
        self.scripts: dict[str, collections.deque[Fault]] = {
            op: collections.deque() for op in OPERATIONS
        }
        self.lock = threading.Lock()

    def script(self, operation: str, *faults: Fault) -> None:
        self.scripts[operation].extend(faults)

    def _details(self, job_id: uuid.UUID) -> dict[str, Any]:
        return {
            "id": str(job_id),
            "status": self.status,
            "application_id": "my-app",
            "created_at": CREATED,
            "updated_at": datetime.datetime.fromtimestamp(
                self.updated_at, datetime.UTC
            ).isoformat(),
        }

    def _normal(self, operation: str) -> Reply:
        if operation == "retry_job":
            if self.status != "failed":
                body = {
                    "tpe": "Conflict",
                    "errors": [{"description": "not failed", "key": "fail.conflict", "extras": {}}],
                }
                return Reply(409, json.dumps(body).encode())
            self.status = "in_progress"
            self.updated_at = time.time()
            return Reply.json(
                202, {"id": str(JOB_ID), "status": "in_progress", "created_at": CREATED}
            )
        if operation == "create_job":
            return Reply.json(
                202, {"id": str(NEW_JOB_ID), "status": "in_progress", "created_at": CREATED}
            )
        if operation == "get_job":
            return Reply.json(200, self._details(JOB_ID))
        return Reply.json(200, {"result": [self._details(JOB_ID)], "totalCount": 1})

    def __call__(self, request: Request) -> Reply:
        operation = _operation(request)
        with self.lock:
            self.received[operation] += 1
            script = self.scripts[operation]
            fault = script.popleft() if script else None
            if fault is not None and fault.stage == "before":
                return fault.reply
            normal = self._normal(operation)
            if normal.status < 300:
                self.processed[operation] += 1
            if fault is not None:
                return fault.reply
            return normal
