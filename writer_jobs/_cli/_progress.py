"""What a command says while it works, on stderr: its progress, a connection retried,
the API unavailable (notices, from the library's log records)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import httpx

from .. import APIConnectionError, APITimeoutError
from ._output import Output


class RetryNotice(logging.Handler):
    """Without -v: one line on stderr when a connection fails and is retried, so a
    server that refuses connections is not minutes of silence."""

    #: At most one line per attempt number in this many seconds (many workers fail at once).
    QUIET = 5.0

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output
        self._last: tuple[int, float] = (0, -self.QUIET)

    def emit(self, record: logging.LogRecord) -> None:
        error = getattr(record, "retry_error", None)
        if not isinstance(error, APIConnectionError):
            return
        attempt = int(getattr(record, "retry_attempt", 0)) + 1
        now = time.monotonic()
        if attempt <= self._last[0] and now - self._last[1] < self.QUIET:
            return
        self._last = (attempt, now)
        text = str(error).lower()
        what = (
            "connection refused"
            if "refused" in text
            else "timed out"
            if isinstance(error, APITimeoutError)
            else "connection failed"
        )
        where = httpx.URL(error.url).netloc.decode() or error.url
        self.output.err.print(
            f"writer-jobs: {where}: {what}, retrying in {getattr(record, 'retry_delay', 0):.1f} s "
            f"(attempt {attempt} of {getattr(record, 'retry_attempts', '?')})",
            highlight=False,
            markup=False,
        )


class BulkNotice(logging.Handler):
    """What bulk work is doing that a person must not guess at: a resume (said before
    its first request: what it checks first, and whether it waits for the account's
    window), and the API unavailable (the library logs it every 10 s)."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output

    def shows(self, record: logging.LogRecord) -> bool:
        """Is this record one this handler says in its own words? (-v's log lines leave
        it out: each notice is shown once.)"""
        resuming = isinstance(getattr(record, "resuming", None), dict)
        return (resuming and not self.output.as_json) or hasattr(record, "unavailable_for")

    def emit(self, record: logging.LogRecord) -> None:
        resuming = getattr(record, "resuming", None)
        if isinstance(resuming, dict) and not self.output.as_json:
            self.output.say(_resuming(resuming))
        down = getattr(record, "unavailable_for", None)
        if down is None:
            return
        reason = getattr(record, "unavailable_reason", "")
        at = f" at {self.output.api}" if self.output.api else ""
        since = f"{down:.0f} s" if down >= 1 else "under 1 s"  # not "0 s": it just began
        journal = self.output.journal
        place = f", the journal keeps your place ({journal})" if journal else ""
        self.output.say(
            f"writer-jobs: API unavailable for {since}{at} ({reason}), waiting; Ctrl-C stops{place}"
        )


def _resuming(state: dict[str, Any]) -> str:
    words = [f"writer-jobs: resuming from {state['journal']}"]
    if state.get("kind") == "batch":
        done, followed, lost = int(state["done"]), int(state["followed"]), int(state["lost"])
        if lost:
            words.append(
                f"{lost} {'create' if lost == 1 else 'creates'} in flight when it stopped: "
                "proved from the job list first, never created twice"
            )
        if followed:
            words.append(f"{followed} created: followed, never created again")
        if done:
            words.append(f"{done} done: skipped")
    else:
        checked, final = int(state["in_flight"]), int(state["final"])
        if checked:
            words.append(
                f"{checked} {'job' if checked == 1 else 'jobs'} the last run started: checked "
                "first (a GET each), never triggered twice"
            )
        if final:
            words.append(f"{final} done: skipped")
    recalled, wait = int(state["recalled_requests"]), float(state["window_wait"])
    if recalled:
        window = f"its {recalled} requests of the last minute count in the account's window"
        words.append(window + (f": waiting {wait:.0f} s for room in it" if wait >= 1 else ""))
    return "; ".join(words)


def setup_logging(verbosity: int, output: Output) -> None:
    logger = logging.getLogger("writer_jobs")
    for notice in [h for h in logger.handlers if isinstance(h, BulkNotice)]:
        logger.removeHandler(notice)  # main() run again in one process: one notice
    notice = BulkNotice(output)
    logger.addHandler(notice)
    if verbosity <= 0:
        logger.addHandler(RetryNotice(output))
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(lambda record: not notice.shows(record))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


class Progress:
    """One progress display on stderr: a live bar at a terminal, a plain line at most
    every 5 s in a log file or a pipe, nothing with --json. It starts when told to
    (after any confirmation), so its clock never counts the time spent at a prompt.
    With ``sent``, it shows the jobs sent apart from those finished."""

    def __init__(self, output: Output, label: str, *, sent: bool) -> None:
        self.output, self.label, self.show_sent = output, label, sent
        self.total: int | None = None
        self.sent = self.finished = 0
        self.started: float | None = None
        self._last_line = 0.0  # when the last plain line was printed (0: none yet)
        self._bar: Any = None
        self._task: Any = None

    def start(self) -> None:
        if self.started is not None:
            return
        self.started = time.monotonic()
        if self.output.as_json or not self.output.err.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        counts = "{task.completed:.0f}/{task.total:.0f}"
        if self.show_sent:
            counts = "sent {task.fields[sent]}, finished " + counts
        columns = [
            TextColumn(self.label),
            BarColumn(bar_width=24),
            TextColumn(counts),
            TimeElapsedColumn(),
        ]
        self._bar = Progress(*columns, console=self.output.err, transient=False)
        self._task = self._bar.add_task(self.label, total=self.total or 0, sent=self.sent)
        self._bar.start()

    def update(self, total: int | None, sent: int, finished: int) -> None:
        self.total, self.sent, self.finished = total, sent, finished
        if self.started is None:
            return
        if self._bar is not None:
            self._bar.update(self._task, total=total, completed=finished, sent=sent)
        elif not self.output.as_json and time.monotonic() - (self._last_line or self.started) >= 5:
            self._line()

    def stop(self) -> None:
        if self.started is None:
            return
        if self._bar is not None:
            self._bar.stop()
        elif not self.output.as_json and self._last_line:  # it said something: end it
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _line(self) -> None:
        self._last_line = time.monotonic()
        of = f"/{self.total}" if self.total is not None else ""
        sent = f"sent {self.sent}, " if self.show_sent else ""
        elapsed = self._last_line - (self.started or self._last_line)
        self.output.err.print(
            f"{self.label}: {sent}finished {self.finished}{of}, {elapsed:.0f} s",
            highlight=False,
            markup=False,
        )
