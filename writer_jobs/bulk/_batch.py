"""A batch: a job per input row, watched to its end, retried while it fails, each row's
result written once. The bulk engine's run with another starting step: its plan hands
the rows to the drivers' workers (``Work``), the watcher follows the jobs with list
pages, and retries go through ``retry_failed``'s job flow.

Every row's job is created once. Creating has no idempotency key, so creates go one at
a time, each written to the journal before it is sent; one whose answer is lost (or
that a crash left without one) is settled from the application's job list, read once
the settle bound has passed, before the next goes (``_batch_proof``): the job it made,
none (it is created again), or, when the list cannot tell, ``unresolved`` with its
candidate jobs, never a guess. A job proved made is the row's only if the run's last
look at the list, back to its first create, shows no job of another program; its result
waits for it. A job watched past ``JOB_DEADLINE`` ends its row ``unfinished``.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated.models import JobDetails, JobInput, JobStatus
from writer_jobs._generated.types import Unset

from .. import _validation
from .._base import CLIENT_TIMEOUT, ClientBase
from .._config import resolve_rate_limit
from .._engine import Flow, Sleep, create_call, execute, list_call
from .._exactly_once import CLOCK_MARGIN, granularity
from .._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    InvalidArgumentError,
    ServiceUnavailableError,
)
from .._parse import epoch
from . import _batch_proof
from ._batch_journal import BatchJournal, RowState
from ._batch_proof import (
    ListedJob,
    LostCreate,
    Made,
    NotMade,
    Unresolved,
    Verdict,
    floor,
    foreign,
    run_floor,
    settle,
)
from ._hold import DEFAULT_MAX_UNAVAILABLE, client_state
from ._job import job_flow
from ._outcome import Outcome
from ._plan import Pause, Plan, Work, watch_plan
from ._rows import BadRow, ResultsFile, Row, RowResult, RowsFile, describe, rows_of
from ._run import BulkRun
from ._selection import AnchoredPager
from ._sent import say_resuming

#: Seconds between looks at the one create slot while another create holds it.
_SLOT_POLL = 0.005
#: Page size of the list a lost create is settled from (newest first: usually one page,
#: which no status change can shift).
_PROOF_PAGE = 1000
#: Passes over the list, one after the other, before a proof waits between them for
#: the list to hold still (it is never settled on a pass the list moved under).
_PROOF_PASSES = 4
#: Passes after which a proof stops (about 15 s of a list that never holds still, or
#: pages of one job that cannot show it): the lost creates are unresolved.
_PROOF_GIVE_UP = 12
#: Creates of a row, each proved to have made nothing (a 5xx, a dropped connection),
#: after which the row is ``failed``: a server failing every create must not hold the
#: run, while an outage of a minute or two does not fail rows.
MAX_CREATES = 8
#: Seconds after a lost create's POST ended before the list is first read: a job made
#: with the create shows by then (one made later is waited for up to the settle bound).
_EARLY_LOOK = 1.0
#: Seconds, at most, a lost create proved before the job clock was known waits for
#: another row's answered create to teach it (while one is under way).
_CLOCK_WAIT = 60.0
#: Seconds a job is watched, per run of it, before its row ends ``unfinished``: a job
#: that never shows ``completed`` or ``failed`` (a status this client does not know, a
#: server that never ends it) must not hold the batch forever.
JOB_DEADLINE = 3600.0

RowsInput = Iterable[Mapping[str, Any]] | str | os.PathLike[str]


@attrs.frozen
class BatchProgress:
    """Where a batch stands, told to ``on_progress`` as it moves."""

    #: Rows in the input (known before anything is sent when it is a file).
    total: int | None
    #: Rows whose job was created (by this run or an earlier one of the same results).
    sent: int
    #: Jobs being watched now.
    running: int
    #: Rows with their result (earlier runs' included).
    done: int
    #: Of ``done``: rows ``failed``, ``unresolved`` or ``invalid``.
    failed: int
    #: Rows an earlier run created and did not finish: followed, not created again.
    resumed: int = 0


@attrs.frozen
class BatchSummary:
    """What a batch did. ``statuses`` counts every row's result, earlier runs' included."""

    rows: int
    statuses: dict[str, int]
    #: Rows whose result an earlier run wrote (not sent again).
    skipped: int
    #: Jobs this run created, retries it sent, creates whose answer was lost.
    created: int
    retried: int
    lost_answers: int
    #: The job list showed another program creating jobs in the application.
    other_creator: bool
    elapsed: float
    requests: int
    rate_limited: int
    transient_failures: int
    unavailable_seconds: float = 0.0
    #: A dry run: rows that would be sent (nothing was).
    would_send: int = 0

    @property
    def completed(self) -> int:
        return self.statuses.get("completed", 0)

    @property
    def unresolved(self) -> int:
        return self.statuses.get("unresolved", 0)

    @property
    def ok(self) -> bool:
        """Every row completed. (The CLI exits 0 exactly then, 3 otherwise.)"""
        return self.completed == self.rows

    def to_json(self) -> dict[str, Any]:
        return {"event": "summary", **attrs.asdict(self), "ok": self.ok}


@attrs.frozen
class BatchOptions:
    """The keywords of ``batch`` (sync and async), checked before any I/O."""

    results: str | os.PathLike[str] | None = None
    key: str | None = None
    max_attempts: int = 3
    concurrency: int = 16
    rate_limit: float | None = None
    max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE
    skip_invalid: bool = False
    create_unresolved: bool = False
    dry_run: bool = False
    on_result: Callable[[RowResult], None] | None = None
    on_progress: Callable[[BatchProgress], None] | None = None
    timeout: Any = CLIENT_TIMEOUT


# --- what a worker is handed ------------------------------------------------------------


@attrs.frozen
class _Create:
    row: Row


@attrs.frozen
class _Retry:
    row: Row
    job_id: UUID
    #: The failed job's updated_at (None: unknown), and what the journal says of a retry
    #: an earlier run sent without knowing its answer.
    updated_before: float | None
    resume: Any = None


@attrs.frozen
class _Follow:
    """A job an earlier run made: watch it."""

    row: Row


@attrs.frozen
class _Watch:
    job_id: UUID
    baseline: float | None


_Item = _Create | _Retry | _Follow


class _Feed:
    """What the workers take, one item each time, in order: retries due first, then the
    input's next row (read as asked for: memory does not grow with the file)."""

    def __init__(self, run: BatchRun, rows: Iterator[Row | BadRow] | None, size: int) -> None:
        self._run = run
        self._rows = rows
        self._size = size
        self._lock = threading.Lock()

    def __len__(self) -> int:  # the drivers start min(concurrency, len) workers
        return max(self._size, 1)

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> _Item:
        with self._lock:
            run = self._run
            while True:
                with run._lock:
                    if run.due:
                        return run.due.popleft()
                if self._rows is None:
                    raise StopIteration
                row = next(self._rows, None)
                if row is None:
                    self._rows = None
                    raise StopIteration
                item = run.item_for(row)
                if item is not None:
                    return item


class BatchRun(BulkRun):
    """One batch's state, shared by the sync and async drivers: the bulk run's lock,
    pace, gate and watcher, plus the rows, the journal and the results."""

    def __init__(
        self,
        client: ClientBase,
        application_id: str,
        rows: Iterable[Row | BadRow],
        total: int | None,
        fingerprint: str | None,
        options: BatchOptions,
    ) -> None:
        path = None if options.results is None else Path(str(options.results) + ".journal")
        super().__init__(
            client._settings(),
            client._request_timeout(options.timeout),
            application_id=application_id,
            journal=None,
            wait=True,
            wait_deadline=None,
            rate_limit=options.rate_limit,
            on_outcome=None,
            max_unavailable=options.max_unavailable,
            availability=client_state(client).availability,
            pace=client._pace,
            kind="batch",
            keeps=path,
        )
        # The batch's journal (beside the results) keeps its place: an outage's message
        # says so only then.
        self.hold.journal = options.results is not None
        self.options = options
        self.rows = rows
        self.total = total
        self.results: ResultsFile | None = None
        try:
            # The journal first: its lock and header refuse another batch's run before
            # the results are read, let alone rewritten (--create-unresolved).
            self.batch_journal = BatchJournal(
                path,
                application_id=application_id,
                base_url=client.base_url,
                input_fingerprint=fingerprint,
                key=options.key,
            )
            if options.results is not None:
                self.results = ResultsFile(
                    options.results, drop_unresolved=options.create_unresolved
                )
        except BaseException:
            if self.results is not None:
                self.results.close()
            self.close()
            raise
        self.sent_lines = None if path is None else self.batch_journal.sent
        self.done: set[int] = set() if self.results is None else set(self.results.done)
        self.skipped = len(self.done)
        self.statuses: dict[str, int] = {} if self.results is None else dict(self.results.statuses)
        #: Rows in flight (created or being created, watched, retried), by number.
        self.active: dict[int, Row] = {}
        self.by_job: dict[UUID, int] = {}
        #: Results (or retries) of rows whose job was proved made, until the run's last
        #: look at the list (``_sweep``) says whether the job is theirs; that look waits
        #: for the settle bound after the last of their creates (time.monotonic()).
        self.held: dict[int, RowResult | _Retry] = {}
        self.sweep_after = 0.0
        #: Retries the watcher found due, taken by the workers before new rows.
        self.due: collections.deque[_Item] = collections.deque()
        self.created = self.retried = self.lost_answers = 0
        self.other_creator = False
        self.sent_rows = sum(1 for s in self.batch_journal.rows.values() if s.job_id)
        self.resumed = sum(
            1 for s in self.batch_journal.rows.values() if s.job_id and s.row not in self.done
        )
        #: The row whose create holds the one create slot (None: free).
        self._create_slot: int | None = None
        #: Creates under way (sent, or waiting for the slot), and of them those waiting
        #: for the job clock (``_await_job_clock``), with the jobs they may have made.
        self._creating = 0
        self._awaiting_clock = 0
        self._awaiting_candidates: set[UUID] = set()
        #: Watched jobs by id: when their row ends ``unfinished`` (time.monotonic()).
        self._watch_deadlines: dict[UUID, float] = {}
        #: The offset of the server's job clock from time.monotonic(), at least (from
        #: the created_at of answered creates: it was stamped before the answer came).
        self._job_clock_offset: float | None = None
        #: ... and at most (it was stamped after the create was sent): a job made by a
        #: create was stamped before the POST ended, by this bound.
        self._job_clock_ahead: float | None = None
        #: The job clock was at least this before the run's first create (the newest job
        #: listed then; -inf: the application had none; None: not listed yet).
        self._listed_clock: float | None = None

    # --- the plan's view --------------------------------------------------------------
    def state(self, number: int) -> RowState:
        return self.batch_journal.rows.setdefault(number, RowState(number))

    def item_for(self, row: Row | BadRow) -> _Item | None:
        """What to do with a row read from the input (None: nothing)."""
        sent = self.batch_journal.rows.get(row.number)
        if isinstance(row, Row) and sent is not None and sent.digest not in (None, row.digest()):
            raise InvalidArgumentError(
                f"row {row.number} (line {row.line}) is not the row {row.number} this batch "
                "sent before (its journal keeps each row's digest): the rows changed or came "
                "in another order; give the same rows, or new results (a new batch)"
            )
        if row.number in self.done:
            return None
        if isinstance(row, BadRow):
            self.record_row(RowResult(row.number, "invalid", key=row.key, error=row.reason))
            return None
        state = self.batch_journal.rows.get(row.number)
        if state is not None and state.unresolved and not self.options.create_unresolved:
            self.record_row(self._result(row, state, "unresolved", candidates=state.unresolved))
            return None
        with self._lock:
            self.active[row.number] = row
        if state is None or state.job_id is None:
            return _Create(row)
        self.by_job[state.job_id] = row.number
        if state.retrying is not None:
            return _Retry(row, state.job_id, state.retrying.updated_before, state.retrying)
        return _Follow(row)

    def start_row(self, item: _Item) -> Flow[RowResult | _Watch]:
        """What a worker runs for an item (the Work's ``start``)."""
        if isinstance(item, _Create):
            return self._create_flow(item.row)
        if isinstance(item, _Retry):
            return self._retry_flow(item)
        return self._follow_flow(item.row)

    def finish_row(self, result: RowResult | _Watch, item: _Item) -> None:
        """What a worker's flow gave (the Work's ``finish``): the row's result, or its job
        to watch."""
        self.gate.check()
        if isinstance(result, RowResult):
            self.record_row(result)
            return
        row = item.row
        with self._lock:
            self.by_job[result.job_id] = row.number
            assert self.watcher is not None
            self.watcher.add(result.job_id, result.baseline)
            self._watch_deadlines[result.job_id] = time.monotonic() + JOB_DEADLINE
        self.tell_progress()

    def ended(self, jobs: Iterable[JobDetails]) -> None:
        """The watcher saw these jobs end: a result, or a retry while attempts remain."""
        for job in jobs:
            with self._lock:
                self._watch_deadlines.pop(job.id, None)
                number = self.by_job.get(job.id)
                row = None if number is None else self.active.get(number)
            if row is None:
                continue
            state = self.state(row.number)
            if job.status is JobStatus.COMPLETED:
                self.record_row(self._result(row, state, "completed", job=job))
            elif job.status is not JobStatus.FAILED:
                # A status newer than this client (the watcher ends the wait on it): not
                # retried (the retry endpoint is for failed jobs), never sent again.
                error = (
                    f"job {job.id} ended with status {job.status!s}, which this client does "
                    "not know; it is not retried nor sent again"
                )
                self.record_row(self._result(row, state, "unfinished", error=error))
            elif state.attempts < self.options.max_attempts:
                retry = _Retry(row, job.id, epoch(job.updated_at))
                with self._lock:
                    if state.adopted:  # maybe another program's job: not re-triggered yet
                        self.held[row.number] = retry
                        self.active.pop(row.number, None)
                        self.by_job.pop(job.id, None)
                    else:
                        self.due.append(retry)
            else:
                self.record_row(self._result(row, state, "failed", job=job))

    def gone(self, jobs: Mapping[UUID, APIError]) -> None:
        """Watched jobs a GET answered 404 for (deleted, or expired): their rows failed."""
        for job_id in jobs:
            with self._lock:
                self._watch_deadlines.pop(job_id, None)
                row = self.active.get(self.by_job.get(job_id, -1))
            if row is not None:
                error = (
                    f"job {job_id} is gone (GET answered 404: deleted, or expired); "
                    "this row is not sent again"
                )
                self.record_row(self._result(row, self.state(row.number), "failed", error=error))

    def expire(self) -> None:
        """Jobs watched for JOB_DEADLINE seconds without ending (a status this client
        does not know, a job the server never ends): their rows end ``unfinished``, the
        job named; never sent again."""
        now = time.monotonic()
        with self._lock:
            late = [job for job, end in self._watch_deadlines.items() if end <= now]
            for job_id in late:
                del self._watch_deadlines[job_id]
            assert self.watcher is not None
            self.watcher.drop(late)
            rows = [(job_id, self.active.get(self.by_job.get(job_id, -1))) for job_id in late]
        for job_id, row in rows:
            if row is None:
                continue
            error = (
                f"job {job_id} did not end (completed or failed) within {JOB_DEADLINE:g} s "
                "of being watched; it may still be running (see it by its id); this row "
                "is not sent again"
            )
            self.record_row(self._result(row, self.state(row.number), "unfinished", error=error))

    def record_row(self, result: RowResult, *, swept: bool = False) -> None:
        """Write a row's result (once). A row whose job was proved made waits for the
        run's last look at the list (``swept``: that look was taken)."""
        state = self.batch_journal.rows.get(result.row)
        with self._lock:
            self.gate.check()  # stopped: the row's result is left to the next run
            if result.row in self.done:
                return
            if not swept and state is not None and state.adopted:
                self.held[result.row] = result
                self.active.pop(result.row, None)
                if result.job_id is not None:
                    self.by_job.pop(result.job_id, None)
                return
            if self.results is not None:
                self.results.write(result)
            self.done.add(result.row)
            self.statuses[result.status] = self.statuses.get(result.status, 0) + 1
            self.active.pop(result.row, None)
            if result.job_id is not None:
                self.by_job.pop(result.job_id, None)
        if self.options.on_result is not None:
            self.options.on_result(result)
        self.tell_progress()

    def row_progress(self) -> BatchProgress:
        failed = sum(n for status, n in self.statuses.items() if status != "completed")
        running = 0 if self.watcher is None else len(self.watcher.pending)
        return BatchProgress(
            self.total, self.sent_rows, running, len(self.done), failed, self.resumed
        )

    def tell_progress(self) -> None:
        if self.options.on_progress is not None:
            self.options.on_progress(self.row_progress())

    def batch_summary(self) -> BatchSummary:
        return BatchSummary(
            rows=len(self.done) if self.total is None else self.total,
            statuses=dict(self.statuses),
            skipped=self.skipped,
            created=self.created,
            retried=self.retried,
            lost_answers=self.lost_answers,
            other_creator=self.other_creator,
            elapsed=time.monotonic() - self.started,
            requests=self.hold.requests,
            rate_limited=self.hold.pacer.rate_limited if self.hold.pacer else 0,
            transient_failures=self.hold.transient_failures,
            unavailable_seconds=self.hold.unavailable_seconds,
        )

    def close(self) -> None:
        super().close()
        with self._lock:
            if self.results is not None:
                self.results.close()
            journal = getattr(self, "batch_journal", None)
            if journal is not None:
                journal.close()

    def _result(
        self,
        row: Row,
        state: RowState,
        status: str,
        *,
        job: JobDetails | None = None,
        error: str | None = None,
        candidates: Sequence[UUID] = (),
    ) -> RowResult:
        title = suggestion = None
        if (
            job is not None
            and job.status is JobStatus.COMPLETED
            and not isinstance(job.data, Unset)
        ):
            suggestion = job.data.suggestion
            title = None if isinstance(job.data.title, Unset) else job.data.title
        if job is not None and error is None and job.status is JobStatus.FAILED:
            error = job.error if isinstance(job.error, str) else "the job failed (no error text)"
        return RowResult(
            row.number,
            status,
            key=row.key,
            inputs=None if row.key is not None else row.inputs,
            job_id=state.job_id,
            attempts=state.attempts,
            title=title,
            suggestion=suggestion,
            error=error,
            candidates=tuple(candidates),
        )

    # --- the server's job clock -------------------------------------------------------
    def sent_after(self) -> tuple[float | None, bool]:
        """A lower bound of the server's job clock now, and whether it is the job clock's:
        from the created_at of answered creates (the job clock itself; Date's clock is
        then not used: it may be far ahead), else from Date headers less CLOCK_MARGIN."""
        now = time.monotonic()
        if self._job_clock_offset is not None:
            return now + self._job_clock_offset, True
        at_least = self.server_clock.at_least(now)
        dated = None if at_least is None else at_least - CLOCK_MARGIN
        listed = self._listed_clock
        if listed is None:
            return dated, False
        # Date's clock may be far ahead of the job clock: the newest job listed before the
        # run bounds it too (none at all: every job since was made during the run).
        bound = listed if dated is None else min(dated, listed)
        return (None if bound == float("-inf") else bound), False

    def note_first_page(self, jobs: Sequence[JobDetails]) -> None:
        """The application's newest job before the run (the first request's page)."""
        stamps = [
            stamp
            for job in jobs
            for stamp in (epoch(job.created_at), epoch(job.updated_at))
            if stamp is not None
        ]
        self._listed_clock = max(stamps) if stamps else float("-inf")

    def _learn_job_clock(self, created_at: float | None, sent: float, received: float) -> None:
        if created_at is None:
            return
        offset = created_at - received  # stamped before the answer was read
        ahead = created_at + granularity(created_at) - sent  # and after the POST went out
        with self._lock:
            # The least of the lower bounds: several nodes may stamp jobs, some behind;
            # the greatest of the upper ones, for those ahead.
            if self._job_clock_offset is None or offset < self._job_clock_offset:
                self._job_clock_offset = offset
            if self._job_clock_ahead is None or ahead > self._job_clock_ahead:
                self._job_clock_ahead = ahead

    def made_by(self, ended: float) -> float:
        """The latest created_at a job made by a create whose POST ended at ``ended``
        (time.monotonic()) can have, unless made late (inf: no bound known)."""
        with self._lock:
            ahead = self._job_clock_ahead
        return float("inf") if ahead is None else ended + ahead + _batch_proof.DRIFT

    def settle_wait(self, timed_out: bool = False) -> float:
        """Seconds after a create's POST ended before a list can prove it made nothing:
        the server's processing and the list's lag (SETTLE; after a POST that timed out,
        the request's read timeout when longer: a server that slow may take as long
        again to make the job)."""
        read = self.request_timeout().read if timed_out else None
        return max(_batch_proof.SETTLE, read or 0.0)

    def request_timeout(self) -> httpx.Timeout:
        """The timeout the run's requests go with (the call's, else the client's)."""
        return self.config.timeout if self.timeout is None else self.timeout

    # --- the flows --------------------------------------------------------------------
    def _take_slot(self, row: int) -> bool:
        with self._lock:
            if self._create_slot is not None:
                return self._create_slot == row
            self._create_slot = row
            return True

    def _give_slot(self, row: int) -> None:
        with self._lock:
            if self._create_slot == row:
                self._create_slot = None

    def _await_job_clock(self, row: int, candidates: Sequence[UUID]) -> Flow[float | None]:
        """A lost create proved before any create was answered has no window the job
        clock bounds: give the slot to the other rows' creates, whose answers teach the
        clock, and wait for it while one of them is under way; then hold the slot again.
        The offset of the job clock from time.monotonic() (None: none was learned)."""
        with self._lock:
            self._awaiting_clock += 1
            self._awaiting_candidates.update(candidates)  # no other row's, meanwhile
        self._give_slot(row)
        try:
            deadline = time.monotonic() + _CLOCK_WAIT
            while True:
                with self._lock:
                    offset = self._job_clock_offset
                    others = self._creating - self._awaiting_clock
                if offset is not None or others <= 0 or time.monotonic() >= deadline:
                    break
                yield Sleep(_SLOT_POLL)
            while not self._take_slot(row):
                yield Sleep(_SLOT_POLL)
        finally:
            with self._lock:
                self._awaiting_clock -= 1
                self._awaiting_candidates.difference_update(candidates)
        return offset

    def _create_flow(self, row: Row) -> Flow[RowResult | _Watch]:
        """Create the row's job; a lost answer is settled from the list before the next
        create goes (the slot is held until then)."""
        with self._lock:
            self._creating += 1
        try:
            return (yield from self._create_steps(row))
        finally:
            with self._lock:
                self._creating -= 1

    def _create_steps(self, row: Row) -> Flow[RowResult | _Watch]:
        state = self.state(row.number)
        inputs = [JobInput(id=name, value=values) for name, values in row.inputs.items()]
        call = create_call(self.application_id, inputs)
        made_nothing = 0
        while True:
            while not self._take_slot(row.number):
                yield Sleep(_SLOT_POLL)
            try:
                sent_after, job_clock = self.sent_after()
                with self._lock:
                    self.gate.check()  # stopped: no creating line, nothing sent
                    ahead = self._job_clock_ahead
                    # In the wall clock's terms: a resume bounds the window by its start.
                    clock = {} if ahead is None else {"clock_ahead": ahead + _wall_offset()}
                    self.batch_journal.write(
                        state,
                        "creating",
                        sent_after=sent_after,
                        job_clock=job_clock,
                        at=time.time(),
                        digest=row.digest(),
                        **clock,
                    )
                sent = time.monotonic()
                try:
                    job = yield from execute(call, self.config, self.timeout)
                except ServiceUnavailableError:
                    raise  # the run stops; the next one settles this create from the list
                except APIError as exc:
                    ended = time.monotonic()
                    failure = str(exc)
                    if not _may_have_made(exc):
                        with self._lock:
                            self.batch_journal.write(state, "proved", verdict="not_made")
                        return self._result(row, state, "failed", error=str(exc))
                    with self._lock:
                        self.lost_answers += 1
                    lost = LostCreate(
                        row.number,
                        float("-inf") if sent_after is None else sent_after,
                        job_clock=job_clock,
                        made_by=self.made_by(ended),
                    )
                    settle_for = self.settle_wait(_server_may_be_at_work(exc))
                    verdict = yield from self._settle_lost(lost, settle_for)
                    if (
                        isinstance(verdict, Unresolved)
                        and verdict.candidates
                        and not verdict.other_creator
                        and not job_clock
                    ):
                        # The run's first creates: no job clock bounds the window yet.
                        offset = yield from self._await_job_clock(row.number, verdict.candidates)
                        if offset is not None:
                            lost = LostCreate(
                                row.number,
                                sent + offset,
                                job_clock=True,
                                made_by=self.made_by(ended),
                            )
                            verdict = (yield from self._prove([lost]))[row.number]
                    self._apply({row.number: verdict})
                    if isinstance(verdict, Made):
                        # Another program's job taken so shows, if it made more, by then.
                        with self._lock:
                            self.sweep_after = max(self.sweep_after, ended + settle_for)
                else:
                    created_at = epoch(job.created_at)
                    self._learn_job_clock(created_at, sent, time.monotonic())
                    with self._lock:
                        self.batch_journal.write(
                            state, "created", job_id=str(job.id), created_at=created_at
                        )
                        self.created += 1
                        self.sent_rows += 1
                    return _Watch(job.id, created_at)
            finally:
                self._give_slot(row.number)
            if isinstance(verdict, Made):
                return _Watch(verdict.job_id, verdict.created_at)
            if isinstance(verdict, Unresolved):
                return self._result(
                    row,
                    state,
                    "unresolved",
                    error=_unresolved_text(verdict),
                    candidates=verdict.candidates,
                )
            # NotMade: created again (the slot was given back: a turn like any other), as
            # long as attempts remain: a server failing every create must not hold the run.
            made_nothing += 1
            if made_nothing >= MAX_CREATES:
                return self._result(
                    row,
                    state,
                    "failed",
                    error=(
                        f"{made_nothing} creates failed ({failure}) and the job list proved "
                        "each made no job; not created again"
                    ),
                )

    def _settle_lost(self, lost: LostCreate, settle_for: float) -> Flow[Verdict]:
        """The verdict on a create whose answer was lost. Nothing in the list yet proves
        nothing: the job may be made, or shown, late; only a list read once that can no
        longer be (``settle_for`` after the POST ended) proves it made none. A job made
        with the create shows at once: one look soon after gives it, without waiting
        the rest of the bound (a job of another program taken so is caught by the run's
        last look at the list, as any proved made)."""
        deadline = time.monotonic() + settle_for
        if lost.job_clock and settle_for > 2 * _EARLY_LOOK:
            yield Sleep(_EARLY_LOOK)
            early = (yield from self._prove([lost]))[lost.row]
            if isinstance(early, Made):
                return early
        yield Sleep(max(deadline - time.monotonic(), 0.0))
        return (yield from self._prove([lost]))[lost.row]

    def _follow_flow(self, row: Row) -> Flow[RowResult | _Watch]:
        state = self.state(row.number)
        assert state.job_id is not None
        baseline = state.retried_from if state.attempts > 1 else state.created_at
        return _Watch(state.job_id, baseline)
        yield  # a flow that sends nothing

    def _retry_flow(self, item: _Retry) -> Flow[RowResult | _Watch]:
        row, job_id = item.row, item.job_id
        state = self.state(row.number)
        attempt = state.attempts + 1
        with self._lock:
            self.gate.check()
            fields: dict[str, Any] = {"job_id": str(job_id), "attempt": attempt}
            before = item.updated_before
            at_least = self.server_clock.at_least()
            if item.resume is not None:
                before, at_least = item.resume.updated_before, item.resume.server_at_least
            if before is not None:
                fields["listed_updated_at"] = before
            if at_least is not None:
                fields["server_at_least"] = at_least
            self.batch_journal.write(state, "retrying", **fields)
        outcome = yield from job_flow(
            job_id,
            self.config,
            self.timeout,
            updated_before=item.updated_before,
            resume=item.resume,
        )
        if outcome.outcome is Outcome.RETRIED:
            with self._lock:
                self.batch_journal.write(
                    state, "retried", job_id=str(job_id), attempt=attempt, updated_before=before
                )
                self.retried += 1
            return _Watch(job_id, before)
        if outcome.outcome is Outcome.NOT_FAILED:
            with self._lock:  # no longer failed (retried by someone else): watched as is
                self.batch_journal.write(
                    state, "retried", job_id=str(job_id), attempt=attempt - 1, updated_before=None
                )
            return _Watch(job_id, None)
        return self._result(row, state, "failed", error=outcome.message or outcome.error_type)

    def _prove(self, lost: list[LostCreate]) -> Flow[dict[int, Verdict]]:
        """Settle the lost creates from the application's jobs listed back to the
        proof's floor."""
        seen, still = yield from self._read_list(floor(lost))
        verdicts = self._settle(lost, seen)
        if still:
            return verdicts
        # Never a pass the list held still under: a job may have slipped past every
        # one. Nothing is proved made nor not made.
        return {
            row: Unresolved(
                (v.job_id,)
                if isinstance(v, Made)
                else v.candidates
                if isinstance(v, Unresolved)
                else (),
                v.other_creator if not isinstance(v, Made) else False,
            )
            for row, v in verdicts.items()
        }

    def _read_list(self, oldest: float) -> Flow[tuple[list[ListedJob], bool]]:
        """List the application's jobs back to ``oldest`` (created_at), newest first,
        until a pass over them holds still (False: none did, in ``_PROOF_GIVE_UP``)."""
        seen: dict[UUID, ListedJob] = {}
        passes = 0
        while True:
            passes += 1
            pager = AnchoredPager(self.application_id, None, _PROOF_PAGE)
            newest_first = True
            previous: float | None = None
            sizes: list[int] = []
            while (call := pager.next_call()) is not None:
                page = yield from execute(call, self.config, self.timeout)
                sizes.append(len(page.result))
                reached = False
                for job in pager.accept(page):
                    created = epoch(job.created_at)
                    updated = epoch(job.updated_at)
                    if created is not None:
                        seen[job.id] = ListedJob(job.id, created)
                    if updated is None or (previous is not None and updated > previous + 1e-6):
                        newest_first = False  # no order to stop on: the whole list
                    previous = updated if updated is not None else previous
                    if newest_first and updated is not None and updated < oldest:
                        reached = True
                if reached:
                    break
            # A first page shorter than asked for, then an empty one: the whole list was
            # on one page (a list of one job leaves the pager no anchor to check).
            whole = len(sizes) == 2 and 0 < sizes[0] < _PROOF_PAGE and sizes[1] == 0
            if not pager.shifted and (not pager.unverified or whole):
                return list(seen.values()), True
            if passes >= _PROOF_GIVE_UP:
                return list(seen.values()), False
            # The list moved while it was paged: a job may have slipped past a page.
            # Never settled on such a pass: again, slower as it keeps moving.
            if passes >= _PROOF_PASSES:
                yield Sleep(min(0.25 * (passes - _PROOF_PASSES + 1), 5.0))

    def _sweep(self) -> Flow[None]:
        """The run's last look at the list, once every job ended: the rows whose job was
        proved made get their result (or their retry), unless a job since the run's
        first create is no row's (another program creates jobs here, or an unresolved
        row's create made it: the proved job may be its, and the row is unresolved, the
        job its candidate)."""
        began = self.batch_journal.began
        others: tuple[UUID, ...] = ()
        still = True
        if began is not None:
            seen, still = yield from self._read_list(run_floor(began))
            others = foreign(seen, self.batch_journal.claimed, began)
        strangers = set(others) - self.batch_journal.maybe_claimed
        with self._lock:
            held, self.held = self.held, {}
            if strangers:
                self.other_creator = True
        why = (
            f"the job list shows {len(strangers)} job(s) no row of this batch made, created "
            "during it: another program creates jobs in this application"
            if strangers
            else "the job list shows jobs an unresolved row's create may have made"
            if others
            else "the job list kept moving while it was read"
        )
        for number, waiting in sorted(held.items()):
            if still and not others:
                if isinstance(waiting, _Retry):
                    with self._lock:
                        self.active[number] = waiting.row
                        self.by_job[waiting.job_id] = number
                        self.due.append(waiting)
                else:
                    self.record_row(waiting, swept=True)
                continue
            state = self.state(number)
            candidates = () if state.job_id is None else (state.job_id,)
            error = (
                "the create's answer was lost and one job, the candidate, was created while "
                f"it was out; but {why}, so the list cannot prove that job is this row's; it "
                "is not created again (see candidates)"
            )
            result = (
                self._result(waiting.row, state, "unresolved", error=error, candidates=candidates)
                if isinstance(waiting, _Retry)
                else attrs.evolve(waiting, status="unresolved", error=error, candidates=candidates)
            )
            with self._lock:
                self.gate.check()
                self.batch_journal.write(
                    state,
                    "proved",
                    verdict="unresolved",
                    candidates=[str(c) for c in candidates],
                    swept=True,
                )
                self.sent_rows -= 1
            self.record_row(
                attrs.evolve(result, job_id=None, attempts=0, title=None, suggestion=None),
                swept=True,
            )

    def _settle(self, lost: list[LostCreate], seen: Iterable[ListedJob]) -> dict[int, Verdict]:
        journal = self.batch_journal
        with self._lock:
            maybe_claimed = journal.maybe_claimed | self._awaiting_candidates
        return settle(lost, seen, journal.claimed, maybe_claimed=maybe_claimed)

    def _apply(self, verdicts: dict[int, Verdict]) -> dict[int, Verdict]:
        """Write each verdict to the journal (the job proved made is claimed)."""
        with self._lock:
            for number, verdict in verdicts.items():
                state = self.state(number)
                if isinstance(verdict, Made):
                    self.batch_journal.write(
                        state,
                        "proved",
                        verdict="made",
                        job_id=str(verdict.job_id),
                        created_at=verdict.created_at,
                    )
                    self.sent_rows += 1
                elif isinstance(verdict, NotMade):
                    self.other_creator = self.other_creator or verdict.other_creator
                    self.batch_journal.write(state, "proved", verdict="not_made")
                else:
                    self.other_creator = self.other_creator or verdict.other_creator
                    self.batch_journal.write(
                        state,
                        "proved",
                        verdict="unresolved",
                        candidates=[str(c) for c in verdict.candidates],
                    )
        return verdicts


def _unresolved_text(verdict: Unresolved) -> str:
    why = (
        "another program is creating jobs in this application"
        if verdict.other_creator
        else "the list cannot tie one job to it (no job clock known yet, a window spanning "
        "a crash, overlapping lost creates, or a job another lost create may have made)"
        if verdict.candidates
        else "the job list kept moving while it was read"
    )
    return (
        f"the create's answer was lost and {why}: the job list cannot prove which of the "
        f"{len(verdict.candidates)} candidate jobs, if any, this row's create made; it is "
        "not created again (see candidates)"
    )


def _wall_offset() -> float:
    """time.monotonic() less time.time(): a monotonic bound in the wall clock's terms."""
    return time.monotonic() - time.time()


def _timeout_seconds(timeout: httpx.Timeout) -> float:
    """The longest a request can last by its timeout (0: none set)."""
    parts = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return float(sum(parts))


def _server_may_be_at_work(exc: APIError) -> bool:
    """Did the create end while the server may still be making its job (the client gave
    up, or a gateway did: 408, 502, 504)? Then its job may come as late again."""
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 502, 504)
    return isinstance(exc, APITimeoutError)


def _may_have_made(exc: APIError) -> bool:
    """Could the create that raised this have made a job? Only a refusal (a 4xx but
    408) or a request never sent proves it did not."""
    if isinstance(exc, APIStatusError):
        return exc.status_code >= 500 or exc.status_code == 408
    if isinstance(exc, APIConnectionError):
        return exc.may_have_been_processed
    return True


def batch_plan(run: BatchRun, concurrency: int) -> Plan:
    """Settle what an earlier run left in flight, then hand the rows to the workers (the
    watcher beside them), then the retries found due after the last row, until none."""
    began = time.monotonic()
    # A first request: the server's clocks (Date, and the newest job's stamps) before
    # any create, and the application.
    first = yield execute(list_call(run.application_id, None, 0, 1), run.config, run.timeout)
    run.note_first_page(first.result)
    journal = run.batch_journal
    if any(s.adopted or s.lost is not None for s in journal.rows.values()):
        # Jobs an earlier run took for lost creates' (or this one may, from its creates in
        # flight): the last look at the list waits the settle bound after their POSTs
        # ended, by this run's start at the latest (a job the server made late shows).
        run.sweep_after = began + run.settle_wait(timed_out=True)
    if any(s.lost is not None for s in journal.rows.values()):
        # An earlier run's create in flight when it stopped: its POST may have been out
        # until the run died, whenever that was (a timeout bounds no request: it counts
        # each read apart), and the job may be made or shown up to the settle bound
        # after: waited from now.
        settle = run.settle_wait()
        now = time.time()
        lost = journal.lost_creates(_timeout_seconds(run.request_timeout()) + settle, now)
        # ... and at least as long after it went out as a live run waits after a POST
        # that timed out (the server may still have been making the job when it died).
        sent_at = max(
            (
                now if s.lost_at is None else s.lost_at
                for s in journal.rows.values()
                if s.lost is not None
            ),
            default=now,
        )
        yield Pause(max(settle, sent_at + run.settle_wait(timed_out=True) - now))
        run._apply((yield run._prove(lost)))
    run.tell_progress()
    watcher = run.watcher
    assert watcher is not None  # a batch watches every job it made

    def watch(working: Callable[[], bool]) -> Plan:
        return watch_plan(run, watcher, working)

    feed = _Feed(run, iter(run.rows), run.total or concurrency)
    while True:
        yield Work(feed, concurrency, run.start_row, run.finish_row, watch)
        if not run.due and run.held:
            # The rows whose job was proved made: the run's last look at the list (again
            # after the retries it let go).
            wait = run.sweep_after - time.monotonic()
            if wait > 0:
                yield Pause(wait)
            yield run._sweep()
        if not run.due:
            return
        feed = _Feed(run, None, len(run.due))


def start_batch(
    client: ClientBase, application_id: str, rows: RowsInput, keywords: Mapping[str, Any]
) -> tuple[BatchRun | None, Plan | None, BatchSummary | None]:
    """Check every option (``keywords``: batch's ``locals()``, the options of
    ``BatchOptions``) and the input (a file: every row, before anything is sent), take
    the run lock, open the journal and the results. A dry run returns its summary and
    sends nothing."""
    options = BatchOptions(
        **{f.name: keywords[f.name] for f in attrs.fields(BatchOptions) if f.name in keywords}
    )
    app = _validation.application_id(application_id)
    concurrency = _validation.positive_int(options.concurrency, name="concurrency", maximum=1024)
    _validation.positive_int(options.max_attempts, name="max_attempts", maximum=100)
    _validation.timeout_seconds(options.max_unavailable, name="max_unavailable")
    if options.rate_limit is not None:
        resolve_rate_limit(options.rate_limit, client.base_url)
    if options.key is not None and (not isinstance(options.key, str) or not options.key):
        raise InvalidArgumentError(f"key must be a column name, received {options.key!r}")
    total: int | None = None
    fingerprint: str | None = None
    source: Iterable[Row | BadRow]
    if isinstance(rows, str | os.PathLike):
        file = RowsFile(rows, key=options.key)
        total, bad, fingerprint = file.check()
        if bad and not options.skip_invalid:
            raise InvalidArgumentError(describe(bad, f"input {str(rows)!r}"))
        source = file
    elif isinstance(rows, Mapping | bytes | bytearray):
        raise InvalidArgumentError(
            f"rows must be an iterable of mappings (or a file path), received {type(rows).__name__}"
        )
    else:
        source = _Once(rows_of(rows, options.key))
        if isinstance(rows, Sequence):
            total = len(rows)
    if options.dry_run:
        count = sum(1 for row in source if isinstance(row, Row))
        summary = BatchSummary(
            rows=total if total is not None else count,
            statuses={},
            skipped=0,
            created=0,
            retried=0,
            lost_answers=0,
            other_creator=False,
            elapsed=0.0,
            requests=0,
            rate_limited=0,
            transient_failures=0,
            would_send=count,
        )
        return None, None, summary
    run = BatchRun(client, app, source, total, fingerprint, options)
    _resume_pace(client, run)
    return run, batch_plan(run, concurrency), None


def _resume_pace(client: ClientBase, run: BatchRun) -> None:
    """A resume: the requests the batch's last run sent in the account's window are this
    client's own (``_sent``); said at once, with what the run does first."""
    journal = run.batch_journal
    if journal.path is None or not (journal.rows or journal.sent.recent or run.done):
        return
    lost = sum(1 for s in journal.rows.values() if s.lost is not None)
    say_resuming(
        client._budget,
        run.hold.pacer,
        journal.sent.recent,
        f"resuming the batch from {journal.path}: {len(run.done)} rows done are skipped, "
        f"{run.resumed} created by an earlier run are followed (never created again), {lost} "
        "creates in flight are proved from the job list first",
        {
            "kind": "batch",
            "journal": str(journal.path),
            "done": len(run.done),
            "followed": run.resumed,
            "lost": lost,
        },
    )


class _Once:
    """An iterable of rows read once (the library's rows)."""

    def __init__(self, rows: Iterator[Row | BadRow]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Row | BadRow]:
        return self._rows
