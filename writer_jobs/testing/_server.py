"""FakeWriterAPI: the fake served over real HTTP on 127.0.0.1 (uvicorn, in a thread)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from types import TracebackType
from typing import Any, Self

from ._app import FakeApp, LogEntry
from ._faults import FaultPicker, Faults
from ._store import JobStore

DEFAULT_KEY = "fake-writer-key"


class FakeWriterAPI:
    """A stateful fake of the Writer async jobs API on a real loopback socket.

        with FakeWriterAPI(seed_failed=50) as api:
            with JobsClient(api.api_key, base_url=api.base_url) as client:
                ...
            assert api.processed("retry_job") == 50

    Jobs run for ``delay`` seconds, then fail with probability ``failure_ratio``.
    ``faults`` injects random faults; ``fail_next()`` queues exact ones.
    ``log`` records every request, with whether it was processed.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        seed_failed: int = 0,
        application_id: str = "demo-app",
        delay: float = 1.0,
        failure_ratio: float = 0.0,
        faults: Faults | None = None,
        seed: int = 0,
        port: int = 0,
        conflict_on_running: bool = False,
    ) -> None:
        self.api_key = api_key
        self.application_id = application_id
        self.store = JobStore(
            delay=delay,
            failure_ratio=failure_ratio,
            seed=seed,
            conflict_on_running=conflict_on_running,
        )
        self.picker = FaultPicker(faults or Faults())
        self._fake = FakeApp(self.store, self.picker, api_key)
        self.app = self._fake.app
        self.seeded: list[uuid.UUID] = (
            self.store.seed_failed(application_id, seed_failed) if seed_failed else []
        )
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"<FakeWriterAPI {self.base_url or 'not started'}>"

    @property
    def log(self) -> list[LogEntry]:
        """Every request received so far."""
        return list(self._fake.log)

    def seed_failed(self, count: int, application_id: str | None = None) -> list[uuid.UUID]:
        """Add ``count`` failed jobs (to the default application unless named)."""
        return self.store.seed_failed(application_id or self.application_id, count)

    def fail_next(self, operation: str, kind: str, times: int = 1) -> None:
        """Give the next ``times`` requests of ``operation`` (an operationId) a fault:
        429, 500, 502, 503, 504, drop_before, drop_after, malformed, spec_breaking, latency."""
        self.picker.queue(operation, kind, times)

    def processed(self, operation: str, job_id: uuid.UUID | None = None) -> int:
        """How many requests of ``operation`` (for ``job_id``) the fake actually carried out."""
        return sum(
            1
            for e in self._fake.log
            if e.operation == operation and e.processed and (job_id is None or e.job_id == job_id)
        )

    def retries_per_job(self) -> dict[uuid.UUID, int]:
        """Processed retry_job requests by job id (a job re-triggered twice shows 2)."""
        counts: dict[uuid.UUID, int] = {}
        for e in self._fake.log:
            if e.operation == "retry_job" and e.processed and e.job_id is not None:
                counts[e.job_id] = counts.get(e.job_id, 0) + 1
        return counts

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        import uvicorn

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name="fake-writer-api",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Writer API did not start")
            time.sleep(0.01)
        self.base_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving. Calling it again does nothing."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
