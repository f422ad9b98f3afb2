"""Concepts the core and the bulk layer both use, defined once: each test asks every
user of one concept and expects one answer."""

from __future__ import annotations

import datetime
import email.utils
import time
from typing import Any

import httpx
import pytest

from writer_jobs import Selection
from writer_jobs._config import ACCOUNT_LIMIT, resolve_rate_limit
from writer_jobs._engine import Sleep, wait_flow
from writer_jobs._exactly_once import ServerClock
from writer_jobs._generated.models import JobDetails
from writer_jobs._parse import epoch, http_date
from writer_jobs.bulk._watcher import Watcher

from .helpers import JOB_ID, details_body
from .test_engine import _config, _drive, _response

UPDATED = "2026-11-29T05:00:00.250000+00:00"


@pytest.mark.parametrize("status", ["completed", "failed", "in_progress", "queued"])
def test_wait_and_the_watcher_end_on_the_same_statuses(status: str) -> None:
    """wait() stops polling exactly where the watcher (wait_many, retry_failed(wait=True))
    reports an end: completed and failed; in_progress and an unknown status are not."""
    body = details_body(status, updated_at=UPDATED)
    script = [_response(200, body), _response(200, details_body("completed"))]
    _, actions = _drive(wait_flow(JOB_ID, _config(), None, deadline=None), script)
    wait_ends = not any(isinstance(a, Sleep) for a in actions)
    watcher = Watcher("my-app")
    watcher.add(JOB_ID, None)
    assert (
        watcher._ended(JobDetails.from_dict(body))
        == wait_ends
        == (status in {"completed", "failed"})
    )


def test_a_naive_datetime_is_read_as_utc_everywhere() -> None:
    """A server's naive timestamp, a user's naive Selection bound and an asctime Date
    header (no zone) all read as UTC."""
    naive = datetime.datetime(2026, 11, 29, 5, 0, 0)
    aware = naive.replace(tzinfo=datetime.UTC)
    assert epoch(naive) == epoch(aware) == aware.timestamp()
    assert http_date("Sun Nov 29 05:00:00 2026") == aware.timestamp()
    assert Selection(failed_since=naive).to_json() == Selection(failed_since=aware).to_json()
    job = JobDetails.from_dict(details_body("failed", updated_at="2026-11-29T05:00:01"))
    assert Selection(failed_since=naive).matches(job)
    assert not Selection(failed_before=aware).matches(job)


def test_the_server_clock_lower_bound_is_date_minus_the_time_since_it_was_read() -> None:
    """One bound serves the retry check (the server's time when a POST was sent) and a
    run's started lines (its time now): the Date header less the time since reading."""
    date = time.time() - 3600.0  # a server clock an hour behind ours: never compared
    headers: dict[str, Any] = {"date": email.utils.formatdate(date, usegmt=True)}
    clock = ServerClock()
    assert clock.at_least() is None
    sent = time.monotonic()
    clock.observe(httpx.Response(200, headers=headers))
    read = time.monotonic()
    whole_date = float(int(date))
    at_sent = clock.at_least(sent)
    assert at_sent is not None
    assert whole_date - (read - sent) - 1e-3 <= at_sent <= whole_date
    assert clock.at_least(sent + 10.0) == pytest.approx(at_sent + 10.0)


def test_auto_pacing_is_the_account_limit_for_the_real_api() -> None:
    assert resolve_rate_limit("auto", "https://api.writer.com") == ACCOUNT_LIMIT == 400.0


class _Recording:
    """An Admission that records what the client asks of it (a layer above's view)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def admit(self, action: Any) -> Any:
        self.seen.append("admit")
        yield 0.0
        return "ticket"

    def observe(self, received: Any, ticket: object) -> None:
        status = received.status_code if isinstance(received, httpx.Response) else received
        self.seen.append(f"observe {status} {ticket}")

    def writing(self) -> None:
        if self.seen[-1] != "writing":  # once per request however many writes it takes
            self.seen.append("writing")

    def check(self) -> None:
        self.seen.append("check")

    def sleep(self, seconds: float) -> None:
        self.seen.append("check")  # the sync client's wait: a check, then the sleep


async def test_both_clients_carry_out_the_one_admission_path_alike() -> None:
    """The admission path is written once (``_exchange_steps``): the sync and async
    clients ask a layer's admission the same things in the same order, a 503 retried
    and a 200, each request admitted, written and observed once with its ticket."""
    from writer_jobs import AsyncJobsClient, JobsClient
    from writer_jobs.testing import FakeWriterAPI

    with FakeWriterAPI(seed_failed=1) as api:
        api.fail_next("get_job", "503")
        settings: dict[str, Any] = {"base_url": api.base_url, "backoff_initial": 0.001}
        sync, asynchronous = _Recording(), _Recording()
        with JobsClient(api.api_key, **settings) as client:
            client._run(client._get_flow(api.seeded[0], None), sync)
        api.fail_next("get_job", "503")
        async with AsyncJobsClient(api.api_key, **settings) as aclient:
            await aclient._run(aclient._get_flow(api.seeded[0], None), asynchronous)
    one = ["admit", "check", "writing"]
    assert sync.seen == asynchronous.seen
    assert sync.seen == [*one, "observe 503 ticket", "check", *one, "observe 200 ticket"]
