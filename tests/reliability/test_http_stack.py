"""The httpx ecosystem sees into both clients: environment and explicit proxies (a
recording proxy on 127.0.0.1), respx mocks, event hooks on a client passed in, and
who closes what. The aiohttp backend is gone: asking for it is a clear error."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from writer_jobs import AsyncJobsClient, ConfigurationError, JobsClient, JobStatus
from writer_jobs.testing import FakeWriterAPI

from ..loopback import LoopbackServer, Reply, Request

KEY = "sk-http-stack"
JOB = uuid.UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")


class RecordingProxy:
    """A plain HTTP forward proxy: records each absolute-URI request, forwards it."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.upstream = httpx.Client(trust_env=False)

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            self.seen.append(f"{request.method} {request.path}")
        headers = {k: v for k, v in request.headers.items() if k not in {"host", "connection"}}
        response = self.upstream.request(
            request.method, request.path, headers=headers, content=request.body
        )
        return Reply(
            response.status_code,
            response.content,
            {"Content-Type": response.headers.get("content-type", "application/json")},
        )


@pytest.fixture
def proxy() -> Iterator[tuple[LoopbackServer, RecordingProxy]]:
    recorder = RecordingProxy()
    with LoopbackServer(recorder) as server:
        yield server, recorder
    recorder.upstream.close()


@pytest.fixture
def api() -> Iterator[FakeWriterAPI]:
    with FakeWriterAPI(api_key=KEY, seed_failed=3, delay=30) as fake:
        yield fake


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def _get_with(kind: str, api: FakeWriterAPI, **settings: Any) -> Any:
    if kind == "sync":
        with JobsClient(KEY, base_url=api.base_url, **settings) as client:
            return client.get(api.seeded[0])
    async with AsyncJobsClient(KEY, base_url=api.base_url, **settings) as c:
        return await c.get(api.seeded[0])


KINDS = ["sync", "async-httpx"]


@pytest.mark.parametrize("kind", KINDS)
async def test_environment_proxy_is_used_and_no_proxy_honoured(
    kind: str,
    api: FakeWriterAPI,
    proxy: tuple[LoopbackServer, RecordingProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, recorder = proxy
    _clean_env(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", server.url)
    job = await _get_with(kind, api)
    assert job.status is JobStatus.FAILED
    assert recorder.seen == [f"GET {api.base_url}/v1/applications/jobs/{api.seeded[0]}"]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await _get_with(kind, api)
    assert len(recorder.seen) == 1, "NO_PROXY: straight to the server"


@pytest.mark.parametrize("kind", KINDS)
async def test_explicit_proxy_is_used(
    kind: str,
    api: FakeWriterAPI,
    proxy: tuple[LoopbackServer, RecordingProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, recorder = proxy
    _clean_env(monkeypatch)
    await _get_with(kind, api, proxy=server.url)
    assert len(recorder.seen) == 1


async def test_explicit_proxy_through_a_passed_in_client(
    api: FakeWriterAPI,
    proxy: tuple[LoopbackServer, RecordingProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, recorder = proxy
    _clean_env(monkeypatch)
    with (
        httpx.Client(proxy=server.url) as http,
        JobsClient(KEY, base_url=api.base_url, http_client=http) as client,
    ):
        client.get(api.seeded[0])
    async with (
        httpx.AsyncClient(proxy=server.url) as ahttp,
        AsyncJobsClient(KEY, base_url=api.base_url, http_client=ahttp) as aclient,
    ):
        await aclient.get(api.seeded[0])
    assert len(recorder.seen) == 2


BODY = {"id": str(JOB), "status": "in_progress", "created_at": "2025-01-02T03:04:05Z"}


def test_respx_intercepts_the_sync_client() -> None:
    with respx.mock(base_url="https://api.writer.com", assert_all_called=True) as mock:
        route = mock.post(f"/v1/applications/jobs/{JOB}/retry").respond(202, json=BODY)
        with JobsClient("sk-fake") as client:
            assert client.retry(JOB).status is JobStatus.IN_PROGRESS
    assert route.call_count == 1
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-fake"


async def test_respx_intercepts_the_async_client_by_default() -> None:
    with respx.mock(base_url="https://api.writer.com", assert_all_called=True) as mock:
        route = mock.post(f"/v1/applications/jobs/{JOB}/retry").respond(202, json=BODY)
        async with AsyncJobsClient("sk-fake") as client:
            assert (await client.retry(JOB)).status is JobStatus.IN_PROGRESS
    assert route.call_count == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_event_hooks_of_a_passed_in_client_see_every_request(
    kind: str, api: FakeWriterAPI
) -> None:
    """retry()'s check GET after a lost answer, and a GET's retry after a 503."""
    seen: list[str] = []
    api.fail_next("retry_job", "drop_after")
    api.fail_next("get_job", "503")
    job_id = api.seeded[0]
    if kind == "sync":

        def hook(request: httpx.Request) -> None:
            seen.append(request.method)

        with httpx.Client(event_hooks={"request": [hook]}) as http:
            with JobsClient(KEY, base_url=api.base_url, http_client=http, **FAST) as client:
                client.retry(job_id)
                client.get(job_id)
            assert not http.is_closed, "a client passed in is the caller's to close"
    else:

        async def ahook(request: httpx.Request) -> None:
            seen.append(request.method)

        async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as ahttp:
            async with AsyncJobsClient(
                KEY, base_url=api.base_url, http_client=ahttp, **FAST
            ) as aclient:
                await aclient.retry(job_id)
                await aclient.get(job_id)
            assert not ahttp.is_closed
    assert seen == ["POST", "GET", "GET", "GET"]
    assert api.processed("retry_job", job_id) == 1


FAST: dict[str, Any] = {"backoff_initial": 0.001, "backoff_max": 0.01}


def test_the_clients_own_httpx_client_is_closed_with_it() -> None:
    client = JobsClient(KEY, base_url="http://127.0.0.1:9")
    http = client.http_client
    client.close()
    assert http.is_closed


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: JobsClient(KEY, http_client=httpx.AsyncClient()), "httpx.Client"),
        (lambda: AsyncJobsClient(KEY, http_client=httpx.Client()), "httpx.AsyncClient"),
        (lambda: JobsClient(KEY, http_client=httpx.Client(follow_redirects=True)), "redirect"),
        (lambda: JobsClient(KEY, http_client=httpx.Client(), verify=False), "your client"),
        (lambda: AsyncJobsClient(KEY, http_backend="aiohttp"), r"removed: httpx.*http_client="),  # type: ignore[arg-type]
        (lambda: AsyncJobsClient(KEY, http_backend="curl"), "must be 'httpx'"),  # type: ignore[arg-type]
    ],
    ids=[
        "async-into-sync",
        "sync-into-async",
        "follows-redirects",
        "verify-too",
        "aiohttp-removed",
        "bad-backend",
    ],
)
def test_a_wrong_http_client_setting_is_a_clear_error(make: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        make()
