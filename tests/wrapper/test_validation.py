"""Bad arguments raise InvalidArgumentError (a ValueError) before any network I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from writer_jobs import InvalidArgumentError, JobsClient, WriterJobsError

from .conftest import respond
from .helpers import JOB_ID, Recorder, job_body


@pytest.fixture
def client_and_recorder(make_client: Callable[..., JobsClient]) -> tuple[JobsClient, Recorder]:
    recorder = Recorder(lambda r: respond(202, job_body()))
    return make_client(recorder), recorder


BAD_JOB_IDS: list[Any] = [
    "",
    "not-a-uuid",
    "../../v1/applications/x/jobs",
    "182bd5e5",
    f"{JOB_ID}/../x",
    f"{JOB_ID}\r\n",
    123,
    None,
    b"bytes",
]


@pytest.mark.parametrize("job_id", BAD_JOB_IDS)
@pytest.mark.parametrize("method", ["retry", "get", "wait"])
def test_bad_job_id(
    client_and_recorder: tuple[JobsClient, Recorder], method: str, job_id: Any
) -> None:
    client, recorder = client_and_recorder
    with pytest.raises(InvalidArgumentError) as info:
        getattr(client, method)(job_id)
    assert isinstance(info.value, ValueError) and isinstance(info.value, WriterJobsError)
    assert "job_id" in str(info.value) and "received" in str(info.value)
    assert recorder.requests == []


def test_job_id_accepts_uuid_objects_and_strings(
    client_and_recorder: tuple[JobsClient, Recorder],
) -> None:
    client, recorder = client_and_recorder
    client.retry(JOB_ID)
    client.retry(str(JOB_ID).upper())
    assert {r.url.path for r in recorder.requests} == {f"/v1/applications/jobs/{JOB_ID}/retry"}


BAD_APP_IDS: list[Any] = [
    "",
    "   ",
    "a/b",
    "a\\b",
    ".",
    "..",
    "app\x00",
    "app\r\nX: y",
    "app\u200b",
    "x" * 257,
    42,
    None,
]


@pytest.mark.parametrize("app_id", BAD_APP_IDS)
def test_bad_application_id(client_and_recorder: tuple[JobsClient, Recorder], app_id: Any) -> None:
    client, recorder = client_and_recorder
    with pytest.raises(InvalidArgumentError, match="application_id"):
        client.list(app_id)
    with pytest.raises(InvalidArgumentError, match="application_id"):
        client.create(app_id, {"topic": "cats"})
    assert recorder.requests == []


@pytest.mark.parametrize(
    "inputs",
    [{}, [], "topic=cats", {"": "x"}, {"topic": 3}, {"topic": ["a", 3]}, {"t": b"x"}, {1: "x"}],
)
def test_bad_inputs(client_and_recorder: tuple[JobsClient, Recorder], inputs: Any) -> None:
    client, recorder = client_and_recorder
    with pytest.raises(InvalidArgumentError, match="input"):
        client.create("my-app", inputs)
    assert recorder.requests == []


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "5", True])
def test_bad_timeouts(client_and_recorder: tuple[JobsClient, Recorder], timeout: Any) -> None:
    client, recorder = client_and_recorder
    with pytest.raises(InvalidArgumentError, match="timeout"):
        client.retry(JOB_ID, timeout=timeout)
    with pytest.raises(InvalidArgumentError, match="deadline"):
        client.wait(JOB_ID, deadline=timeout)
    assert recorder.requests == []


@pytest.mark.parametrize("status", ["done", "FAILED", 3])
def test_bad_status_filter(client_and_recorder: tuple[JobsClient, Recorder], status: Any) -> None:
    client, recorder = client_and_recorder
    with pytest.raises(InvalidArgumentError, match="completed, failed, in_progress"):
        client.list("my-app", status=status)
    assert recorder.requests == []


def test_create_sends_inputs_as_the_spec_says(
    client_and_recorder: tuple[JobsClient, Recorder],
) -> None:
    import json

    client, recorder = client_and_recorder
    client.create("my-app", {"topic": "cats", "tags": ["a", "b"]})
    sent = recorder.requests[0]
    assert sent.method == "POST" and sent.url.path == "/v1/applications/my-app/jobs"
    assert json.loads(sent.content) == {
        "inputs": [{"id": "topic", "value": ["cats"]}, {"id": "tags", "value": ["a", "b"]}]
    }


def test_application_id_is_quoted_into_one_path_segment(
    client_and_recorder: tuple[JobsClient, Recorder],
) -> None:
    client, recorder = client_and_recorder
    client.create("my app?x=1#f%2F", {"t": "v"})
    assert recorder.requests[0].url.raw_path == b"/v1/applications/my%20app%3Fx%3D1%23f%252F/jobs"
