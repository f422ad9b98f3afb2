"""The fake Writer jobs API as a Starlette app: the four operations of openapi.yaml."""

from __future__ import annotations

import asyncio
import collections
import datetime
import email.utils
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from writer_jobs._generated.models import JobList, JobListPagination, JobStatus
from writer_jobs._generated.types import UNSET

from ._conditions import OtherConsumer, Outage, Schedule
from ._faults import AFTER, LATE, FaultPicker
from ._store import FakeJob, JobStore, StoreError

MAX_LIMIT = 1000
PAGINATION_MODES = frozenset({"effective", "requested", "omitted"})
#: Operations whose job bodies can leave out updated_at.
OMITTABLE_UPDATED_AT = frozenset({"list_jobs", "get_job"})
#: A key on a response-start message: send it without a Date header (a dropped connection).
_NO_DATE = "fake.no_date"

#: Called before a list page is computed: application_id, status, offset, requested limit.
ListHook = Callable[[str, JobStatus | None, int, int], None]


@attrs.frozen
class LogEntry:
    """One request the fake received: what it was, what it answered, whether it ran."""

    method: str
    path: str
    operation: str
    status: int | None  # None when the connection was dropped
    processed: bool
    fault: str | None
    job_id: uuid.UUID | None
    at: float
    #: The client's port: distinct ports are distinct connections.
    client_port: int | None = None
    #: True for a retry made by "another client" (FakeWriterAPI.retry_as_other).
    by_other: bool = False


class InjectedDrop(ConnectionAbortedError):
    """Raised inside the app to make the server drop the connection mid-response."""


class _DropConnection:
    """Start a response, then fail: the server closes the connection with the body unsent."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                _NO_DATE: True,
            }
        )
        raise InjectedDrop("fault injection: connection dropped")


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class _DateHeader:
    """Adds ``Date`` from the server's clock to every response (none if disabled)."""

    def __init__(self, app: ASGIApp, now: Callable[[], datetime.datetime], enabled: bool) -> None:
        self.app = app
        self.now = now
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                no_date = message.pop(_NO_DATE, False)
                if self.enabled and not no_date:
                    # Whole seconds, truncated down, as HTTP dates are.
                    date = email.utils.format_datetime(
                        self.now().replace(microsecond=0), usegmt=True
                    )
                    headers = [*message.get("headers", []), (b"date", date.encode())]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_dated)


def _error(err: StoreError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


def _bad_request(description: str) -> StoreError:
    return StoreError(400, "BadRequest", "fail.badRequest.invalidParameters", description)


def _job_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _bad_request(f"job_id must be a UUID, received {raw[:80]!r}") from None


def _int_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an integer, received {raw[:40]!r}") from None
    if not 0 <= value <= maximum:
        raise _bad_request(f"{name} must be between 0 and {maximum}, received {value}")
    return value


Handler = Callable[[Request], Awaitable[tuple[Any, int, uuid.UUID | None]]]


class FakeApp:
    """Builds the Starlette app around a JobStore, a FaultPicker and a request log.

    The list page size is capped at ``max_page_size``; ``pagination_mode`` says
    what ``pagination.limit`` reports ("effective": the capped limit, "requested":
    the limit asked for, "omitted": no pagination object). ``on_list`` is called
    before each list page is computed.
    """

    def __init__(
        self,
        store: JobStore,
        picker: FaultPicker,
        api_key: str,
        *,
        send_date_header: bool = True,
        date_offset: float = 0.0,
        timestamp_resolution: float = 0.0,
        max_page_size: int | None = None,
        pagination_mode: str = "effective",
        send_total_count: bool = True,
        total_count_error: int = 0,
        omit_updated_at: frozenset[str] = frozenset(),
        rate_limit: int | None = None,
        rate_window: float = 60.0,
        rate_limit_retry_after: bool = False,
        schedule: Schedule | None = None,
    ) -> None:
        if pagination_mode not in PAGINATION_MODES:
            raise ValueError(
                f"pagination_mode must be one of {sorted(PAGINATION_MODES)}, "
                f"received {pagination_mode!r}"
            )
        if not omit_updated_at <= OMITTABLE_UPDATED_AT:
            raise ValueError(
                f"omit_updated_at takes {sorted(OMITTABLE_UPDATED_AT)}, "
                f"received {sorted(omit_updated_at)}"
            )
        if max_page_size is not None and max_page_size < 1:
            raise ValueError(f"max_page_size must be >= 1, received {max_page_size!r}")
        self.store = store
        self.picker = picker
        self.api_key = api_key
        self.max_page_size = max_page_size
        self.pagination_mode = pagination_mode
        self.send_total_count = send_total_count
        self.total_count_error = total_count_error
        self.omit_updated_at = omit_updated_at
        self.timestamp_resolution = timestamp_resolution
        self.on_list: ListHook | None = None
        self.log: list[LogEntry] = []
        # The account's limit: a sliding window over the requests it let through.
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.rate_limit_retry_after = rate_limit_retry_after
        self._admitted: collections.deque[float] = collections.deque()
        #: Outages and other programs on the account, over time.
        self.schedule = schedule or Schedule()
        #: Per other program: [its next turn (monotonic), requests it is behind].
        self._consumers: dict[int, list[float]] = {}
        #: Per other creator: the moment (monotonic) its next job is due.
        self._creators: dict[int, float] = {}
        #: Jobs made by other programs creating in an application (OtherCreator).
        self.other_created: list[uuid.UUID] = []
        #: Requests to carry out later ("drop_late"), kept from the garbage collector.
        self._late: set[asyncio.Future[None]] = set()
        #: Requests of other programs the account's window admitted / refused.
        self.other_admitted = 0
        self.other_refused = 0
        self.app = Starlette(
            middleware=[
                Middleware(
                    _DateHeader,
                    now=lambda: store.now() + datetime.timedelta(seconds=date_offset),
                    enabled=send_date_header,
                )
            ],
            routes=[
                Route(
                    "/v1/applications/jobs/{job_id}/retry",
                    self._op("retry_job", self._retry),
                    methods=["POST"],
                ),
                Route(
                    "/v1/applications/jobs/{job_id}",
                    self._op("get_job", self._get),
                    methods=["GET"],
                ),
                Route(
                    "/v1/applications/{application_id}/jobs",
                    self._op("create_job", self._create),
                    methods=["POST"],
                ),
                Route(
                    "/v1/applications/{application_id}/jobs",
                    self._op("list_jobs", self._list),
                    methods=["GET"],
                ),
                # Anything else is logged too, so a test can prove nothing reached it.
                Route(
                    "/{path:path}",
                    self._unknown,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                ),
            ],
        )

    def retry_as_other(self, job_id: uuid.UUID) -> FakeJob:
        """Retry ``job_id`` as another client would; logged as retry_job with by_other."""
        status, processed = 202, True
        try:
            return self.store.retry(job_id)
        except StoreError as err:
            status, processed = err.status, False
            raise
        finally:
            path = f"/v1/applications/jobs/{job_id}/retry"
            at = time.monotonic()
            self.log.append(
                LogEntry(
                    "POST", path, "retry_job", status, processed, None, job_id, at, by_other=True
                )
            )

    def _record(
        self,
        request: Request,
        operation: str,
        status: int | None,
        processed: bool,
        fault: str | None,
        job_id: uuid.UUID | None,
    ) -> None:
        self.log.append(
            LogEntry(
                request.method,
                request.url.path,
                operation,
                status,
                processed,
                fault,
                job_id,
                time.monotonic(),
                request.client.port if request.client else None,
            )
        )

    async def _unknown(self, request: Request) -> Response:
        self._record(request, "unknown", 404, False, None, None)
        return _error(StoreError(404, "NotFound", "fail.notFound.resource", "No such route."))

    def _op(self, operation: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw_id = request.path_params.get("job_id")
            try:
                job_id = uuid.UUID(raw_id) if raw_id else None
            except ValueError:
                job_id = None
            self._other_creators(time.monotonic())
            outage = self.schedule.outage(time.monotonic())
            if outage is not None:
                return await self._unavailable(request, operation, job_id, outage, handler)
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                err = StoreError(
                    401, "Unauthorized", "fail.unauthorized.badToken", "Invalid or missing API key."
                )
                self._record(request, operation, 401, False, None, job_id)
                return _error(err)
            if (limited := self._over_the_limit()) is not None:
                self._record(request, operation, 429, False, "rate_limit", job_id)
                err = StoreError(
                    429, "TooManyRequests", "fail.tooManyRequests.rateLimit", "Rate limit exceeded."
                )
                wait = {"Retry-After": str(math.ceil(limited))}
                return _error(err, wait if self.rate_limit_retry_after else None)
            fault = self.picker.pick(operation)
            if fault == "latency":
                await asyncio.sleep(self.picker.faults.latency)
                fault = None
            if fault in LATE:
                return await self._late_request(request, operation, job_id, handler)
            if fault is not None and fault not in AFTER:
                return self._before(request, operation, fault, job_id)
            try:
                body, status, job_id = await handler(request)
            except StoreError as err:
                self._record(request, operation, err.status, False, fault, job_id)
                return _error(err)
            if fault is not None:
                return self._after(request, operation, fault, job_id, body, status)
            self._record(request, operation, status, True, None, job_id)
            return JSONResponse(body, status_code=status)

        return endpoint

    async def _late_request(
        self, request: Request, operation: str, job_id: uuid.UUID | None, handler: Handler
    ) -> Response:
        """Close the connection unanswered; carry the request out ``late`` seconds after
        (logged then, processed)."""
        await request.body()  # read now: kept by the request for the handler

        async def later() -> None:
            await asyncio.sleep(self.picker.faults.late)
            try:
                _, _, made = await handler(request)
            except StoreError as err:
                self._record(request, operation, err.status, False, "drop_late", job_id)
            else:
                self._record(request, operation, None, True, "drop_late", made)

        task = asyncio.ensure_future(later())
        self._late.add(task)
        task.add_done_callback(self._late.discard)
        return _DropResponse()

    def create_as_other(self, application_id: str, *, ago: float = 0.0) -> FakeJob:
        """A job another program created in ``application_id`` (``ago`` seconds ago)."""
        inputs = [{"id": "other", "value": ["another program's row"]}]
        job = self.store.create(application_id, inputs, ago=ago)
        self.other_created.append(job.id)
        return job

    async def _unavailable(
        self,
        request: Request,
        operation: str,
        job_id: uuid.UUID | None,
        outage: Outage,
        handler: Handler,
    ) -> Response:
        """The service is away: a 503 to everything, the connection closed before the
        answer (after carrying the request out, with ``outage.processed``), or the
        request held unanswered until the outage ends."""
        if outage.kind == "503":
            self._record(request, operation, 503, False, "outage", job_id)
            err = StoreError(
                503,
                "ServiceUnavailable",
                "fail.serviceUnavailable.temporary",
                "Service temporarily unavailable.",
            )
            return _error(err)
        if outage.kind == "stall":
            # Logged as it arrives: a test can tell that a request is held right now.
            self._record(request, operation, None, False, "outage", job_id)
            end = self.schedule.origin + outage.start + outage.duration
            await asyncio.sleep(max(end - time.monotonic(), 0.0))
            return _DropResponse()
        processed = False
        if outage.processed and request.headers.get("authorization") == f"Bearer {self.api_key}":
            try:
                _, _, job_id = await handler(request)
                processed = True
            except StoreError:
                pass
        self._record(request, operation, None, processed, "outage", job_id)
        return _DropResponse()

    def _over_the_limit(self) -> float | None:
        """None if this request fits the account's window (and count it), else how
        many seconds until a place frees up."""
        if self.rate_limit is None:
            return None
        now = time.monotonic()
        self._other_programs(now)
        admitted = self._admitted
        while admitted and admitted[0] <= now - self.rate_window:
            admitted.popleft()
        if len(admitted) >= self.rate_limit:
            return admitted[0] + self.rate_window - now
        admitted.append(now)
        return None

    def _other_creators(self, now: float) -> None:
        """The jobs other programs created in an application up to ``now``, each stamped
        at the moment it was due (made when the next request arrives: no thread)."""
        for creator in self.schedule.creators():
            if creator.per_minute <= 0 or creator.application_id is None:
                continue
            due = self._creators.setdefault(id(creator), self.schedule.origin + creator.start)
            spacing = 60.0 / creator.per_minute
            while due <= now:
                if creator.active(due - self.schedule.origin) and not self.schedule.outage(due):
                    inputs = [{"id": "other", "value": ["another program's row"]}]
                    job = self.store.create(creator.application_id, inputs, ago=now - due)
                    self.other_created.append(job.id)
                due += spacing
            self._creators[id(creator)] = due

    def _other_programs(self, now: float) -> None:
        """Let the other programs on the account take their turns up to ``now``, at
        the moments they were due (the window is replayed in time order)."""
        turns: list[tuple[float, OtherConsumer, list[float]]] = []
        for consumer in self.schedule.consumers():
            if consumer.per_minute <= 0:
                continue
            state = self._consumers.setdefault(
                id(consumer), [self.schedule.origin + consumer.start, 0.0]
            )
            # A turn at most every 10 ms, carrying the requests due by then.
            spacing = max(60.0 / consumer.per_minute, 0.01)
            while state[0] <= now:
                turns.append((state[0], consumer, state))
                state[0] += spacing
        turns.sort(key=lambda turn: turn[0])
        admitted = self._admitted
        assert self.rate_limit is not None
        for at, consumer, state in turns:
            if not consumer.active(at - self.schedule.origin):
                continue
            if self.schedule.outage(at) is not None:
                continue  # the service is away for everyone
            due = consumer.per_minute * max(60.0 / consumer.per_minute, 0.01) / 60.0
            # A refused request goes again at the next turn, then is given up.
            state[1] = min(state[1] + due, 2 * max(due, 1.0))
            while admitted and admitted[0] <= at - self.rate_window:
                admitted.popleft()
            while state[1] >= 1.0 and len(admitted) < self.rate_limit:
                admitted.append(at)
                state[1] -= 1.0
                self.other_admitted += 1
            if state[1] >= 1.0:
                self.other_refused += 1

    def _before(
        self, request: Request, operation: str, fault: str, job_id: uuid.UUID | None
    ) -> Response:
        if fault == "drop_before":
            self._record(request, operation, None, False, fault, job_id)
            return _DropResponse()
        status = int(fault)
        headers: dict[str, str] = {}
        if status == 429:
            wait = self.picker.faults.retry_after
            err = StoreError(
                429, "TooManyRequests", "fail.tooManyRequests.quotaExceeded", "Rate limit exceeded."
            )
            headers = {
                "Retry-After": str(max(1, math.ceil(wait))),
                "retry-after-ms": str(int(wait * 1000)),
            }
        elif status == 503:
            err = StoreError(
                503,
                "ServiceUnavailable",
                "fail.serviceUnavailable.temporary",
                "Service temporarily unavailable.",
            )
        else:
            err = StoreError(
                status,
                "InternalServerError",
                "fail.internalServerError.generic",
                "Internal server error (injected).",
            )
        self._record(request, operation, status, False, fault, job_id)
        return _error(err, headers)

    def _after(
        self,
        request: Request,
        operation: str,
        fault: str,
        job_id: uuid.UUID | None,
        body: Any,
        status: int,
    ) -> Response:
        if fault == "drop_after":
            self._record(request, operation, None, True, fault, job_id)
            return _DropResponse()
        self._record(request, operation, status, True, fault, job_id)
        if fault == "malformed":
            return Response(b'{"id": "broken', status_code=status, media_type="application/json")
        broken = dict(body) if isinstance(body, dict) else {}
        broken["status"] = "paused"  # spec_breaking: a status the enum does not have
        broken.pop("created_at", None)
        return JSONResponse(broken, status_code=status)

    # --- the operations -------------------------------------------------------------
    async def _retry(self, request: Request) -> tuple[Any, int, uuid.UUID | None]:
        job_id = _job_id(request.path_params["job_id"])
        return self.store.retry(job_id).job().to_dict(), 202, job_id

    async def _get(self, request: Request) -> tuple[Any, int, uuid.UUID | None]:
        job_id = _job_id(request.path_params["job_id"])
        details = self.store.get(job_id).details(
            updated_at="get_job" not in self.omit_updated_at,
            resolution=self.timestamp_resolution,
        )
        return details.to_dict(), 200, job_id

    async def _create(self, request: Request) -> tuple[Any, int, uuid.UUID | None]:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            raise _bad_request("the body must be JSON") from None
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(inputs, list) or not all(
            isinstance(i, dict)
            and isinstance(i.get("id"), str)
            and isinstance(i.get("value"), list)
            and all(isinstance(v, str) for v in i["value"])
            for i in inputs
        ):
            raise _bad_request("inputs must be a list of {id: string, value: [string]}")
        job = self.store.create(request.path_params["application_id"], inputs)
        return job.job().to_dict(), 202, job.id

    async def _list(self, request: Request) -> tuple[Any, int, uuid.UUID | None]:
        raw_status = request.query_params.get("status")
        try:
            status = JobStatus(raw_status) if raw_status is not None else None
            if status is not None and not status.known:
                raise ValueError(raw_status)
        except ValueError:
            raise _bad_request(
                f"status must be one of in_progress, failed, completed, "
                f"received {str(raw_status)[:40]!r}"
            ) from None
        offset = _int_param(request, "offset", 0, 2**62)
        limit = _int_param(request, "limit", 50, MAX_LIMIT)
        application_id = request.path_params["application_id"]
        if self.on_list is not None:
            self.on_list(application_id, status, offset, limit)
        used = min(limit, self.max_page_size) if self.max_page_size is not None else limit
        jobs, total = self.store.list(application_id, status, offset, used)
        reported = used if self.pagination_mode == "effective" else limit
        with_updated_at = "list_jobs" not in self.omit_updated_at
        page = JobList(
            result=[
                job.details(updated_at=with_updated_at, resolution=self.timestamp_resolution)
                for job in jobs
            ],
            total_count=max(total + self.total_count_error, 0) if self.send_total_count else UNSET,
            pagination=(
                UNSET
                if self.pagination_mode == "omitted"
                else JobListPagination(offset=offset, limit=reported)
            ),
        )
        return page.to_dict(), 200, None


class _DropResponse(Response):
    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _DropConnection()(scope, receive, send)
