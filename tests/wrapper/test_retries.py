"""Retry decisions: what is retried, how long it waits, and that no POST is repeated
when it may have taken effect."""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from writer_jobs import (
    APIConnectionError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    JobsClient,
    JobStatus,
    RateLimitError,
    RetryOutcomeUnknownError,
)
from writer_jobs._engine import Backoff

from .conftest import respond
from .helpers import JOB_ID, Recorder, details_body, job_body, sequence

RETRY = f"/v1/applications/jobs/{JOB_ID}/retry"


def test_get_is_retried_through_a_burst_of_5xx(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    recorder = Recorder(
        sequence(
            respond(500), respond(502), respond(503), respond(504), respond(200, details_body())
        )
    )
    details = make_client(recorder).get(JOB_ID)
    assert details.status is JobStatus.FAILED
    assert len(recorder.requests) == 5 and len(sleeps) == 4


def test_get_gives_up_after_max_retries_with_the_attempt_count(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    recorder = Recorder(lambda r: respond(503))
    with pytest.raises(InternalServerError, match="after 4 attempts") as info:
        make_client(recorder, max_retries=3).get(JOB_ID)
    assert info.value.attempts == 4 and len(recorder.requests) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_other_4xx_are_not_retried(make_client: Callable[..., JobsClient], status: int) -> None:
    recorder = Recorder(lambda r: respond(status))
    with pytest.raises(Exception):  # noqa: B017 - the class is checked in test_errors
        make_client(recorder).retry(JOB_ID)
    assert len(recorder.requests) == 1


def test_409_conflict_is_not_retried_on_create(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(409))
    with pytest.raises(ConflictError):
        make_client(recorder).create("my-app", {"topic": "cats"})
    assert len(recorder.requests) == 1


def test_max_retries_zero_disables_retrying(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(503))
    with pytest.raises(InternalServerError):
        make_client(recorder, max_retries=0).get(JOB_ID)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
    ],
)
def test_retry_after_is_honoured(
    make_client: Callable[..., JobsClient],
    sleeps: list[float],
    headers: dict[str, str],
    expected: float,
) -> None:
    recorder = Recorder(sequence(respond(429, {}, **headers), respond(202, job_body())))
    make_client(recorder).retry(JOB_ID)
    assert sleeps == [expected]


def test_retry_after_http_date_is_honoured(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    recorder = Recorder(
        sequence(respond(429, {}, **{"Retry-After": when}), respond(200, details_body()))
    )
    make_client(recorder).get(JOB_ID)
    assert len(sleeps) == 1 and 1.5 <= sleeps[0] <= 3.0


@pytest.mark.parametrize(
    "bad",
    ["Sun, 06 Nov 99999999999999999999 08:49:37 GMT", "Sun, 06 Nov 1994 25:61:99 GMT", "soon"],
)
def test_an_unreadable_retry_after_or_date_falls_back_to_backoff(
    make_client: Callable[..., JobsClient], sleeps: list[float], bad: str
) -> None:
    recorder = Recorder(
        sequence(
            respond(429, {}, **{"Retry-After": bad, "Date": bad}),
            respond(200, details_body(), Date=bad),
        )
    )
    assert make_client(recorder).get(JOB_ID).id
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.5  # the first backoff step, no crash


def test_retry_after_over_the_cap_raises_at_once(
    make_client: Callable[..., JobsClient], sleeps: list[float]
) -> None:
    recorder = Recorder(lambda r: respond(429, {}, **{"Retry-After": "120"}))
    with pytest.raises(RateLimitError, match="more than max_retry_after=60") as info:
        make_client(recorder).retry(JOB_ID)
    assert info.value.retry_after == 120
    assert sleeps == [] and len(recorder.requests) == 1


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    backoff = Backoff(0.5, 30.0)
    for retry_number in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (retry_number - 1))
        samples = [backoff.delay(retry_number) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.7  # full jitter spreads over the whole range


def test_default_backoff_waits_are_jittered(sleeps: list[float]) -> None:
    recorder = Recorder(sequence(respond(503), respond(503), respond(200, details_body())))
    with JobsClient(
        "k", base_url="https://api.test", http_client=httpx.Client(transport=recorder.transport)
    ) as client:
        client.get(JOB_ID)
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


# --- POST .../retry: never re-triggered twice -------------------------------------------


#: A failure long before any test runs: the check can tell it predates the POST.
LONG_AGO = "2025-01-02T03:04:05Z"


def _http_date(offset: float = 0.0) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)


def _retry_server(
    post_outcomes: list[httpx.Response | Exception],
    get_status: str,
    *,
    updated_at: str | Callable[[], str] | None = LONG_AGO,
    date: Callable[[], str | None] = _http_date,
) -> Recorder:
    """POSTs answered from a script; GETs show the job with ``get_status``, its
    ``updated_at`` and the server's ``Date`` header (None: leave them out)."""
    posts = list(post_outcomes)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            item = posts.pop(0) if len(posts) > 1 else posts[0]
            if isinstance(item, Exception):
                raise item
            return item
        updated = updated_at() if callable(updated_at) else updated_at
        extra: dict[str, Any] = {} if updated is None else {"updated_at": updated}
        now = date()
        headers = {} if now is None else {"Date": now}
        return respond(200, details_body(get_status, **extra), **headers)

    return Recorder(handler)


@pytest.mark.parametrize(
    "ambiguous",
    [
        respond(500),
        respond(502),
        respond(503),
        respond(504),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
    ids=["500", "502", "503", "504", "read-timeout", "disconnected", "reset"],
)
def test_ambiguous_retry_that_took_effect_is_not_sent_again(
    make_client: Callable[..., JobsClient], ambiguous: httpx.Response | Exception
) -> None:
    recorder = _retry_server([ambiguous, respond(202, job_body())], get_status="in_progress")
    job = make_client(recorder).retry(JOB_ID)
    assert job.status is JobStatus.IN_PROGRESS and job.id == JOB_ID
    assert recorder.count("POST") == 1 and recorder.count("GET") == 1


def test_ambiguous_retry_that_did_not_take_effect_is_sent_again(
    make_client: Callable[..., JobsClient],
) -> None:
    # Failed, last updated long before the POST (by the server's own Date): not re-triggered.
    recorder = _retry_server([respond(503), respond(202, job_body())], get_status="failed")
    job = make_client(recorder).retry(JOB_ID)
    assert job.status is JobStatus.IN_PROGRESS
    assert [r.method for r in recorder.requests] == ["POST", "GET", "POST"]


def _iso_in(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(time.time() + seconds, datetime.UTC).isoformat()


@pytest.mark.parametrize(
    ("updated_at", "date", "why"),
    [
        # Failed again 0.05 s after the POST could have landed, by the server's clock.
        (lambda: _iso_in(0.05), _http_date, "may have been re-triggered"),
        (None, _http_date, "no updated_at"),
        (LONG_AGO, lambda: None, "no Date header"),
        (LONG_AGO, lambda: "not a date", "no Date header"),
    ],
    ids=["failed-again-after-the-post", "no-updated-at", "no-date-header", "bad-date-header"],
)
def test_ambiguous_retry_that_cannot_be_told_apart_is_not_sent_again(
    make_client: Callable[..., JobsClient],
    updated_at: str | Callable[[], str] | None,
    date: Callable[[], str | None],
    why: str,
) -> None:
    recorder = _retry_server(
        [httpx.ReadError("reset after sending"), respond(202, job_body())],
        get_status="failed",
        updated_at=updated_at,
        date=date,
    )
    with pytest.raises(RetryOutcomeUnknownError, match=why) as caught:
        make_client(recorder).retry(JOB_ID)
    assert [r.method for r in recorder.requests] == ["POST", "GET"]
    assert caught.value.job.status is JobStatus.FAILED
    assert caught.value.retriggered is False
    assert "never triggered twice" in str(caught.value)


def test_ambiguous_retry_judged_by_the_server_clock_not_the_clients(
    make_client: Callable[..., JobsClient],
) -> None:
    """The server's clock runs an hour behind ours: its job failed 'an hour ago' by our
    clock but after the POST by its own; the client must go by the server's."""
    behind = time.time() - 3600
    updated = datetime.datetime.fromtimestamp(behind + 0.5, datetime.UTC).isoformat()
    recorder = _retry_server(
        [httpx.ReadTimeout("timed out"), respond(202, job_body())],
        get_status="failed",
        updated_at=updated,
        date=lambda: email.utils.formatdate(behind + 1, usegmt=True),
    )
    with pytest.raises(RetryOutcomeUnknownError):
        make_client(recorder).retry(JOB_ID)
    assert recorder.count("POST") == 1


def test_retry_that_stays_ambiguous_says_the_job_may_have_been_retriggered(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = _retry_server([respond(503)], get_status="failed")
    with pytest.raises(InternalServerError, match="may have been re-triggered"):
        make_client(recorder, max_retries=2).retry(JOB_ID)
    assert [r.method for r in recorder.requests] == ["POST", "GET", "POST", "GET", "POST"]


# --- POST .../jobs (create): repeated only when certainly unprocessed --------------------


@pytest.mark.parametrize(
    "ambiguous",
    [respond(500), respond(503), httpx.ReadTimeout("t"), httpx.RemoteProtocolError("gone")],
    ids=["500", "503", "read-timeout", "disconnected"],
)
def test_create_is_not_repeated_after_an_ambiguous_failure(
    make_client: Callable[..., JobsClient], ambiguous: httpx.Response | Exception
) -> None:
    recorder = Recorder(sequence(ambiguous, respond(202, job_body())))
    with pytest.raises((InternalServerError, APIConnectionError), match="may have been created"):
        make_client(recorder).create("my-app", {"topic": "cats"})
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "unprocessed",
    [
        respond(429),
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("pool"),
    ],
    ids=["429", "connect-error", "connect-timeout", "pool-timeout"],
)
def test_create_is_repeated_when_certainly_unprocessed(
    make_client: Callable[..., JobsClient], unprocessed: httpx.Response | Exception
) -> None:
    recorder = Recorder(sequence(unprocessed, respond(202, job_body())))
    job = make_client(recorder).create("my-app", {"topic": "cats"})
    assert job.id == JOB_ID and len(recorder.requests) == 2


def test_connection_errors_are_typed_and_say_whether_the_request_was_sent(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = Recorder(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    with pytest.raises(APIConnectionError, match="not sent") as info:
        make_client(recorder, max_retries=2).get(JOB_ID)
    assert info.value.may_have_been_processed is False
    assert "gave up after 3 attempts" in str(info.value)

    recorder = Recorder(lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")))
    with pytest.raises(APITimeoutError) as timeout_info:
        make_client(recorder, max_retries=0).get(JOB_ID)
    assert timeout_info.value.may_have_been_processed is True
