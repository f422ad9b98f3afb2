"""What a bulk run sent in the account's window, kept in its journal, so that a run
started again at once goes on at the account's pace.

Each wall-clock second in which a run was answered gives one ``sent`` line in its
journal: ``{"event": "sent", "at": <the second's end>, "requests": <how many>}`` (a 429
is not counted: it took no place in the window). A resume reads those of the last
``RECALL`` seconds and recalls them into its client's budget and its own cap: they are
its own requests, not another program's share, and its pace goes on from theirs rather
than bursting into a window they filled. retry_failed's journal and the batch's keep
them alike.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from .._budget import Budget

#: How far back a resume reads the ``sent`` lines: the account's window.
RECALL = 60.0

_log = logging.getLogger("writer_jobs")


class SentLines:
    """A journal's ``sent`` lines: those read (``recent``), and this run's count, written
    through ``write`` (the journal's own line writer) a second at a time. The run calls
    ``count`` and ``flush`` under the lock its journal's writes are made under."""

    def __init__(self, write: Callable[[dict[str, Any]], None]) -> None:
        self._write = write
        #: (wall clock, requests) of the lines read that are of the last RECALL seconds.
        self.recent: collections.deque[tuple[float, int]] = collections.deque()
        #: This second's answered requests, not yet written: [wall second, count].
        self._second = [0, 0]

    def read(self, entry: object) -> bool:
        """Take a journal entry if it is a ``sent`` line (True; False: another line).
        ValueError: a ``sent`` line without its moment or count."""
        if not isinstance(entry, dict) or entry.get("event") != "sent":
            return False
        try:
            at, requests = float(entry["at"]), int(entry["requests"])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"a sent line without its moment or count: {entry!r}") from None
        horizon = time.time() - RECALL
        if at > horizon:
            self.recent.append((at, requests))
        while self.recent and self.recent[0][0] <= horizon:
            self.recent.popleft()
        return True

    def count(self) -> None:
        """One more answered request, now; a second past goes to the journal."""
        second = int(time.time())
        if self._second[0] != second:
            self.flush()
            self._second = [second, 0]
        self._second[1] += 1

    def flush(self) -> None:
        """The pending second's count to the journal (the run is stopping)."""
        second, count = self._second
        if count:
            self._write({"event": "sent", "at": second + 1.0, "requests": count})
        self._second = [second, 0]


def recall(
    budget: Budget, pacer: Budget | None, recent: Iterable[tuple[float, int]]
) -> tuple[int, float]:
    """Recall the journal's recent ``sent`` lines into the client's ``budget`` and the
    run's own cap (``pacer``). Returns how many requests were still in the window and how
    long the next request waits for room in it (seconds)."""
    ago = time.time() - time.monotonic()  # wall clock minus the budgets' clock
    sent = [(at - ago, count) for at, count in recent]
    recalled = budget.recall(sent)
    if pacer is not None:
        pacer.recall(sent)
    return recalled, budget.wait_now()


def say_resuming(
    budget: Budget,
    pacer: Budget | None,
    recent: Iterable[tuple[float, int]],
    what: str,
    resuming: dict[str, Any],
) -> None:
    """A resume, before its first request: ``recall`` the requests its journal's last run
    sent, and say so with ``what`` it does first (the log record's ``resuming``: the
    ``resuming`` given, with ``recalled_requests`` and ``window_wait``, seconds)."""
    recalled, wait = recall(budget, pacer, recent)
    _log.info(
        "%s; %d requests it sent count in the account's window%s",
        what,
        recalled,
        f" (waiting {wait:.0f} s for room in it)" if wait >= 1 else "",
        extra={"resuming": {**resuming, "recalled_requests": recalled, "window_wait": wait}},
    )
