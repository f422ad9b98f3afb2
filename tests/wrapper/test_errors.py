"""Every status maps to its typed error, carrying Writer's error body; a 2xx body
that breaks the spec is a ResponseValidationError naming the field and value."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from writer_jobs import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    JobDetails,
    JobsClient,
    JobStatus,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    UnprocessableEntityError,
)
from writer_jobs._engine import RETRYABLE_STATUSES

from .conftest import respond
from .helpers import JOB_ID, Recorder, details_body, job_body, writer_error

STATUS_CLASSES: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (410, APIStatusError),
    (413, APIStatusError),
    (418, APIStatusError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (503, InternalServerError),
    (507, InternalServerError),
    (520, InternalServerError),
    (599, InternalServerError),
]


@pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
def test_status_maps_to_its_error(
    make_client: Callable[..., JobsClient], status: int, cls: type[APIStatusError]
) -> None:
    body = writer_error("SomeType", "fail.some.key", "what went wrong")
    recorder = Recorder(lambda r: respond(status, body, **{"x-request-id": "req-42"}))
    client = make_client(recorder, max_retries=0)
    with pytest.raises(APIStatusError) as info:
        client.get(JOB_ID)
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.error_type == "SomeType" and error.error_key == "fail.some.key"
    assert error.error_descriptions == ("what went wrong",)
    assert error.request_id == "req-42"
    assert error.response.status_code == status
    text = str(error)
    assert f"-> {status}" in text and "what went wrong" in text and "req-42" in text
    assert f"/v1/applications/jobs/{JOB_ID}" in text


def test_non_writer_error_body_is_shown_raw(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"))
    client = make_client(recorder, max_retries=0)
    with pytest.raises(InternalServerError, match="Bad gateway") as info:
        client.get(JOB_ID)
    assert info.value.error_type is None


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed(make_client: Callable[..., JobsClient], status: int) -> None:
    recorder = Recorder(
        lambda r: httpx.Response(status, headers={"Location": "https://evil.test/x"})
    )
    client = make_client(recorder)
    with pytest.raises(
        APIStatusError, match=re.escape("redirect to 'https://evil.test/x' not followed")
    ) as info:
        client.retry(JOB_ID)
    assert info.value.status_code == status
    assert len(recorder.requests) == 1


def test_retry_after_is_carried_on_429(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(429, {}, **{"Retry-After": "7"}))
    client = make_client(recorder, max_retries=0)
    with pytest.raises(RateLimitError) as info:
        client.retry(JOB_ID)
    assert info.value.retry_after == 7


def test_2xx_other_than_the_documented_one_is_still_a_success(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = Recorder(lambda r: respond(200, job_body()))
    job = make_client(recorder).retry(JOB_ID)
    assert job.id == JOB_ID


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("empty", b"", "empty"),
    ("not json", b"{oops", "not JSON"),
    ("html", b"<html><body>Error</body></html>", "<html>"),
    ("a list", b"[1, 2]", "expected a JSON object, received list"),
    ("missing id", {"status": "failed", "created_at": "2025-01-01T00:00:00Z"}, "'id'"),
    ("number for status", {**job_body(), "status": 3}, "field 'status' must be a str"),
    ("non-uuid id", {**job_body(), "id": "job-123"}, "'job-123'"),
    ("bad date", {**job_body(), "created_at": "yesterday"}, "'yesterday'"),
    ("number for date", {**job_body(), "created_at": 12}, "created_at"),
    ("null required", {**job_body(), "status": None}, "status"),
]


@pytest.mark.parametrize(("name", "body", "needle"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_body_that_breaks_the_spec(
    make_client: Callable[..., JobsClient], name: str, body: Any, needle: str
) -> None:
    content = body if isinstance(body, bytes) else None
    recorder = Recorder(
        lambda r: (
            httpx.Response(202, content=content) if content is not None else respond(202, body)
        )
    )
    with pytest.raises(ResponseValidationError) as info:
        make_client(recorder).retry(JOB_ID)
    assert needle in str(info.value)
    assert info.value.response is not None and info.value.response.status_code == 202
    assert len(recorder.requests) == 1, "a malformed 2xx is not retried"


def test_wrong_type_names_field_and_value(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(200, details_body(application_id=123)))
    with pytest.raises(ResponseValidationError) as info:
        make_client(recorder).get(JOB_ID)
    assert info.value.field == "application_id" and info.value.value == 123
    assert "must be a str, received int: 123" in str(info.value)


def test_nested_field_is_named_with_its_path(make_client: Callable[..., JobsClient]) -> None:
    bad = details_body(data={"title": "t", "suggestion": 5})
    recorder = Recorder(lambda r: respond(200, bad))
    with pytest.raises(ResponseValidationError) as info:
        make_client(recorder).get(JOB_ID)
    assert info.value.field == "data.suggestion"


def test_null_error_is_accepted_as_the_spec_says(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(200, details_body(error=None)))
    details = make_client(recorder).get(JOB_ID)
    assert details.status is JobStatus.FAILED
    assert details.error is None


def test_null_where_the_spec_has_no_nullable_is_refused(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = Recorder(lambda r: respond(200, details_body(data=None)))
    with pytest.raises(ResponseValidationError) as info:
        make_client(recorder).get(JOB_ID)
    assert info.value.field == "data" and info.value.value is None
    assert "must be a JSON object, received NoneType: None" in str(info.value)


def test_unknown_status_is_kept_and_warned_about_once(
    make_client: Callable[..., JobsClient], caplog: pytest.LogCaptureFixture
) -> None:
    value = f"zz-new-{uuid.uuid4().hex[:8]}"
    recorder = Recorder(lambda r: respond(200, details_body(status=value)))
    client = make_client(recorder)
    with caplog.at_level("WARNING", logger="writer_jobs"):
        first, second = client.get(JOB_ID), client.get(JOB_ID)
    assert first.status.value == second.status.value == value
    assert first.status not in list(JobStatus) and first.status != JobStatus.FAILED
    assert first.to_dict()["status"] == value
    assert JobDetails.from_dict(first.to_dict()).status == first.status
    warned = [r for r in caplog.records if value in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"


def test_nested_list_path_is_named(make_client: Callable[..., JobsClient]) -> None:
    page = {"result": [details_body(), details_body(created_at="later")], "totalCount": 2}
    recorder = Recorder(lambda r: respond(200, page))
    with pytest.raises(ResponseValidationError) as info:
        list(make_client(recorder).list("app"))
    assert info.value.field == "result[1].created_at" and info.value.value == "later"


def test_extra_unknown_fields_are_accepted(make_client: Callable[..., JobsClient]) -> None:
    recorder = Recorder(lambda r: respond(200, details_body(brand_new="x", error="boom")))
    details = make_client(recorder).get(JOB_ID)
    assert details.additional_properties == {"brand_new": "x"}
    assert details.error == "boom"


def test_body_over_the_size_cap_is_refused(make_client: Callable[..., JobsClient]) -> None:
    big = b'{"id": "' + b"x" * 5000 + b'"}'
    recorder = Recorder(lambda r: httpx.Response(202, content=big))
    with pytest.raises(ResponseValidationError, match="larger than max_response_bytes=1000"):
        make_client(recorder, max_response_bytes=1000).retry(JOB_ID)


def test_retryable_statuses_are_the_documented_ones() -> None:
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRYABLE_STATUSES


def test_an_error_body_echoing_the_request_never_carries_the_key_into_the_error() -> None:
    # A gateway answering 400 with the request it received, Authorization included: the
    # key must not reach the exception's text, descriptions or body (nor what prints them).
    from writer_jobs import APIStatusError, JobsClient

    from ..loopback import LoopbackServer, Reply, Request
    from .helpers import JOB_ID, KEY

    def echo(request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        body = {"tpe": f"bad request {auth}", "errors": [{"key": "x", "description": auth}]}
        return Reply.json(400, {**body, "echo": {"headers": {"authorization": auth}}})

    with (
        LoopbackServer(echo) as server,
        JobsClient(KEY, base_url=server.url) as client,
        pytest.raises(APIStatusError) as caught,
    ):
        client.get(JOB_ID)
    error = caught.value
    assert server.requests, "the request reached the server"
    seen = " ".join([str(error), repr(error), *error.error_descriptions, str(error.error_body)])
    assert KEY not in seen
    assert "[redacted API key]" in str(error)
