"""The account's request budget, shared by every request a client sends.

Writer allows a number of requests a minute per account (400 by default), over a
sliding window. A token bucket with room for ``burst`` requests, refilled at
``(limit - burst)`` a minute, never sends more than ``limit`` in any minute, lets
short bursts (a few calls in a script) through at once, and spaces long runs
evenly. A 429 halves the pace for the whole client (once per burst of 429s, so a
missing ``Retry-After`` slows every worker, not one); each success recovers 1 %.
No I/O: the clients ask it how long to wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

BURST = 20


class Budget:
    def __init__(
        self,
        per_minute: float | None,
        *,
        burst: int = BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        burst = 0 if per_minute is None else min(burst, int(per_minute // 2))
        self.max_rate = None if per_minute is None else (per_minute - burst) / 60.0
        self.rate = self.max_rate
        self.capacity = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()
        self._last_halving = -1e9
        self._lock = threading.Lock()
        #: 429s seen by this client.
        self.rate_limited = 0

    def reserve(self) -> float:
        """Claim the next request's place; returns how long to wait before sending it."""
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def observe(self, outcome: httpx.Response | Exception | None) -> None:
        if not isinstance(outcome, httpx.Response):
            return
        with self._lock:
            if outcome.status_code == 429:
                self.rate_limited += 1
                now = self._clock()
                if self.rate is not None and self.max_rate is not None:
                    self._tokens = min(self._tokens, 0.0)  # no more bursting
                    if now - self._last_halving > 1.0:
                        self.rate = max(self.rate / 2, self.max_rate / 64)
                        self._last_halving = now
            elif self.rate is not None and self.max_rate is not None and self.rate < self.max_rate:
                self.rate = min(self.max_rate, self.rate + self.max_rate / 100)
