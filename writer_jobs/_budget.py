"""The account's request budget, shared by every request a client sends, and how it
learns what the account really leaves this client.

Writer allows a number of requests a minute per account (400 by default) over a
sliding window, and answers 429 without ``Retry-After`` past it. The account is
shared: the program that created the jobs keeps spending it while a cleanup runs.
So the rate a client is given (``rate_limit=``, or "auto") is only a ceiling, and
the budget estimates what is left for it:

- **Ceiling.** A token bucket with room for ``burst`` requests, refilled at
  ``(ceiling - burst)`` a minute, never sends more than the ceiling in any window,
  lets short bursts through and spaces long runs evenly. No ceiling: unpaced.
- **Learning from a 429.** A 429 means the window is full: what this client got
  admitted in the last window is what the account leaves it (the ``share``). From
  then on the client keeps its own requests in any window (those admitted, plus
  those reserved and not answered yet) under ``HOLD`` of the share, and spaces them
  at that pace: no burst after a 429, and no request before its older ones age out
  of the window. Several 429s in a row (requests that were already out) count once.
- **Probing upward.** A full window after the last 429 (``window``) with no new
  one, the share grows back quickly to the best one learned (``RECOVER``: a storm
  passed), then, while the client uses what it has (``PRESSING``), slowly past it
  (``PROBE``): budget the other program stopped using is taken back; the next 429
  measures the account again. It never grows past the ceiling.

The same with or without a ceiling and whatever the host: a client told nothing
starts unpaced and learns from the 429s as any other. No I/O: the clients ask
``reserve()`` how long to wait and tell ``observe()`` what came back; the clock
is injected so the model is tested with a scripted one.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Iterable

import httpx

#: Writer's window, seconds: the limit counts the requests of the last minute.
WINDOW = 60.0
#: Requests a ceiling lets through at once before spacing the rest.
BURST = 20
#: Share of the estimate the client holds to: just under, so the other program's
#: jitter does not push every window over.
HOLD = 0.95
#: How fast the share grows past the best one learned, once a window passed without a
#: 429: this factor a window (1 % a second of Writer's minute).
PROBE = 1.01**60
#: ... and back up to the best one learned (after a storm): this factor a window.
RECOVER = 4.0
#: The share grows past the best one only while the client uses at least this much of
#: it (a client waiting on its jobs proves nothing about what the account would admit).
PRESSING = 0.8
#: 429s closer together than this share of the window (1 s of Writer's minute) are
#: one signal: requests already out.
SIGNAL_SPACING = 1 / 60
#: A 429 while holding under the last estimate: it was too high; cut it at least this.
CUT = 0.85
#: The least share learned (requests a window): a client that had sent little when the
#: 429 came learns little from it, and must still get through to learn more.
MIN_SHARE = 4.0
#: The window is counted in this many slots.
SLOTS = 240


class Budget:
    """One client's budget: ``reserve()`` before each request, ``observe()`` after.

    ``per_minute`` is the ceiling (None: none); ``window`` the account's window in
    seconds; ``learn=False`` keeps to the ceiling whatever comes back (a run's own
    cap on top of its client's budget). Thread-safe.
    """

    def __init__(
        self,
        per_minute: float | None,
        *,
        burst: int = BURST,
        window: float = WINDOW,
        learn: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The ceiling, requests a minute (None: none).
        self.per_minute = per_minute
        self.window = window
        self._learn = learn
        burst = 0 if per_minute is None else min(burst, int(per_minute // 2))
        #: The ceiling's pace, requests a second (None: unpaced).
        self._ceiling_rate = None if per_minute is None else (per_minute - burst) / 60.0
        #: The ceiling in requests a window.
        self._ceiling_count = None if per_minute is None else per_minute * window / 60.0
        self._capacity = float(burst)
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._updated = clock()
        self._last_rate: float | None = None
        #: Requests a window the account leaves this client, learned from 429s
        #: (None: nothing learned yet; the ceiling, if any, paces).
        self.share: float | None = None
        #: The most this client had admitted in a window: a level the account allowed.
        self._best = 0.0
        #: This client's answered requests other than 429 (its part of the account's
        #: window), counted in slots of ``window / SLOTS`` seconds: [slot start, count],
        #: oldest first. Slots keep the memory fixed whatever the pace.
        self._slot = window / SLOTS
        self._admitted: collections.deque[list[float]] = collections.deque()
        self._admitted_count = 0
        #: Requests reserved and not answered yet.
        self._in_flight = 0
        self._held_until = -math.inf
        self._grown_at = -math.inf
        self._last_signal = -math.inf
        self._lock = threading.Lock()
        #: 429s seen by this client.
        self.rate_limited = 0
        #: 429s the budget learned from (several in a row are one): a request reserved
        #: before one should reserve again rather than go out.
        self.signals = 0

    # --- what the clients call ----------------------------------------------------
    def reserve(self) -> float:
        """Claim the next request's place; returns how long to wait before sending it."""
        with self._lock:
            now = self._clock()
            self._age(now)
            self._grow(now, asking=1)
            rate = self._rate()
            self._in_flight += 1
            if rate is None:
                return 0.0
            if self._tokens < 0 and self._last_rate and rate != self._last_rate:
                # Requests already scheduled at the old pace keep their times: the debt
                # is kept in seconds, so a new one never overtakes them (at a faster
                # pace it would, and a window could hold more than the ceiling).
                self._tokens *= rate / self._last_rate
            self._last_rate = rate
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * rate)
            self._updated = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / rate
            return max(wait, self._window_wait(now))

    def observe(self, received: httpx.Response | Exception | None) -> None:
        """What a reserved request came back with: a 429 is a signal, any other
        answer a place it took in the account's window; no answer (a connection
        failure, a stopped run) took none that can be counted."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            if not isinstance(received, httpx.Response):
                return
            now = self._clock()
            if received.status_code == 429:
                self.rate_limited += 1
                # A Retry-After says when to come back (the engine waits it out); only
                # a bare 429 says the window is full and leaves the pace to be learned.
                if self._learn and not _asks_to_wait(received):
                    self._signal(now)
            else:
                self._age(now)
                start = now - now % self._slot
                if self._admitted and self._admitted[-1][0] >= start:
                    self._admitted[-1][1] += 1
                else:
                    self._admitted.append([start, 1.0])
                self._admitted_count += 1
                self._best = max(self._best, float(self._admitted_count))

    def recall(self, sent: Iterable[tuple[float, int]]) -> int:
        """Requests the work this budget continues sent before it existed (a bulk run
        resumed from its journal): ``(when, on this budget's clock; how many)``. Those
        still in the window are this client's own: its pace goes on from theirs, rather
        than bursting into a window they filled and reading the 429s that follow as
        another program's share. Returns how many were still in the window."""
        with self._lock:
            now = self._clock()
            # A count stamped at its second's end may be a moment ahead: it is now.
            recent = sorted((min(at, now), n) for at, n in sent if at > now - self.window and n > 0)
            if not recent:
                return 0
            rate = self._rate()
            # The token bucket, as if they had gone through it (from full, at the first).
            self._tokens, self._updated = self._capacity, recent[0][0]
            for at, count in recent:
                if rate is not None:
                    self._tokens = min(self._capacity, self._tokens + (at - self._updated) * rate)
                self._tokens -= count
                self._updated = at
                start = at - at % self._slot
                if self._admitted and self._admitted[-1][0] >= start:
                    self._admitted[-1][1] += count
                else:
                    self._admitted.append([start, float(count)])
                self._admitted_count += count
            self._last_rate = rate
            if rate is None:
                self._tokens = max(self._tokens, 0.0)  # unpaced: no debt to wait out
            self._age(now)
            self._best = max(self._best, float(self._admitted_count))
            return sum(n for _, n in recent)

    def wait_now(self) -> float:
        """How long a request reserved now would wait (nothing is reserved)."""
        with self._lock:
            now = self._clock()
            self._age(now)
            rate = self._rate()
            if rate is None:
                return self._window_wait(now)
            tokens = min(self._capacity, self._tokens + (now - self._updated) * rate) - 1.0
            return max(0.0 if tokens >= 0 else -tokens / rate, self._window_wait(now))

    @property
    def recheck(self) -> float:
        """A request told to wait longer than this waits this long, gives its place
        back and asks again: the pace may have changed meanwhile (learned up after a
        storm, or down after a 429)."""
        return self.window * SIGNAL_SPACING

    def release(self) -> None:
        """A reserved request was not sent (a 429 came while it waited, its run
        stopped, its call's deadline would pass): its place goes back."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._tokens = min(self._capacity, self._tokens + 1.0)

    def pace(self) -> float | None:
        """The pace the budget holds to now, requests a minute (None: unpaced)."""
        with self._lock:
            now = self._clock()
            self._age(now)
            self._grow(now)
            rate = self._rate()
            return None if rate is None else rate * 60.0

    # --- the model ----------------------------------------------------------------
    def _rate(self) -> float | None:
        """Requests a second: the ceiling's, or under the learned share if lower."""
        if self.share is None:
            return self._ceiling_rate
        learned = self.share * HOLD / self.window
        return learned if self._ceiling_rate is None else min(learned, self._ceiling_rate)

    def _limit(self) -> float:
        """Requests this client keeps in any window, once a share is learned."""
        assert self.share is not None
        return max(self.share * HOLD, 1.0)

    def _window_wait(self, now: float) -> float:
        """With a learned share: how long until this request fits in the window
        (its older requests, admitted or still out, age out of it first)."""
        if self.share is None:
            return 0.0
        # The requests in the window once this one is sent (it is already in flight).
        over = self._admitted_count + self._in_flight - math.floor(self._limit())
        if over <= 0 or over > self._admitted_count:
            # Fits; or the requests out exceed the limit on their own: their answers
            # tell more, and meanwhile the pace spaces this one.
            return 0.0
        for start, count in self._admitted:
            over -= int(count)
            if over <= 0:  # this slot's requests leave the window at its end
                return max(start + self._slot + self.window - now, 0.0)
        return 0.0  # pragma: no cover - over <= the count, so a slot ends it

    def _age(self, now: float) -> None:
        admitted = self._admitted
        while admitted and admitted[0][0] + self._slot <= now - self.window:
            self._admitted_count -= int(admitted.popleft()[1])

    def _signal(self, now: float) -> None:
        """A 429: the window is full; what this client got into it is its share."""
        # Whatever happens to the share, nothing more goes out at once.
        self._tokens = min(self._tokens, 0.0)
        self._capacity = 1.0
        self._updated = now
        if now - self._last_signal < self.window * SIGNAL_SPACING:
            return  # requests that were out before the first 429 of this burst
        self._last_signal = now
        self.signals += 1
        self._age(now)
        learned = float(self._admitted_count)
        if self.share is not None and now <= self._held_until and learned < self._limit():
            # Refused while holding under the last estimate, not probing: the other
            # program spends more than it did; the count alone may not show how much.
            learned = min(learned, self.share * CUT)
        learned = max(learned, MIN_SHARE)
        if self._ceiling_count is not None:
            learned = min(learned, self._ceiling_count)
        self.share = learned
        self._held_until = now + self.window
        self._grown_at = self._held_until

    def _grow(self, now: float, *, asking: int = 0) -> None:
        """Probe upward, a window after the last 429: quickly back to the best share
        learned before (a storm passed), slowly past it and only while it is used.

        ``asking``: requests being reserved now (not in flight yet), part of the demand."""
        if self.share is None or now <= self._held_until:
            return
        elapsed = (now - max(self._grown_at, self._held_until)) / self.window
        self._grown_at = now
        if elapsed <= 0:
            return
        if self.share < self._best:
            self.share = min(self.share * RECOVER**elapsed, self._best)
        elif self._admitted_count + self._in_flight + asking >= PRESSING * math.floor(
            self._limit()
        ):
            # Measured against what the window lets through (whole requests): a client
            # held to floor(limit) a window uses all it has, and must still grow.
            self.share *= PROBE**elapsed
        self._capacity = max(self._capacity, min(self._burst, self.share * HOLD / 2))
        if self._ceiling_count is not None and self.share >= self._ceiling_count:
            # Back at the ceiling: its token bucket alone keeps under it.
            self.share = None
            self._capacity = self._burst


def _asks_to_wait(response: httpx.Response) -> bool:
    headers = response.headers
    return "retry-after" in headers or "retry-after-ms" in headers
