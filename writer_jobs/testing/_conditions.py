"""Conditions of the fake's account and service over time: another program spending
the same account's budget, and outages. Scheduled in seconds from the server's start."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Literal

import attrs

OutageKind = Literal["503", "close", "stall"]
OUTAGE_KINDS = frozenset({"503", "close", "stall"})


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a number >= 0, received {value!r}")


@attrs.frozen
class OtherConsumer:
    """Another program on the same account: it spends ``per_minute`` requests a
    minute, evenly, in the same sliding window as the client, from ``start`` seconds
    after the server started, for ``duration`` seconds (None: until the end). A
    request the window refuses is sent again at its next turn, then given up."""

    per_minute: float = attrs.field(validator=_non_negative)
    start: float = attrs.field(default=0.0, validator=_non_negative)
    duration: float | None = None

    def active(self, at: float) -> bool:
        return self.start <= at and (self.duration is None or at < self.start + self.duration)


@attrs.frozen
class Outage:
    """The service is away from ``start`` seconds after the server started, for
    ``duration`` seconds: ``kind`` "503" answers 503 to every request; "close"
    closes every connection before the answer; "stall" holds every request
    unanswered until the outage ends, then closes its connection (the client's
    timeout ends it first). With ``processed`` (for "close"), each request is
    carried out first: the answers are lost, not the requests."""

    start: float = attrs.field(validator=_non_negative)
    duration: float = attrs.field(validator=_non_negative)
    kind: OutageKind = "503"
    processed: bool = False

    def __attrs_post_init__(self) -> None:
        if self.kind not in OUTAGE_KINDS:
            raise ValueError(
                f"outage kind must be '503', 'close' or 'stall', received {self.kind!r}"
            )

    def active(self, at: float) -> bool:
        return self.start <= at < self.start + self.duration


@attrs.frozen
class OtherCreator:
    """Another program creating jobs in the same application: ``per_minute`` jobs a
    minute, evenly, from ``start`` seconds after the server started, for ``duration``
    seconds (None: until the end). Each job is stamped at the moment it was due and
    runs as the fake's own do. ``application_id`` None: the fake's application."""

    per_minute: float = attrs.field(validator=_non_negative)
    start: float = attrs.field(default=0.0, validator=_non_negative)
    duration: float | None = None
    application_id: str | None = None

    def active(self, at: float) -> bool:
        return self.start <= at and (self.duration is None or at < self.start + self.duration)


Condition = OtherConsumer | Outage | OtherCreator


class Schedule:
    """The conditions in force, on a clock that starts with the server."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.origin = clock()
        self.conditions: list[Condition] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.origin = self._clock()

    def elapsed(self) -> float:
        """Seconds since the server started."""
        return self._clock() - self.origin

    def add(self, *conditions: Condition) -> None:
        for condition in conditions:
            if not isinstance(condition, OtherConsumer | Outage | OtherCreator):
                raise TypeError(
                    f"a condition is an OtherConsumer, an OtherCreator or an Outage, "
                    f"received {type(condition).__name__}"
                )
        with self._lock:
            self.conditions.extend(conditions)

    def outage(self, now: float) -> Outage | None:
        """The outage in force at ``now`` (a monotonic time), if any."""
        at = now - self.origin
        return next(
            (c for c in self.conditions if isinstance(c, Outage) and c.active(at)),
            None,
        )

    def creators(self) -> list[OtherCreator]:
        return [c for c in self.conditions if isinstance(c, OtherCreator)]

    def consumers(self) -> list[OtherConsumer]:
        return [c for c in self.conditions if isinstance(c, OtherConsumer)]
