"""Fault injection for the fake server: which request gets which fault."""

from __future__ import annotations

import random
import threading
from collections import deque

import attrs

#: Faults answered before the operation runs (the request is not processed).
BEFORE = frozenset({"429", "500", "502", "503", "504", "drop_before"})
#: Faults applied after the operation ran (the request was processed).
AFTER = frozenset({"drop_after", "malformed", "spec_breaking"})
#: The connection closed before the operation ran, which runs ``late`` seconds later
#: (a create applied by a slow backend after the client gave up).
LATE = frozenset({"drop_late"})
KINDS = BEFORE | AFTER | LATE | {"latency"}
OPERATIONS = frozenset({"retry_job", "get_job", "list_jobs", "create_job"})


@attrs.define
class Faults:
    """Random faults: each request gets one of ``kinds`` with probability ``rate``.

    ``operations`` limits them to some operation ids (None: all). ``lose_creates``: the
    share of creates whose answer is lost, half after the job was made (drop_after),
    half before (drop_before), on top of the rest. ``retry_after``
    is what a 429 asks for (seconds); ``latency`` is added to every faulted
    "latency" request; ``late`` is how long after a "drop_late" request's
    connection closed it is carried out. ``seed`` makes the draw reproducible.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "503")
    operations: frozenset[str] | None = None
    retry_after: float = 0.05
    latency: float = 0.2
    late: float = 1.0
    seed: int = 0
    lose_creates: float = 0.0

    def __attrs_post_init__(self) -> None:
        unknown = set(self.kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(KINDS)}")
        if not 0 <= self.lose_creates <= 1:
            raise ValueError(
                f"lose_creates must be between 0 and 1, received {self.lose_creates!r}"
            )
        if not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be between 0 and 1, received {self.rate!r}")
        if self.operations is not None and not self.operations <= OPERATIONS:
            raise ValueError(f"unknown operations {sorted(self.operations - OPERATIONS)}")


class FaultPicker:
    """Decides the fault for each request: queued ones first, then random ones."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._queued: dict[str, deque[str]] = {}
        self._lock = threading.Lock()

    def queue(self, operation: str, kind: str, times: int = 1) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(KINDS)}")
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; known: {sorted(OPERATIONS)}")
        with self._lock:
            self._queued.setdefault(operation, deque()).extend([kind] * times)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._queued.clear()

    def pick(self, operation: str) -> str | None:
        with self._lock:
            queued = self._queued.get(operation)
            if queued:
                return queued.popleft()
            f = self.faults
            lost = operation == "create_job" and f.lose_creates
            if lost and self._rng.random() < f.lose_creates:
                return self._rng.choice(("drop_after", "drop_before"))
            eligible = f.operations is None or operation in f.operations
            if f.rate and eligible and self._rng.random() < f.rate:
                return self._rng.choice(f.kinds)
            return None
