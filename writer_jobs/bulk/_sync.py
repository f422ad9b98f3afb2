"""``JobsClient``: the sync single-call client plus the bulk layer's two methods, and the
thread driver that carries their plans out."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from uuid import UUID

import httpx

from writer_jobs._generated.models import JobDetails

from .._base import CLIENT_TIMEOUT
from .._client import SingleCallClient
from ._batch import BatchProgress, BatchSummary, RowsInput, start_batch
from ._hold import DEFAULT_MAX_UNAVAILABLE, HoldBack, Stopped, client_state
from ._outcome import BulkProgress, BulkSummary, JobOutcome
from ._plan import (
    Pause,
    Plan,
    Report,
    Work,
    start_run,
    start_wait_many,
    workers_for,
)
from ._rows import RowResult
from ._run import BulkRun
from ._selection import Selection


class JobsClient(SingleCallClient):
    __doc__ = SingleCallClient.__doc__

    def retry_failed(
        self,
        application_id: str,
        *,
        concurrency: int = 16,
        wait: bool = False,
        wait_deadline: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        rate_limit: float | None = None,
        on_outcome: Callable[[JobOutcome], None] | None = None,
        on_progress: Callable[[BulkProgress], None] | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
        select: Selection | None = None,
        dry_run: bool = False,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> BulkSummary:
        """Retry every failed job of an application, safely and resumably; see
        ``AsyncJobsClient.retry_failed()`` and ``RetryFailedOptions`` for the keywords.

        Runs ``concurrency`` worker threads over this client's connection pool.
        """
        run, plan = start_run(self, application_id, locals())
        try:
            for _ in self._drive(plan, run.hold, run):  # retry_failed's plan reports nothing
                pass
            return run.summary()
        finally:
            run.close()

    # --- batch (see _batch) -----------------------------------------------------------
    def batch(
        self,
        application_id: str,
        rows: RowsInput,
        *,
        results: str | os.PathLike[str] | None = None,
        key: str | None = None,
        max_attempts: int = 3,
        concurrency: int = 16,
        rate_limit: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
        skip_invalid: bool = False,
        create_unresolved: bool = False,
        dry_run: bool = False,
        on_result: Callable[[RowResult], None] | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        timeout: float | httpx.Timeout | None = CLIENT_TIMEOUT,
    ) -> BatchSummary:
        """Create a job per row, watch each to its end, retry what fails; see
        :meth:`AsyncJobsClient.batch`. Runs ``concurrency`` worker threads."""
        run, plan, preview = start_batch(self, application_id, rows, locals())
        if preview is not None:
            return preview
        assert run is not None and plan is not None
        try:
            for _ in self._drive(plan, run.hold, run):  # a batch's plan reports nothing
                pass
            return run.batch_summary()
        finally:
            run.close()

    def wait_many(
        self,
        job_ids: Iterable[UUID | str],
        *,
        deadline: float | None = None,
        max_unavailable: float | None = DEFAULT_MAX_UNAVAILABLE,
    ) -> Iterator[JobDetails]:
        """Wait for many jobs at once, yielding each as it finishes (``completed`` or
        ``failed``; a status the spec does not list, after a bounded wait), in the order
        they finish.

        One GET a job to learn its application and state, then rounds of list pages
        per application, paced from the client's budget: pages, not a GET per job
        per poll. ``deadline`` is how long to wait in all, in seconds (None: no
        limit); past it, WaitTimeoutError names the jobs still running.
        """
        hold, plan = start_wait_many(self, job_ids, deadline, max_unavailable)
        yield from self._drive(plan, hold)

    def close(self) -> None:
        """Close the connection pool, unless it is an http_client you passed in (that
        one is yours to close), once the requests a stopped ``retry_failed`` left to
        finish are answered. Calling it again does nothing."""
        # Requests a stopped run left to finish (each bounded by its timeout): their
        # answers must come back before the pool closes and before the program can end
        # (the run lock goes with it), or a rerun checks their jobs too early.
        finishing = client_state(self).finishing
        for end in list(finishing):
            end.wait()
        finishing.clear()
        super().close()

    def _drive(
        self, plan: Plan, hold: HoldBack, run: BulkRun | None = None
    ) -> Iterator[JobDetails]:
        """Carry out a plan's steps in this thread; yields what it reports."""
        result: Any = None
        while True:
            try:
                step = plan.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(step, Pause):
                hold.sleep(step.seconds)
            elif isinstance(step, Report):
                yield from step.jobs
            elif isinstance(step, Work):
                assert run is not None
                self._work(run, step)
            else:
                result = self._run(step, hold)

    def _work(self, run: BulkRun, work: Work) -> None:
        """Hand the items to worker threads; stop them all at the first error or Ctrl-C."""
        todo = iter(work.items)
        lock = threading.Lock()
        errors: list[BaseException] = []

        # Each thread's end, set once it has left the run (so after the run lock may be
        # released). Waited on instead of Thread.join: a join interrupted by Ctrl-C
        # (seen on CPython 3.11) marks the thread stopped while it still runs, and the
        # interpreter would then not wait for it at exit.
        ends: list[threading.Event] = []

        def guarded(body: Callable[[], None]) -> Callable[[], None]:
            end = threading.Event()
            ends.append(end)

            def run_body() -> None:
                # Counted by the thread itself: a Ctrl-C while the threads are started
                # leaves none counted that never ran (the lock would outlive the run).
                # One counted after the run closed finds the gate stopped: sends nothing.
                run.enter()
                try:
                    body()
                except Stopped:
                    return
                except BaseException as exc:  # e.g. on_outcome raised, the journal failed
                    errors.append(exc)
                    run.gate.stop()
                finally:
                    run.leave()  # the last thread out releases the run lock of a closed run
                    end.set()

            return run_body

        def worker() -> None:
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                run.gate.check()
                work.finish(self._run(work.start(item), run.hold), item)

        # Not daemons: a worker left finishing a request when the run stopped must keep
        # the program alive (and the run lock held) until that request is answered, even
        # when a script simply ends on the KeyboardInterrupt without closing the client.
        threads = [
            threading.Thread(target=guarded(worker), name=f"writer-jobs-{n}", daemon=False)
            for n in range(workers_for(work))
        ]
        if work.watch is not None:
            worker_ends = list(ends)
            plan = work.watch(lambda: not all(end.is_set() for end in worker_ends))

            def watch() -> None:
                for _ in self._drive(plan, run.hold, run):  # the watch plan reports nothing
                    pass

            threads.append(
                threading.Thread(target=guarded(watch), name="writer-jobs-watch", daemon=False)
            )
        for thread in threads:
            thread.start()
        try:
            while not errors and (running := next((e for e in ends if not e.is_set()), None)):
                # A bounded wait: Ctrl-C reaches this thread, and an error stops the run
                # at once rather than when the slowest request ends.
                running.wait(0.25)
        except BaseException:
            self._stop(run, ends)
            raise
        if errors:
            self._stop(run, ends)
            raise errors[0]

    def _stop(self, run: BulkRun, ends: Sequence[threading.Event]) -> None:
        """Stop a run's threads (``ends``: set as each ends): none sends a request's
        bytes after this (the gate is checked before each write, so one stuck in
        connect sends nothing); one whose request is out finishes it and records
        nothing, its job stays unsettled in the journal. Waits a second at most; a
        thread still out holds the run lock until it ends, and close() (leaving
        ``with``) waits for it."""
        run.gate.stop()
        give_up = time.monotonic() + 1.0
        for end in ends:
            end.wait(max(0.0, give_up - time.monotonic()))
        client_state(self).finishing.update(end for end in ends if not end.is_set())
