"""The proof that a retry's POST did or did not take effect, from the server's own clocks.

The API has no idempotency key: after an ambiguous attempt (a lost answer, a 5xx) a
retry may only be POSTed again once the job's timestamps prove the earlier POST did
not land. The client's clock is never compared with the server's: the job's
``updated_at`` before the trigger (``updated_before``, e.g. from a listing) and a lower
bound of the server's clock from its ``Date`` headers (``ServerClock``) decide.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from uuid import UUID

import attrs
import httpx

from writer_jobs._generated.api.template import get_job
from writer_jobs._generated.models import Job, JobDetails, JobStatus

from ._config import ClientConfig
from ._engine import Call, Flow, Safety, execute, parse_details, retry_call
from ._exceptions import RetryOutcomeUnknownError
from ._parse import epoch, http_date

#: How far the server's ``Date`` header and the clock that stamps its jobs may disagree
#: (a front end and a database behind one API): "updated before our POST" errs by this
#: much towards "cannot tell", never towards posting again. Only a job that failed this
#: recently and whose retry's answer was lost pays for it.
CLOCK_MARGIN = 30.0


def granularity(updated: float) -> float:
    """How coarse a server timestamp may be: a value on a whole hour, minute or second
    may have been truncated to it (0.0: sub-second precision)."""
    return next((step for step in (3600.0, 60.0, 1.0) if updated % step == 0), 0.0)


def retriggered_since(
    updated: float, updated_before: float | None, posted_at_least: float | None
) -> bool | None:
    """Was a failed job, now last updated at ``updated``, re-triggered by a POST that
    may have reached the server? False: provably not (posting again is safe); True:
    provably yes; None: the server's timestamps cannot tell.

    ``updated_before``, the job's updated_at before that POST (from a listing): a
    change proves a re-trigger; the same value proves none only with sub-second
    precision (a re-trigger and a failure within one stored second look the same).
    ``posted_at_least`` bounds the server's clock when the POST was sent, from below:
    a job updated (rounded up to its precision) more than CLOCK_MARGIN before it was
    not touched by that POST."""
    coarse = granularity(updated)
    if updated_before is not None:
        if abs(updated - updated_before) > 1e-6:
            return True
        if not coarse:
            return False
    if posted_at_least is not None and updated + coarse < posted_at_least - CLOCK_MARGIN:
        return False
    return None


class ServerClock:
    """A lower bound of the server's clock, from the ``Date`` headers of its responses:
    Date minus the time since reading it (read late, so it errs low)."""

    def __init__(self) -> None:
        # max(Date - monotonic time of reading it)
        self._offset: float | None = None

    def observe(self, response: httpx.Response) -> None:
        date = http_date(response.headers.get("date"))
        if date is not None:
            offset = date - time.monotonic()
            if self._offset is None or offset > self._offset:
                self._offset = offset

    def at_least(self, moment: float | None = None) -> float | None:
        """The server's clock at ``moment`` (``time.monotonic``; default now) was at
        least this (epoch seconds); None if no Date header was seen."""
        if self._offset is None:
            return None
        return (time.monotonic() if moment is None else moment) + self._offset


def _parse_dated_details(
    response: httpx.Response, method: str, url: str
) -> tuple[JobDetails, ServerClock]:
    clock = ServerClock()
    clock.observe(response)
    return parse_details(response, method, url), clock


def check_before_repeat(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    updated_before: float | None,
) -> Callable[[float, float | None], Flow[Job | None]]:
    """Before re-POSTing a retry whose outcome is unknown: GET the job.

    Not ``failed``: the earlier POST took effect, and the job's state is the result.
    ``failed``: the POST may still have re-triggered it, and it may have failed again
    since. The server's own clocks decide, never ours: with ``updated_before`` any
    change proves a re-trigger; otherwise the job's ``updated_at`` must predate the
    POST, whose server time the GET's ``Date`` header bounds from below.
    Returns None (POSTing again is safe) or raises RetryOutcomeUnknownError.
    """

    def check(sent_at: float, until: float | None) -> Flow[Job | None]:
        # Built here, not per retry() call: most calls never need a check. One GET per
        # check: a failing GET fails this attempt, and the next one checks again.
        single = attrs.evolve(config, max_retries=0)
        kwargs = get_job._get_kwargs(job_id)
        call = Call("get_job", kwargs, _parse_dated_details, Safety.IDEMPOTENT)
        url = config.base_url + retry_call(job_id).path
        details, clock = yield from execute(call, single, timeout, until=until)
        if details.status is not JobStatus.FAILED:
            return Job(id=details.id, status=details.status, created_at=details.created_at)
        updated = epoch(details.updated_at)
        posted_at_least = clock.at_least(sent_at)
        verdict: bool | None = None
        if updated is None:
            why = "it is failed and its body has no updated_at to compare"
        else:
            verdict = retriggered_since(updated, updated_before, posted_at_least)
            if verdict is False:
                return None
            if verdict:
                why = (
                    f"it is failed again, updated at {_iso(updated)} after "
                    f"{_iso(updated_before or 0.0)}: it was re-triggered since and failed again"
                )
            elif posted_at_least is None:
                why = (
                    "it is failed and the server sent no Date header to compare its updated_at with"
                )
            else:
                why = (
                    f"it is failed, updated at {_iso(updated)}, not provably before the "
                    "earlier POST could have reached the server (server time >= "
                    f"{_iso(posted_at_least)}, allowing {CLOCK_MARGIN:g} s for its clocks "
                    "to disagree): it may have been re-triggered and failed again"
                )
        raise RetryOutcomeUnknownError(
            f"POST {url}: the answer to an earlier attempt was lost, and {why}; "
            f"not sending another POST, so job {job_id} is never triggered twice",
            method="POST",
            url=url,
            job=details,
            retriggered=bool(verdict),
        )

    return check


def _iso(epoch_seconds: float) -> str:
    return datetime.datetime.fromtimestamp(epoch_seconds, datetime.UTC).isoformat()


def retry_flow(
    job_id: UUID,
    config: ClientConfig,
    timeout: httpx.Timeout | None,
    *,
    updated_before: float | None = None,
) -> Flow[Job]:
    """POST .../retry, never triggering the job twice (see check_before_repeat)."""
    return execute(
        retry_call(job_id),
        config,
        timeout,
        before_repeat=check_before_repeat(job_id, config, timeout, updated_before),
    )
