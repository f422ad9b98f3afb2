"""Arbitrary input: either a well-formed request to one of the four documented routes,
or a ValueError (usage error in the CLI) before any network I/O."""

from __future__ import annotations

import argparse
import json
import re
import urllib.parse
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from writer_jobs import InvalidArgumentError, JobsClient
from writer_jobs._cli import build_parser
from writer_jobs._validation import inputs as validate_inputs
from writer_jobs.testing import FakeWriterAPI

JOB_ROUTE = re.compile(
    r"^/v1/applications/jobs/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}(/retry)?$"
)
APP_ROUTE = re.compile(r"^/v1/applications/([^/]+)/jobs$")
NASTY = [
    "../../etc/passwd",
    "..",
    ".",
    "%2e%2e",
    "a/../b",
    "a%2Fb",
    "a%252Fb",
    "a\\b",
    "a\r\nX: 1",
    "a\x00b",
    "a\tb",
    " ",
    "",
    "x" * 10_000,
    "\u2215",
    "\uff0f",
    "\u2024\u2024",
    "app?x=1",
    "app#frag",
    "app;v=1",
    "\u202eppa",
    "\ufeffapp",
    "app\u200d",
    "\U0001f600",
    "%00",
    "%",
    "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e/../x",
    "{182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e}",
]
ANY_ID = st.one_of(
    st.text(max_size=300),
    st.sampled_from(NASTY),
    st.binary(max_size=40),
    st.integers(),
    st.none(),
    st.uuids(),
    st.uuids().map(str),
)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        job = {
            "id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
            "status": "in_progress",
            "created_at": "2025-01-01T00:00:00Z",
            "application_id": "a",
        }
        if request.method == "GET" and not _path(request).startswith("/v1/applications/jobs/"):
            return httpx.Response(200, json={"result": [], "totalCount": 0})
        return httpx.Response(202 if request.method == "POST" else 200, json=job)


def _path(request: httpx.Request) -> str:
    """The path as sent on the wire (percent-encoded), without the query."""
    return request.url.raw_path.decode("ascii").split("?")[0]


def _client(recorder: Recorder) -> JobsClient:
    return JobsClient(
        "k",
        base_url="https://api.test",
        http_client=httpx.Client(transport=httpx.MockTransport(recorder)),
        max_retries=0,
    )


def _outcome(fn: Any) -> str:
    try:
        fn()
    except InvalidArgumentError as exc:
        assert isinstance(exc, ValueError) and "received" in str(exc)
        return "refused"
    return "sent"


@settings(max_examples=300, deadline=None)
@given(ANY_ID, st.sampled_from(["retry", "get"]))
def test_any_job_id(job_id: Any, method: str) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        result = _outcome(lambda: getattr(client, method)(job_id))
    if result == "refused":
        assert recorder.requests == []
    else:
        (request,) = recorder.requests
        assert JOB_ROUTE.match(_path(request)), request.url.raw_path


@settings(max_examples=300, deadline=None)
@given(ANY_ID, st.sampled_from(["list", "create"]))
def test_any_application_id(app_id: Any, method: str) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        if method == "list":
            result = _outcome(lambda: list(client.list(app_id)))
        else:
            result = _outcome(lambda: client.create(app_id, {"topic": "x"}))
    if result == "refused":
        assert recorder.requests == []
        return
    (request,) = recorder.requests
    match = APP_ROUTE.match(_path(request))
    assert match, request.url.raw_path
    assert urllib.parse.unquote(match.group(1)) == app_id, "the id is one path segment, intact"


INPUT_VALUES = st.one_of(
    st.text(),
    st.lists(st.text(), max_size=4),
    st.integers(),
    st.none(),
    st.binary(max_size=8),
    st.lists(st.one_of(st.text(), st.integers())),
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.dictionaries(st.one_of(st.text(), st.integers()), INPUT_VALUES, max_size=4),
        st.text(),
        st.lists(st.text()),
        st.none(),
    )
)
def test_any_inputs(inputs: Any) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        result = _outcome(lambda: client.create("my-app", inputs))
    if result == "refused":
        assert recorder.requests == []
        return
    (request,) = recorder.requests
    assert request.url.path == "/v1/applications/my-app/jobs"
    sent = json.loads(request.content)["inputs"]
    expected = [
        {"id": k, "value": [v] if isinstance(v, str) else list(v)} for k, v in inputs.items()
    ]
    assert sent == expected, "nothing lost or changed"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_cli_input_value(value: str) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(["create", "my-app", "--input", value])
    except SystemExit as exc:
        assert exc.code == 2
        assert "=" not in value or not value.partition("=")[0].strip()
        return
    name, text = args.inputs[0]
    assert f"{name}={text}" == value, "the value after the first '=' is kept whole"
    try:
        validated = validate_inputs({name: [text]})
    except InvalidArgumentError:
        return
    assert validated[0].value == [text]


def test_argparse_errors_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["get", "../x"])
    assert info.value.code == 2
    assert isinstance(build_parser(), argparse.ArgumentParser)


def test_nasty_ids_never_reach_another_route_of_a_real_server() -> None:
    with (
        FakeWriterAPI(seed_failed=1) as api,
        JobsClient(api.api_key, base_url=api.base_url, max_retries=0) as client,
    ):
        for value in NASTY:
            calls: list[Any] = [
                client.retry,
                client.get,
                lambda v: list(client.list(v)),
                lambda v: client.create(v, {"t": "x"}),
            ]
            for call in calls:
                try:
                    call(value)
                except Exception as exc:
                    assert type(exc).__module__.startswith("writer_jobs"), repr(exc)
        log = api.log
    assert log, "some of them were well-formed and sent"
    assert "unknown" not in {entry.operation for entry in log}, "no other route was reached"
    for entry in log:
        if entry.operation in {"retry_job", "get_job"}:
            # Only a UUID in another spelling ("{...}") gets here, sent in canonical form.
            assert (JOB_ROUTE.match(entry.path) and entry.job_id == api.seeded[0]) or (
                str(entry.job_id) == "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
            )
        else:
            match = APP_ROUTE.match(entry.path)
            assert match, entry.path
            segment = match.group(1)
            assert segment in NASTY or urllib.parse.unquote(segment) in NASTY, segment
