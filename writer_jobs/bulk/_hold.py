"""Bulk work's policy, one object a bulk call (``HoldBack``): it holds requests back
through 429s and outages rather than failing them, bounds how long, sends one probe at
a time while the service is away, and stops a call whose service never answered, or
answered nothing but 429s for longer than its ``max_unavailable``.

It is handed to the core twice, as one object: as the retry policy of the call's flows
(``_engine.Retries``: a transient failure goes again, counted against no retry limit)
and as the admission of their requests (``_base.Admission``: the waits before each
request, what came back). The core knows nothing more of bulk work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Generator
from typing import Any

import httpx

from .. import _engine
from .._base import ClientBase
from .._budget import Budget
from .._config import ClientConfig
from .._engine import BOUNDED, Call, Failure, Safety
from .._exceptions import ServiceUnavailableError
from ._availability import PROBE_MAX, Availability, Probe

_log = logging.getLogger("writer_jobs")

#: How long bulk work waits through continuous unavailability by default, seconds.
DEFAULT_MAX_UNAVAILABLE = 600.0
#: A call whose service has not answered once since it began stops after this many
#: seconds of failures (a wrong address, a service not running): not an outage.
NEVER_ANSWERED = 10.0
#: While the service is unavailable, bulk work says so this often, seconds ...
OUTAGE_SAID = 10.0
#: ... once it has been for this long.
OUTAGE_SAY_AFTER = 1.0


class Stopped(Exception):
    """Raised in a worker when its run has stopped: it must send nothing more."""


class Gate:
    """Shut once a run stops. Asked before each request, each write of a request's
    bytes and each sleep, so nothing starts after: a sync thread or an async task that
    has begun sending is left to finish that request (cancelling would abandon only the
    answer, not the request); async tasks that have not are cancelled."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def check(self) -> None:
        if self._stopped.is_set():
            raise Stopped

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once when the run stops."""
        if self._stopped.wait(seconds):
            raise Stopped


class ClientState:
    """What the bulk layer keeps per client: its view of the service, and the requests
    stopped runs left finishing (sync: each thread's end, an Event; async: the tasks),
    which closing the client waits for."""

    def __init__(self, config: ClientConfig) -> None:
        self.availability = Availability(config.backoff_initial, min(config.backoff_max, PROBE_MAX))
        self.finishing: set[Any] = set()


_states: weakref.WeakKeyDictionary[ClientBase, ClientState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def client_state(client: ClientBase) -> ClientState:
    """The client's bulk state, made on first use (kept as long as the client is)."""
    with _states_lock:
        state = _states.get(client)
        if state is None:
            state = _states[client] = ClientState(client._settings())
        return state


class HoldBack:
    """One bulk call's policy (a retry_failed run, a wait_many): see the module.

    ``max_unavailable``: seconds of continuous unavailability waited through (None: no
    bound); ``journal``: whether the call keeps one (its messages say so only then);
    ``pacer``: the run's own cap on top of the client's budget; ``gate``: the run's
    stop; ``on_answer``: told each response (the run's server clock)."""

    def __init__(
        self,
        availability: Availability,
        base_url: str,
        *,
        max_unavailable: float | None,
        journal: bool = False,
        pacer: Budget | None = None,
        gate: Gate | None = None,
        on_answer: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.availability = availability
        self.base_url = base_url
        self.max_unavailable = max_unavailable
        self.journal = journal
        self.pacer = pacer
        self.gate = gate
        self.on_answer = on_answer
        #: When the call began: an outage that began before counts from then, and its
        #: first request probes at once (a stopped earlier call's backoff is not its own).
        self.since = time.monotonic()
        #: Whether the service answered (any HTTP response) since the call began.
        self.answered = False
        #: The client's time spent unavailable when the call began.
        self.unavailable_before = availability.unavailable_seconds
        #: Requests admitted, and failed attempts that went again (429, 408, 5xx, ...).
        self.requests = 0
        self.transient_failures = 0
        #: Async tasks with a request out (a stopped run lets them finish it).
        self.sending: set[Any] = set()
        self._said = -math.inf
        #: Since when every answer was a 429 (None: the last answer was not).
        self.limited_since: float | None = None
        self._lock = threading.Lock()

    @property
    def unavailable_seconds(self) -> float:
        """Time the service was unavailable since the call began."""
        return max(self.availability.unavailable_seconds - self.unavailable_before, 0.0)

    # --- the retry policy (_engine.Retries) -----------------------------------------
    def after(
        self, call: Call, failure: Failure, attempt: int, config: ClientConfig, until: float | None
    ) -> float:
        """A transient failure holds the request back: it goes again, after the
        server's Retry-After (capped), paced by ``admit``; a POST that may have created
        a job is not repeated, and anything else fails as a single call's would."""
        if not failure.retryable or (
            call.safety is Safety.ONLY_IF_UNPROCESSED and failure.ambiguous
        ):
            return BOUNDED.after(call, failure, attempt, config, until)  # raises
        with self._lock:
            self.transient_failures += 1
        _log.info(
            "%s %s: held back (%s); going again",
            call.method,
            config.base_url + call.path,
            _engine.reason(failure.error),
        )
        return min(failure.retry_after or 0.0, config.max_retry_after)

    # --- the admission (_base.Admission) --------------------------------------------
    def admit(self, action: _engine.Send) -> Generator[float, None, object]:
        """While the service is unavailable, wait for it (or go as the probe); then the
        run's own pace. Returns the Probe the request goes as, if it does."""
        while True:
            self.check()
            self._check_limited(action)
            wait = self._outage_wait(action)
            if isinstance(wait, Probe) or wait <= 0:
                break
            yield wait
        probe = wait if isinstance(wait, Probe) else None
        try:
            with self._lock:
                self.requests += 1
            # The run's own cap: seconds to wait (0.0 too: the clients check the gate).
            yield 0.0 if self.pacer is None else self.pacer.reserve()
        except BaseException:
            self.availability.release(probe)
            raise
        return probe

    def observe(self, received: httpx.Response | Exception | None, ticket: object) -> None:
        self.availability.observe(received, ticket if isinstance(ticket, Probe) else None)
        if self.sending:
            self.sending.discard(_current_task())
        if isinstance(received, httpx.Response):
            self.answered = True
            if received.status_code != 429:
                self.limited_since = None
            elif self.limited_since is None:
                self.limited_since = time.monotonic()
            if self.on_answer is not None:
                self.on_answer(received)
        if self.pacer is not None:
            self.pacer.observe(received)

    def writing(self) -> None:
        self.check()
        task = _current_task()
        if task is not None:
            self.sending.add(task)

    def check(self) -> None:
        if self.gate is not None:
            self.gate.check()

    def sleep(self, seconds: float) -> None:
        if self.gate is not None:
            self.gate.sleep(seconds)
        elif seconds > 0:
            time.sleep(seconds)

    # --- outages ----------------------------------------------------------------------
    def _check_limited(self, action: _engine.Send) -> None:
        """Nothing but 429s for longer than ``max_unavailable``: the service is as good
        as unavailable (a 429 storm that never ends would hold the call forever)."""
        since, bound = self.limited_since, self.max_unavailable
        if since is None or bound is None:
            return
        limited = time.monotonic() - since
        if limited > bound:
            raise self._stopped(action, limited, "only 429 (rate limited) answers", bound)

    def _bound(self) -> float | None:
        if self.answered:
            return self.max_unavailable
        bound = self.max_unavailable
        return NEVER_ANSWERED if bound is None else min(bound, NEVER_ANSWERED)

    def _outage_wait(self, action: _engine.Send) -> float | Probe:
        """How long the request waits for the service (0.0: send it), or the Probe it
        goes as. Says so every OUTAGE_SAID seconds; past the bound (a probe at the
        bound failed too), ServiceUnavailableError stops the call."""
        bound = self._bound()
        wait = self.availability.wait(self.since, bound)
        if isinstance(wait, Probe) or wait <= 0:
            return wait
        availability = self.availability
        down, reason = availability.down_for(), availability.reason
        if bound is not None and availability.outlasted(self.since, bound):
            raise self._stopped(action, down, reason, bound)
        now = time.monotonic()
        # Not for a blip (one dropped connection, a lost create's answer): for a second
        # or more of it, every OUTAGE_SAID seconds.
        if now - self._said >= OUTAGE_SAID and down >= OUTAGE_SAY_AFTER:
            self._said = now
            _log.warning(
                "API unavailable for %.0f s (%s), waiting (up to %s in a row)",
                down,
                reason,
                "no limit" if bound is None else f"{bound:g} s",
                extra={"unavailable_for": down, "unavailable_reason": reason},
            )
        return wait

    def _stopped(
        self, action: _engine.Send, down: float, reason: str, bound: float
    ) -> ServiceUnavailableError:
        url = self.base_url + str(action.kwargs["url"])
        host = httpx.URL(self.base_url).host
        if self.answered:
            text = (
                f"{host} was unavailable for {down:.0f} s in a row ({reason}), longer than "
                f"max_unavailable={bound:g} s: stopped"
            )
        else:
            text = (
                f"{host} has not answered since this run began ({reason} for {down:.0f} s, "
                f"at {self.base_url}): stopped. Check the address (base_url, "
                "WRITER_BASE_URL), that the service is running, and that this machine "
                "reaches it (network, proxy, firewall)"
            )
        if self.journal:
            text += ". The journal keeps the run's place: run again with it to resume"
        return ServiceUnavailableError(
            text,
            method=str(action.kwargs["method"]).upper(),
            url=url,
            unavailable_for=down,
            reason=reason,
            answered=self.answered,
        )


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # a thread, no event loop
        return None
