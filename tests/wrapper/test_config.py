"""Settings from arguments and the environment; refusals before any I/O; the key never shows."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from writer_jobs import (
    ClientClosedError,
    ConfigurationError,
    InvalidArgumentError,
    JobsClient,
    NotFoundError,
)

from .conftest import respond
from .helpers import JOB_ID, KEY, Recorder, job_body, writer_error


def test_missing_api_key_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WRITER_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="WRITER_API_KEY"):
        JobsClient()


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRITER_API_KEY", KEY)
    monkeypatch.setenv("WRITER_BASE_URL", "http://127.0.0.1:9/")
    recorder = Recorder(lambda r: respond(202, job_body()))
    with JobsClient(http_client=httpx.Client(transport=recorder.transport)) as client:
        assert client.base_url == "http://127.0.0.1:9"
        client.retry(JOB_ID)
    sent = recorder.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert str(sent.url) == f"http://127.0.0.1:9/v1/applications/jobs/{JOB_ID}/retry"


def test_arguments_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRITER_API_KEY", "from-env")
    monkeypatch.setenv("WRITER_BASE_URL", "https://env.example")
    with JobsClient("from-arg", base_url="https://arg.example") as client:
        assert client.base_url == "https://arg.example"


@pytest.mark.parametrize("url", ["http://api.writer.com", "http://10.0.0.1:8080"])
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        JobsClient(KEY, base_url=url)
    JobsClient(KEY, base_url=url, allow_insecure_http=True).close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:80"])
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    JobsClient(KEY, base_url=url).close()


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "https://", "https://u:p@host"])
def test_bad_base_url_is_refused_saying_what_was_received(url: str) -> None:
    with pytest.raises(ConfigurationError):
        JobsClient(KEY, base_url=url)


def test_key_with_a_newline_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        JobsClient("abc\r\nX-Evil: 1")
    assert "X-Evil" not in str(info.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("timeout", -1),
        ("timeout", float("nan")),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("backoff_initial", -0.1),
        ("max_response_bytes", 0),
        ("page_size", 0),
    ],
)
def test_invalid_settings_are_refused(setting: str, value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=setting):
        JobsClient(KEY, **{setting: value})  # type: ignore[arg-type]


def test_timeout_as_float_keeps_a_short_connect_timeout() -> None:
    with JobsClient(KEY, timeout=30) as client:
        assert client.timeout.read == 30 and client.timeout.connect == 5
    with JobsClient(KEY, timeout=httpx.Timeout(3.0)) as client:
        assert client.timeout.connect == 3


def test_defaults() -> None:
    with JobsClient(KEY) as client:
        assert client.max_retries == 5
        assert client.timeout.read == 60 and client.timeout.connect == 5
        assert client.base_url == "https://api.writer.com"


def test_key_never_appears_in_reprs_or_errors(
    make_client: Callable[..., JobsClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(
        lambda r: respond(404, writer_error("NotFound", "fail.notFound.resource", "no job"))
    )
    client = make_client(recorder)
    with pytest.raises(NotFoundError) as info:
        client.get(JOB_ID)
    own = JobsClient(KEY, base_url="https://api.test")  # with its own httpx client
    texts = [
        repr(client),
        str(client),
        repr(own.generated),
        repr(own.http_client.headers),
        str(info.value),
        repr(info.value),
        repr(client.http_client.headers),
        caplog.text,
    ]
    assert all(KEY not in text for text in texts)


def test_close_is_idempotent_and_use_after_close_is_a_clear_error(
    make_client: Callable[..., JobsClient],
) -> None:
    recorder = Recorder(lambda r: respond(202, job_body()))
    client = make_client(recorder)
    client.close()
    client.close()
    with pytest.raises(ClientClosedError, match="closed"):
        client.retry(JOB_ID)
    assert recorder.requests == []
    assert "closed" in repr(client)


def test_generated_client_shares_the_pool_and_the_key() -> None:
    from writer_jobs._generated.api.template import retry_job
    from writer_jobs.testing import FakeWriterAPI

    with FakeWriterAPI(seed_failed=1, api_key=KEY) as api:
        client = JobsClient(KEY, base_url=api.base_url)
        response = retry_job.sync_detailed(api.seeded[0], client=client.generated)
        assert response.status_code == 202
        assert client.generated.get_httpx_client() is client.http_client
        assert api.processed("retry_job") == 1
        client.close()
        with pytest.raises(ClientClosedError):
            _ = client.generated


def test_generated_is_refused_with_a_users_http_client(
    make_client: Callable[..., JobsClient],
) -> None:
    client = make_client(Recorder(lambda r: respond(202, job_body())))
    with pytest.raises(ConfigurationError, match="http_client"):
        _ = client.generated


def test_public_names_all_resolve_and_import_is_lazy() -> None:
    import subprocess
    import sys

    import writer_jobs

    assert set(writer_jobs.__all__) == set(writer_jobs._LAZY) | set(
        writer_jobs._exceptions.__all__
    ) | {"__version__"}
    for name in writer_jobs.__all__:
        assert getattr(writer_jobs, name) is not None
    code = "import sys, writer_jobs; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
