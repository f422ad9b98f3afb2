"""Whether the service answers, as one client's bulk work sees it: bulk work waits out
an outage instead of failing its jobs (``_hold``), and says so.

A connection failure, a timeout, a 408 or a 5xx marks the service unavailable. While
it is, bulk requests are held back and one at a time goes as a probe, after a capped
backoff (the client's ``backoff_initial``, 0.5 s by default, doubling to at most
``PROBE_MAX`` seconds): a polite handful of requests through a long outage, not every
worker hammering it; a lone dropped connection costs a moment. Any other answer (a
2xx, a 4xx, a 429: the service is up) ends the outage and lets everything through;
the time it lasted is added to ``unavailable_seconds``. Single calls are not held
back (they keep their own retries and deadline) and not counted.

No I/O: ``_hold`` asks ``wait()`` before a bulk request and tells ``observe()``
what came back; the clock is injected.
"""

from __future__ import annotations

import math
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


def unavailable(received: httpx.Response | Exception | object) -> str | None:
    """Why ``received`` says the service is unavailable ("503", "ConnectError"), or None."""
    if isinstance(received, httpx.Response):
        code = received.status_code
        return str(code) if code in UNAVAILABLE_STATUSES else None
    if isinstance(received, httpx.TransportError) and not isinstance(
        received, httpx.UnsupportedProtocol | httpx.ProxyError
    ):
        return type(received).__name__
    return None


class Probe:
    """The one request let through while the service is unavailable. Whatever ends
    it (an answer, a failure, Ctrl-C, a cancelled task, a stopped run) must give it
    back: ``observe(received, probe)`` or ``release(probe)``; until then no other
    request probes."""

    __slots__ = ()


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
        #: The probe out now, if any.
        self._probe: Probe | None = None
        #: When the last probe was let through.
        self._probed_at = -math.inf
        #: When the last failure came.
        self._failed_at = -math.inf
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

    def outlasted(self, since: float | None, bound: float) -> bool:
        """Whether the current outage outlasted ``bound`` seconds (counted from
        ``since`` at the earliest): a failure came at or past the bound, so the
        service was still away then, not only unprobed since."""
        with self._lock:
            if self.down_since is None:
                return False
            start = self.down_since if since is None else max(self.down_since, since)
            return self._failed_at >= start + bound

    def wait(self, since: float | None = None, bound: float | None = None) -> float | Probe:
        """How long a bulk request waits before asking again (0.0: send it now), or,
        while the service is unavailable, the Probe it goes as (one at a time).

        ``since``: when the request's bulk call began. A call that began during the
        outage and has seen no probe since probes at once: what an earlier call (a
        stopped run) learned about the outage is stale, and the backoff it reached is
        not this call's. ``bound``: the call's max_unavailable; a probe goes at the
        bound whatever the backoff says, so the call stops only on its failure."""
        with self._lock:
            if self.down_since is None:
                return 0.0
            if self._probe is not None:
                return RECHECK
            now = self._clock()
            due = self._next_probe
            if since is not None and self._probed_at < since:
                due = min(due, since)
            if bound is not None:
                start = self.down_since if since is None else max(self.down_since, since)
                if self._probed_at < start + bound:  # the last probe, at the bound
                    due = min(due, start + bound)
            if now >= due:
                self._probe = Probe()
                self._probed_at = now
                return self._probe
            return min(due - now, RECHECK)

    def release(self, probe: Probe | None) -> None:
        """``probe`` ended with no answer to tell (its run stopped, Ctrl-C, a cancelled
        task, not sent): the next request probes at once, when its time is due."""
        if probe is None:
            return
        with self._lock:
            if self._probe is probe:
                self._probe = None

    def observe(
        self, received: httpx.Response | Exception | object, probe: Probe | None = None
    ) -> None:
        """What a request came back with (None, or any non-answer but a transport
        error, e.g. a stopped run's: tells nothing). ``probe``: the request went as it."""
        reason = unavailable(received)
        answered = isinstance(received, httpx.Response) and reason is None
        if reason is None and not answered:
            self.release(probe)
            return
        with self._lock:
            now = self._clock()
            is_probe = probe is not None and probe is self._probe
            if is_probe:
                self._probe = None
            if answered:
                if self.down_since is not None:
                    self._total += now - self.down_since
                self.down_since = None
                self._failures = 0
                self._probe = None  # one still out is an ordinary request now
                return
            assert reason is not None
            self.reason = reason
            self._failed_at = now
            if self.down_since is None:
                self.down_since = now
            elif not is_probe:
                return  # a request already out when the outage began: not a probe
            # The first failure, or the probe's: the next probe waits twice as long.
            self._failures += 1
            delay = min(self.first * 2 ** min(self._failures - 1, 16), self.most)
            self._next_probe = now + delay
