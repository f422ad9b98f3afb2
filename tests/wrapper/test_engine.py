"""The sans-I/O engine driven directly: scripted outcomes in, actions out. No client,
no transport: what it decides is all there is to see."""

from __future__ import annotations

import email.utils
import time
from typing import Any
from uuid import UUID

import httpx
import pytest

from writer_jobs import (
    APITimeoutError,
    InternalServerError,
    JobStatus,
    ResponseValidationError,
    RetryOutcomeUnknownError,
)
from writer_jobs._config import ClientConfig, resolve_config
from writer_jobs._engine import (
    Flow,
    Pager,
    Send,
    Sleep,
    create_call,
    execute,
    get_call,
)
from writer_jobs._exactly_once import CLOCK_MARGIN, retry_flow
from writer_jobs._generated.models import JobDetails, JobList
from writer_jobs._validation import inputs
from writer_jobs.bulk._selection import AnchoredPager

from .helpers import JOB_ID, details_body, job_body


def _config(**overrides: Any) -> ClientConfig:
    settings: dict[str, Any] = {
        "api_key": "k",
        "base_url": "https://api.test",
        "timeout": 5.0,
        "max_retries": 3,
        "allow_insecure_http": False,
        "backoff_initial": 0.01,
        "backoff_max": 0.02,
    }
    return resolve_config(**(settings | overrides))


def _drive(flow: Flow[Any], outcomes: list[Any]) -> tuple[Any, list[Any]]:
    """Run a flow: each Send gets the next scripted outcome; sleeps are not slept."""
    actions: list[Any] = []
    try:
        action = next(flow)
        while True:
            actions.append(action)
            action = flow.send(None if isinstance(action, Sleep) else outcomes.pop(0))
    except StopIteration as done:
        return done.value, actions


def _kinds(actions: list[Any]) -> list[str]:
    return [
        "sleep" if isinstance(a, Sleep) else f"{a.kwargs['method'].upper()} {a.kwargs['url']}"
        for a in actions
    ]


def _response(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


POST = f"POST /v1/applications/jobs/{JOB_ID}/retry"
GET = f"GET /v1/applications/jobs/{JOB_ID}"


def test_a_get_is_retried_through_5xx_and_each_sleep_names_what_it_retries() -> None:
    script = [_response(503), _response(502), _response(200, details_body("completed"))]
    result, actions = _drive(execute(get_call(JOB_ID), _config(), None), script)
    assert isinstance(result, JobDetails) and result.status is JobStatus.COMPLETED
    assert _kinds(actions) == [GET, "sleep", GET, "sleep", GET]
    sleeps = [a for a in actions if isinstance(a, Sleep)]
    assert [type(s.retry_of).__name__ for s in sleeps] == ["InternalServerError"] * 2


def test_every_send_carries_the_calls_deadline() -> None:
    before = time.monotonic()
    _, actions = _drive(
        execute(get_call(JOB_ID), _config(deadline=30), None), [_response(200, details_body())]
    )
    send = actions[0]
    assert isinstance(send, Send) and send.until is not None
    assert before + 29 < send.until <= time.monotonic() + 30


def test_a_retry_after_past_the_deadline_gives_up_without_waiting() -> None:
    script = [_response(429, None, **{"Retry-After": "5"})]
    with pytest.raises(Exception, match="deadline of 1 s"):
        _drive(execute(get_call(JOB_ID), _config(deadline=1), None), script)


def test_an_ambiguous_retry_is_checked_and_posted_again_when_the_job_is_older() -> None:
    old: dict[str, Any] = {"updated_at": "2025-01-02T03:04:05Z"}
    now = email.utils.formatdate(usegmt=True)
    script = [
        httpx.ReadError("reset"),
        _response(200, details_body("failed", **old), Date=now),
        _response(202, job_body()),
    ]
    job, actions = _drive(retry_flow(JOB_ID, _config(), None), script)
    assert job.status is JobStatus.IN_PROGRESS
    assert _kinds(actions) == [
        POST,
        "sleep",
        "sleep",
        GET,
        POST,
    ]  # backoff, then the settle (answer lost)


def test_an_ambiguous_retry_whose_job_failed_again_is_not_posted_again() -> None:
    # Failed again a second after the POST could have landed (by the server's clock).
    updated: dict[str, Any] = {
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 1))
    }
    script = [
        httpx.ReadTimeout("timed out"),
        _response(200, details_body("failed", **updated), Date=email.utils.formatdate(usegmt=True)),
    ]
    with pytest.raises(RetryOutcomeUnknownError) as caught:
        _drive(retry_flow(JOB_ID, _config(), None), script)
    assert caught.value.job.status is JobStatus.FAILED and not caught.value.retriggered


def test_with_the_listed_updated_at_a_moved_timestamp_proves_the_retrigger() -> None:
    listed = 1_700_000_000.25
    moved: dict[str, Any] = {"updated_at": "2023-11-14T22:13:21.250000+00:00"}  # 1 s later
    script = [_response(503), _response(200, details_body("failed", **moved))]
    with pytest.raises(RetryOutcomeUnknownError) as caught:
        _drive(retry_flow(JOB_ID, _config(), None, updated_before=listed), script)
    assert caught.value.retriggered
    same: dict[str, Any] = {"updated_at": "2023-11-14T22:13:20.250000+00:00"}
    script = [
        _response(503),
        _response(200, details_body("failed", **same)),
        _response(202, job_body()),
    ]
    _, actions = _drive(retry_flow(JOB_ID, _config(), None, updated_before=listed), script)
    assert _kinds(actions) == [POST, "sleep", GET, POST]


def test_an_unchanged_whole_second_updated_at_proves_nothing_by_itself() -> None:
    """A server storing whole seconds shows the same updated_at for "not re-triggered"
    and "re-triggered and failed again within that second": only the Date bound decides."""
    listed = 1_700_000_000.0
    same: dict[str, Any] = {"updated_at": "2023-11-14T22:13:20+00:00"}
    just_after = email.utils.formatdate(listed + 1, usegmt=True)
    script = [_response(503), _response(200, details_body("failed", **same), Date=just_after)]
    with pytest.raises(RetryOutcomeUnknownError, match="not provably before") as caught:
        _drive(retry_flow(JOB_ID, _config(), None, updated_before=listed), script)
    assert not caught.value.retriggered
    much_later = email.utils.formatdate(listed + 3600, usegmt=True)
    script = [
        _response(503),
        _response(200, details_body("failed", **same), Date=much_later),
        _response(202, job_body()),
    ]
    _, actions = _drive(retry_flow(JOB_ID, _config(), None, updated_before=listed), script)
    assert _kinds(actions) == [POST, "sleep", GET, POST]


def test_a_failure_within_the_clock_margin_of_the_post_is_not_posted_again() -> None:
    """The Date header runs ahead of the clock that stamps jobs by up to CLOCK_MARGIN:
    a job that failed again right after the lost POST looks that much older."""
    now = time.time()
    skewed: dict[str, Any] = {
        "updated_at": time.strftime(
            "%Y-%m-%dT%H:%M:%S.5+00:00", time.gmtime(now - CLOCK_MARGIN + 2)
        )
    }
    script = [
        httpx.ReadTimeout("timed out"),
        _response(
            200, details_body("failed", **skewed), Date=email.utils.formatdate(now, usegmt=True)
        ),
    ]
    with pytest.raises(RetryOutcomeUnknownError, match="clocks"):
        _drive(retry_flow(JOB_ID, _config(), None), script)


def test_a_create_is_never_repeated_after_an_ambiguous_failure() -> None:
    call = create_call("app", inputs({"topic": "cats"}))
    with pytest.raises(APITimeoutError, match="may have been created"):
        _drive(execute(call, _config(), None), [httpx.ReadTimeout("t"), _response(202, job_body())])


def test_a_retry_that_stays_ambiguous_gives_up_saying_so() -> None:
    old: dict[str, Any] = {"updated_at": "2025-01-02T03:04:05Z"}
    check = _response(200, details_body("failed", **old), Date=email.utils.formatdate(usegmt=True))
    script = [_response(500), check, _response(500), check, _response(500)]
    with pytest.raises(InternalServerError, match="may have been re-triggered"):
        _drive(retry_flow(JOB_ID, _config(max_retries=2), None), script)


def _page(ids: list[int], total: int | None) -> JobList:
    body: dict[str, Any] = {"result": [details_body("failed", UUID(int=i)) for i in ids]}
    if total is not None:
        body["totalCount"] = total
    return JobList.from_dict(body)


def test_the_pager_needs_an_empty_page_without_total_count() -> None:
    pager = Pager("app", JobStatus.FAILED, 3)
    assert pager.next_call() is not None
    pager.accept(_page([1, 2], None))  # short: a capped page, maybe
    assert pager.next_call() is not None and pager.offset == 2
    pager.accept(_page([], None))
    assert pager.next_call() is None


def test_the_pager_stops_at_total_count() -> None:
    pager = Pager("app", None, 2)
    pager.next_call()
    pager.accept(_page([1, 2], 3))
    pager.next_call()
    pager.accept(_page([3], 3))
    assert pager.next_call() is None


def test_an_asctime_date_header_is_read_as_gmt_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 9110's third date form has no zone: it is GMT. Read as local time west of
    UTC, the server looks hours ahead and a job that just failed again looks old."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        now = time.time()
        asctime = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(now))
        just_now: dict[str, Any] = {
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S.5+00:00", time.gmtime(now))
        }
        script = [
            httpx.ReadTimeout("t"),
            _response(200, details_body("failed", **just_now), Date=asctime),
        ]
        with pytest.raises(RetryOutcomeUnknownError):
            _drive(retry_flow(JOB_ID, _config(), None), script)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_page_repeated_once_is_a_shift_and_is_skipped() -> None:
    """Jobs entering above between two requests move the page onto the next offset:
    its jobs were all seen; paging goes on (totalCount cannot end it there)."""
    pager = Pager("app", JobStatus.FAILED, 2)
    pager.next_call()
    assert [job.id for job in pager.accept(_page([1, 2], 4))] == [UUID(int=1), UUID(int=2)]
    pager.next_call()
    assert pager.accept(_page([1, 2], 4)) == [] and pager.shifted
    assert pager.next_call() is not None and pager.offset == 4
    assert [job.id for job in pager.accept(_page([3], 5))] == [UUID(int=3)]
    assert pager.next_call() is None


def test_three_equal_pages_in_a_row_mean_the_server_ignores_offset() -> None:
    pager = AnchoredPager("app", JobStatus.FAILED, 2)
    for _ in range(2):
        pager.next_call()
        pager.accept(_page([1, 2], 100))
    pager.next_call()
    with pytest.raises(ResponseValidationError, match="offsets 0, 1, 2: the server ignores"):
        pager.accept(_page([1, 2], 100))
    assert pager.next_call() is None
