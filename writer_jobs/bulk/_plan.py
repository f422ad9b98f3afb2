"""The bulk plans, written once: what a run does next, as steps a driver carries out.

Like the engine's flows, a plan is a generator: it yields a step and receives what the
step produced. The thread driver (``_sync``) and the task driver (``_async``) only
carry the steps out:

- a ``Flow`` of the engine: run it through the client, under the run's control; its
  result is sent back;
- ``Pause(seconds)``: wait (waking when the run stops);
- ``Work(items, concurrency, start, finish, watch)``: hand the items to ``concurrency``
  workers, each running ``start(item)``'s flow under the run and handing its result to
  ``finish(result, item)``; ``watch``, if set, is a plan run beside them; until done.
  What a worker does per item (retry a job, create one for a row) is the plan's;
- ``Report(jobs)``: give jobs that ended to the caller (``wait_many``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sized
from typing import Any, TypedDict
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated.models import JobDetails, JobStatus

from .. import _validation
from .._base import CLIENT_TIMEOUT, ClientBase
from .._config import ClientConfig, resolve_rate_limit
from .._engine import FINISHED, Flow, execute, get_call
from .._exceptions import WaitTimeoutError
from .._parse import epoch
from ._hold import DEFAULT_MAX_UNAVAILABLE, HoldBack, client_state
from ._outcome import BulkProgress, JobOutcome
from ._run import BulkRun
from ._selection import AnchoredPager, Selection
from ._sent import say_resuming
from ._watcher import Watcher, interval


@attrs.frozen
class Pause:
    seconds: float


@attrs.frozen
class Work:
    """Items for ``concurrency`` workers. ``start(item)`` (called in the worker, before
    anything is sent for the item; it may journal it first) gives the item's flow;
    ``finish(result, item)`` takes what the flow returned. ``watch(working)``, if set,
    gives a plan the driver runs beside the workers (``working()``: some are still
    running). ``items`` may be any iterable: the workers draw from it one at a time."""

    items: Iterable[Any]
    concurrency: int
    start: Callable[[Any], Flow[Any]]
    finish: Callable[[Any, Any], None]
    watch: Callable[[Callable[[], bool]], Plan] | None = None


@attrs.frozen
class Report:
    jobs: list[JobDetails]


Step = Flow[Any] | Pause | Work | Report
Plan = Generator[Step, Any, None]


def workers_for(work: Work) -> int:
    """How many workers a Work gets: ``concurrency``, or fewer when fewer items are known."""
    items = work.items
    return min(work.concurrency, len(items)) if isinstance(items, Sized) else work.concurrency


class RetryFailedOptions(TypedDict, total=False):
    """The keywords of ``retry_failed`` (sync and async), spelled once.

    - ``concurrency`` (16): jobs handled at once (threads or tasks), at most 1024.
    - ``wait`` (False): follow the re-triggered jobs with one watcher until each ends.
    - ``wait_deadline`` (None: no limit): seconds each re-triggered job is followed.
    - ``journal`` (None): a path; each outcome is appended as a JSON line, flushed per
      line; rerun with the same journal to resume.
    - ``rate_limit`` (None): this run's own cap, requests a minute, on top of the
      client's budget.
    - ``on_outcome``: called with each ``JobOutcome`` as it happens.
    - ``on_progress``: called with a ``BulkProgress`` when the jobs to handle are known
      (before any is sent: a place to ask for confirmation), and as each is sent and
      finishes.
    - ``timeout`` (the client's): per request.
    - ``select`` (None: every failed job): a ``Selection``.
    - ``dry_run`` (False): list what would be retried (``would_retry``), send no POST.
    - ``max_unavailable`` (600): seconds of continuous unavailability (503s, connections
      failing, nothing answered but 429s) the run waits through before it stops with
      ServiceUnavailableError (the journal keeps its place); None: no bound.
    """

    concurrency: int
    wait: bool
    wait_deadline: float | None
    journal: str | os.PathLike[str] | None
    rate_limit: float | None
    on_outcome: Callable[[JobOutcome], None] | None
    on_progress: Callable[[BulkProgress], None] | None
    timeout: float | httpx.Timeout | None
    select: Selection | None
    dry_run: bool
    max_unavailable: float | None


def start_run(
    client: ClientBase, application_id: str, options: Mapping[str, Any]
) -> tuple[BulkRun, Plan]:
    """Check every option (``RetryFailedOptions``, as retry_failed's ``locals()``) before
    any I/O, take the run lock, open the journal."""
    app = _validation.application_id(application_id)
    concurrency = _validation.positive_int(
        options.get("concurrency", 16), name="concurrency", maximum=1024
    )
    wait_deadline = _validation.timeout_seconds(options.get("wait_deadline"), name="wait_deadline")
    rate_limit = options.get("rate_limit")
    if rate_limit is not None:
        resolve_rate_limit(rate_limit, client.base_url)
    selection = _validation.instance(options.get("select"), Selection, name="select")
    timeout = options.get("timeout", CLIENT_TIMEOUT)
    run = BulkRun(
        client._settings(),
        client._request_timeout(timeout),
        application_id=app,
        journal=options.get("journal"),
        wait=bool(options.get("wait", False)),
        wait_deadline=wait_deadline,
        rate_limit=rate_limit,
        on_outcome=options.get("on_outcome"),
        on_progress=options.get("on_progress"),
        selection=selection,
        dry_run=bool(options.get("dry_run", False)),
        max_unavailable=_validation.timeout_seconds(
            options.get("max_unavailable", DEFAULT_MAX_UNAVAILABLE), name="max_unavailable"
        ),
        availability=client_state(client).availability,
        pace=client._pace,
    )
    _recall(client, run)
    return run, retry_failed_plan(run, concurrency)


def _recall(client: ClientBase, run: BulkRun) -> None:
    """A resume: the requests its journal's last run sent in the account's window are
    this client's own (its budget and the run's cap go on from them); said at once,
    with what the run does first."""
    journal = run.journal
    if journal.path is None or not (journal.unsettled or journal.final or journal.sent.recent):
        return
    say_resuming(
        client._budget,
        run.hold.pacer,
        journal.sent.recent,
        f"resuming from {journal.path}: {len(journal.unsettled)} jobs its runs started are "
        f"checked (a GET each) before any retry, {len(journal.final)} ended are skipped",
        {
            "journal": str(journal.path),
            "in_flight": len(journal.unsettled),
            "final": len(journal.final),
        },
    )


def retry_failed_plan(run: BulkRun, concurrency: int) -> Plan:
    """List every failed job (a pass), hand the run's new ones to workers, then list
    again until a pass finds no failed job the run has not handled: pages that shift
    while statuses change can hide a job from one pass, not from all."""
    watcher = run.watcher
    watch = None
    if watcher is not None:
        watch = lambda working: watch_plan(run, watcher, working)  # noqa: E731
    while True:
        pager = AnchoredPager(run.application_id, JobStatus.FAILED, run.config.page_size)
        while (call := pager.next_call()) is not None:
            page = yield execute(call, run.config, run.timeout)
            run.passes.add(pager.accept(page))
        jobs = run.passes.todo(pager.shifted, pager.unverified)
        if jobs is None:
            run.record_preview()  # a dry run's preview (nothing otherwise)
            return
        if jobs:
            run.tell_progress()
        if jobs and not run.dry_run:
            yield Work(jobs, concurrency, run.start_job, run.finish, watch)
        elif not jobs:
            yield Pause(run.passes.settle_pause())


def watch_plan(run: BulkRun, watcher: Watcher, working: Callable[[], bool]) -> Plan:
    """With wait=True, beside the workers (``working()``: some still run): rounds of
    list pages until every job they re-triggered has ended (or passed its deadline),
    paid from a share of the run's pace (``_run_pace``)."""
    while True:
        posting = working()
        if not posting and not watcher.pending:
            return
        yield Pause(interval(watcher, _run_pace(run), triggering=posting))
        run.expire()
        if watcher.pending:
            ended = yield watcher.round(run.config, run.timeout)
            run.ended(ended)
            run.gone(watcher.take_gone())


def _run_pace(run: BulkRun) -> float | None:
    """The pace a run holds to now, requests a minute (None: unpaced): the client's
    budget's (``run.pace()``) or the run's own cap (``rate_limit=`` given to the run
    only), whichever is slower."""
    pacer = run.hold.pacer
    paces = [p for p in (run.pace(), None if pacer is None else pacer.pace()) if p is not None]
    return min(paces, default=None)


def start_wait_many(
    client: ClientBase,
    job_ids: Iterable[UUID | str],
    deadline: float | None,
    max_unavailable: float | None,
) -> tuple[HoldBack, Plan]:
    """Check the arguments (before any I/O); the call's policy and its plan."""
    ids = list(dict.fromkeys(_validation.job_id(j) for j in job_ids))
    seconds = _validation.timeout_seconds(deadline, name="deadline")
    bound = _validation.timeout_seconds(max_unavailable, name="max_unavailable")
    # Transient failures held back (up to ``bound`` seconds unavailable in a row).
    hold = HoldBack(client_state(client).availability, client.base_url, max_unavailable=bound)
    return hold, wait_many_plan(client._settings(hold), ids, seconds, client._pace)


def wait_many_plan(
    config: ClientConfig,
    ids: list[UUID],
    deadline: float | None,
    pace: Callable[[], float | None],
) -> Plan:
    """One GET a job (its application and state), then rounds of list pages per
    application, paced from the client's budget (``pace()``); past ``deadline``
    seconds, WaitTimeoutError names the jobs still running."""
    until = None if deadline is None else time.monotonic() + deadline
    watchers: dict[str, Watcher] = {}
    for job_id in ids:
        details = yield execute(get_call(job_id), config, None)
        if details.status in FINISHED:
            yield Report([details])
        else:
            app = details.application_id
            watcher = watchers.setdefault(app, Watcher(app))
            watcher.add(details.id, epoch(details.updated_at))
    while busy := [w for w in watchers.values() if w.pending]:
        if until is not None and time.monotonic() >= until:
            remaining = [str(j) for w in busy for j in w.pending]
            raise WaitTimeoutError(
                f"{len(remaining)} {'job was' if len(remaining) == 1 else 'jobs were'} still "
                "running when wait_many() reached its "
                f"deadline: {', '.join(remaining[:20])}" + (" ..." if len(remaining) > 20 else ""),
                last_job=None,
            )
        watcher = min(busy, key=lambda w: w.requests)  # round-robin by cost so far
        pause = interval(watcher, pace(), triggering=False)
        yield Pause(pause if until is None else min(pause, max(until - time.monotonic(), 0.0)))
        ended = yield watcher.round(config, None)
        yield Report(ended)
        for error in watcher.take_gone().values():
            raise error  # a job the caller named is gone: theirs to know, as from wait()
