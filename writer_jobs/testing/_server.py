"""FakeWriterAPI: the fake served over real HTTP on 127.0.0.1 (uvicorn, in a thread)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import attrs

from writer_jobs._generated.models import JobStatus

from ._app import FakeApp, LogEntry
from ._conditions import Condition, OtherCreator, Schedule
from ._faults import FaultPicker, Faults
from ._store import FakeJob, JobStore

DEFAULT_KEY = "fake-writer-key"


class FakeWriterAPI:
    """A stateful fake of the Writer async jobs API on a real loopback socket.

        with FakeWriterAPI(seed_failed=50) as api:
            with JobsClient(api.api_key, base_url=api.base_url) as client:
                ...
            assert api.processed("retry_job") == 50

    Jobs run for ``delay`` seconds, then fail with probability ``failure_ratio``.
    ``faults`` injects random faults; ``fail_next()`` queues exact ones.
    ``log`` records every request, with whether it was processed (and ``at``, a
    ``time.monotonic()`` moment, so a test can check nothing ran after some time).

    Conditions the real API produces, all off by default:

    - ``clock_offset``: seconds added to the server's clock (negative: behind); it
      shifts every timestamp and the ``Date`` header, which every response carries
      (whole seconds, truncated) unless ``send_date_header`` is False.
    - ``date_offset``: seconds added to the ``Date`` header only: the API's front
      clock and the clock that stamps jobs disagree (positive: jobs look older).
    - ``timestamp_resolution``: job timestamps truncated to this many seconds (1.0:
      a server that stores whole seconds).
    - ``seed_failed_age``: the seeded jobs failed this many seconds ago.
    - ``fail_again_after``: every job retried through the API fails again this many
      seconds after the retry (0.0: at once; ``updated_at`` is still later than the
      retry's). Jobs made by create keep ``delay`` and ``failure_ratio``.
    - ``fail_again_clock_offset``: seconds added to a re-failure's ``updated_at``
      (negative: stamped by a job clock behind the one that stamped the failure
      retried, so it can be earlier than the listed failure and the retry).
    - ``max_page_size``: list pages are silently capped at this many jobs;
      ``pagination_mode`` is what ``pagination.limit`` says: "effective" (the
      capped limit), "requested" (the limit asked for) or "omitted" (no
      pagination object). ``send_total_count=False`` leaves totalCount out;
      ``total_count_error`` is added to it (a count that lags the list).
    - ``omit_updated_at``: operation ids ("list_jobs", "get_job") whose job bodies
      leave out the optional updated_at.
    - ``conditions``: what happens over time, in seconds from ``start()``:
      ``OtherConsumer(per_minute, start, duration)``, another program spending the
      same account's window (with ``rate_limit``), and ``Outage(start, duration,
      kind)``, the service answering 503 to everything or closing connections
      unanswered, and ``OtherCreator(per_minute, start, duration)``, another program
      creating jobs in the application (``other_created`` lists them);
      ``schedule()`` adds more while it runs (``elapsed()`` is now).
    - ``on_list``: settable hook ``(api, application_id, status, offset, limit)``
      called before each list page is computed (``limit`` as requested), e.g. to
      change statuses between page requests; ``retry_as_other(job_id)`` re-triggers
      a failed job as another client would (logged with ``by_other=True``).
    """

    #: Called before each list page is computed: (api, application_id, status,
    #: offset, requested limit).
    on_list: Callable[[FakeWriterAPI, str, JobStatus | None, int, int], None] | None

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_KEY,
        seed_failed: int = 0,
        application_id: str = "demo-app",
        delay: float | tuple[float, float] = 1.0,
        failure_ratio: float = 0.0,
        faults: Faults | None = None,
        seed: int = 0,
        port: int = 0,
        conflict_on_running: bool = False,
        clock_offset: float = 0.0,
        send_date_header: bool = True,
        date_offset: float = 0.0,
        timestamp_resolution: float = 0.0,
        seed_failed_age: float = 0.0,
        fail_again_after: float | None = None,
        fail_again_clock_offset: float = 0.0,
        max_page_size: int | None = None,
        pagination_mode: str = "effective",
        send_total_count: bool = True,
        total_count_error: int = 0,
        omit_updated_at: frozenset[str] = frozenset(),
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        rate_limit_retry_after: bool = False,
        newest_first: bool = False,
        seed_completed: int = 0,
        conditions: Sequence[Condition] = (),
    ) -> None:
        self.api_key = api_key
        self.application_id = application_id
        self.store = JobStore(
            delay=delay,
            failure_ratio=failure_ratio,
            seed=seed,
            conflict_on_running=conflict_on_running,
            clock_offset=clock_offset,
            fail_again_after=fail_again_after,
            fail_again_clock_offset=fail_again_clock_offset,
        )
        self.picker = FaultPicker(faults or Faults())
        self._schedule = Schedule()
        self._schedule.add(*(self._in_app(c, application_id) for c in conditions))
        self._fake = FakeApp(
            self.store,
            self.picker,
            api_key,
            send_date_header=send_date_header,
            date_offset=date_offset,
            timestamp_resolution=timestamp_resolution,
            max_page_size=max_page_size,
            pagination_mode=pagination_mode,
            send_total_count=send_total_count,
            total_count_error=total_count_error,
            omit_updated_at=frozenset(omit_updated_at),
            rate_limit=rate_limit,
            rate_window=rate_window,
            rate_limit_retry_after=rate_limit_retry_after,
            schedule=self._schedule,
        )
        self.store.newest_first = newest_first
        if seed_completed:
            self.store.seed_completed(application_id, seed_completed)
        self.on_list = None
        self._fake.on_list = self._call_on_list
        self.app = self._fake.app
        self.seeded: list[uuid.UUID] = (
            self.store.seed_failed(application_id, seed_failed, seed_failed_age)
            if seed_failed
            else []
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

    @property
    def rate_limited(self) -> int:
        """Requests refused by the account's rate limit."""
        return sum(1 for e in self._fake.log if e.fault == "rate_limit")

    @property
    def other_admitted(self) -> int:
        """Requests of other programs (``OtherConsumer``) the account's window admitted."""
        return self._fake.other_admitted

    @property
    def unavailable(self) -> int:
        """Requests that met an outage (answered 503, or their connection closed)."""
        return sum(1 for e in self._fake.log if e.fault == "outage")

    def schedule(self, *conditions: Condition) -> None:
        """Add conditions (``OtherConsumer``, ``OtherCreator``, ``Outage``), timed from
        ``start()``: ``api.schedule(Outage(api.elapsed() + 1, 5))`` is an outage in a
        second."""
        self._schedule.add(*(self._in_app(c, self.application_id) for c in conditions))

    @staticmethod
    def _in_app(condition: Condition, application_id: str) -> Condition:
        if isinstance(condition, OtherCreator) and condition.application_id is None:
            return attrs.evolve(condition, application_id=application_id)
        return condition

    @property
    def other_created(self) -> list[uuid.UUID]:
        """Jobs other programs created (``OtherCreator``), in the order they were due."""
        return list(self._fake.other_created)

    def elapsed(self) -> float:
        """Seconds since ``start()``: the clock conditions are scheduled on."""
        return self._schedule.elapsed()

    def requests_per_operation(self) -> dict[str, int]:
        """Every request received, processed or not, by operation id."""
        counts: dict[str, int] = {}
        for e in self._fake.log:
            counts[e.operation] = counts.get(e.operation, 0) + 1
        return counts

    def seed_failed(self, count: int, application_id: str | None = None) -> list[uuid.UUID]:
        """Add ``count`` failed jobs (to the default application unless named)."""
        return self.store.seed_failed(application_id or self.application_id, count)

    def fail_next(self, operation: str, kind: str, times: int = 1) -> None:
        """Give the next ``times`` requests of ``operation`` (an operationId) a fault:
        429, 500, 502, 503, 504, drop_before, drop_after, drop_late (the connection
        closed, the request carried out ``Faults.late`` seconds later), malformed,
        spec_breaking, latency."""
        self.picker.queue(operation, kind, times)

    def clear_faults(self) -> None:
        """Forget the faults queued by fail_next() and not used yet."""
        self.picker.clear()

    def processed(self, operation: str, job_id: uuid.UUID | None = None) -> int:
        """How many requests of ``operation`` (for ``job_id``) the fake actually carried out."""
        return sum(
            1
            for e in self._fake.log
            if e.operation == operation and e.processed and (job_id is None or e.job_id == job_id)
        )

    def retries_per_job(self, *, include_other: bool = True) -> dict[uuid.UUID, int]:
        """Processed retry_job requests by job id (a job re-triggered twice shows 2);
        ``include_other=False`` leaves out those made by ``retry_as_other``."""
        counts: dict[uuid.UUID, int] = {}
        for e in self._fake.log:
            if e.operation != "retry_job" or not e.processed or e.job_id is None:
                continue
            if include_other or not e.by_other:
                counts[e.job_id] = counts.get(e.job_id, 0) + 1
        return counts

    def create_as_other(self, application_id: str | None = None, *, ago: float = 0.0) -> FakeJob:
        """Create a job as another program would, in ``application_id`` (the default
        application unless named), ``ago`` seconds ago; listed in ``other_created``."""
        return self._fake.create_as_other(application_id or self.application_id, ago=ago)

    def retry_as_other(self, job_id: uuid.UUID) -> FakeJob:
        """Re-trigger failed job ``job_id`` as another client would: processed by the
        store (``fail_again_after`` applies) and logged as retry_job with ``by_other``.
        Raises StoreError (404, 409) as the API would answer."""
        return self._fake.retry_as_other(job_id)

    def _call_on_list(
        self, application_id: str, status: JobStatus | None, offset: int, limit: int
    ) -> None:
        if self.on_list is not None:
            self.on_list(self, application_id, status, offset, limit)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving on 127.0.0.1 (a free port unless one was given)."""
        import uvicorn

        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose protocol says
        # TCP, and without it each answer (headers and body written apart) waits ~40 ms
        # for the client's delayed ACK: a fake 40 times slower than the service.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
            date_header=False,  # the app sends Date from its own (offset) clock
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
        self._schedule.start()
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
