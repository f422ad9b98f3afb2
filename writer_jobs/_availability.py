"""Whether the service answers, as one client sees it: bulk work waits out an outage
instead of failing its jobs, and says so.

A connection failure, a timeout, a 408 or a 5xx marks the service unavailable. While
it is, bulk requests are held back and one at a time goes as a probe, after a capped
backoff (the client's ``backoff_initial``, 0.5 s by default, doubling to at most
``PROBE_MAX`` seconds): a polite handful of requests through a long outage, not every
worker hammering it; a lone dropped connection costs a moment. Any other answer (a
2xx, a 4xx, a 429: the service is up) ends the outage and lets everything through;
the time it lasted is added to ``unavailable_seconds``. Single calls are not held
back (they keep their own retries and deadline) but their answers count too.

No I/O: the clients ask ``wait()`` before a bulk request and tell ``observe()``
what came back; the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

#: Statuses that say the service is not answering (429 is the budget's, not this).
UNAVAILABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
#: The longest wait between probes, seconds.
PROBE_MAX = 15.0
#: How long a waiting request sleeps before it looks again (the probe may have answered).
RECHECK = 0.5


def unavailable(outcome: httpx.Response | Exception | object) -> str | None:
    """Why ``outcome`` says the service is unavailable ("503", "ConnectError"), or None."""
    if isinstance(outcome, httpx.Response):
        code = outcome.status_code
        return str(code) if code in UNAVAILABLE_STATUSES else None
    if isinstance(outcome, httpx.TransportError) and not isinstance(
        outcome, httpx.UnsupportedProtocol | httpx.ProxyError
    ):
        return type(outcome).__name__
    return None


class Availability:
    """One client's view of whether the service answers. Thread-safe."""

    def __init__(
        self,
        first: float = 0.5,
        most: float = PROBE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The first probe's delay after a failure, seconds; it doubles up to ``most``.
        self.first = first
        self.most = most
        self._clock = clock
        self._lock = threading.Lock()
        #: When the current outage began (None: the service answers).
        self.down_since: float | None = None
        #: What the last failure was ("503", "RemoteProtocolError").
        self.reason = ""
        self._failures = 0
        self._next_probe = 0.0
        self._probe_out = False
        self._total = 0.0

    @property
    def unavailable_seconds(self) -> float:
        """Time spent unavailable so far, the current outage included."""
        with self._lock:
            current = 0.0 if self.down_since is None else self._clock() - self.down_since
            return self._total + current

    def down_for(self) -> float:
        """How long the current outage has lasted (0.0: none)."""
        with self._lock:
            return 0.0 if self.down_since is None else self._clock() - self.down_since

    def wait(self) -> float:
        """How long a bulk request waits before asking again (0.0: send it now; while
        the service is unavailable, one request at a time is let through as a probe)."""
        with self._lock:
            if self.down_since is None:
                return 0.0
            now = self._clock()
            if not self._probe_out and now >= self._next_probe:
                self._probe_out = True
                return 0.0
            if self._probe_out:
                return RECHECK
            return min(self._next_probe - now, RECHECK)

    def observe(self, outcome: httpx.Response | Exception | object) -> None:
        """What a request came back with (None, or any non-answer but a transport
        error, e.g. a stopped run's: tells nothing)."""
        reason = unavailable(outcome)
        answered = isinstance(outcome, httpx.Response) and reason is None
        if reason is None and not answered:
            with self._lock:
                self._probe_out = False
            return
        with self._lock:
            now = self._clock()
            if answered:
                if self.down_since is not None:
                    self._total += now - self.down_since
                self.down_since = None
                self._failures = 0
                self._probe_out = False
                return
            assert reason is not None
            self.reason = reason
            if self.down_since is None:
                self.down_since = now
            elif not self._probe_out:
                return  # a request already out when the outage began: not a probe
            # The first failure, or the probe's: the next probe waits twice as long.
            self._failures += 1
            delay = min(self.first * 2 ** min(self._failures - 1, 16), self.most)
            self._next_probe = now + delay
            self._probe_out = False
