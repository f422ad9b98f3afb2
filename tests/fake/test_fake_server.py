"""The fake behaves like the real service, over real HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from writer_jobs import ConflictError, JobsClient, JobStatus, NotFoundError
from writer_jobs.testing import FakeWriterAPI, Faults

WRITER_ERROR_KEYS = {"tpe", "errors", "extras"}


@pytest.fixture
def api() -> Iterator[FakeWriterAPI]:
    with FakeWriterAPI(seed_failed=5, delay=0.2) as fake:
        yield fake


def _raw(
    api: FakeWriterAPI, method: str, path: str, key: str | None = None, **kwargs: object
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or api.api_key}"}
    return httpx.request(method, api.base_url + path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_wrong_key_is_401_with_writers_error_body(api: FakeWriterAPI) -> None:
    response = _raw(api, "GET", f"/v1/applications/jobs/{api.seeded[0]}", key="wrong")
    assert response.status_code == 401
    body = response.json()
    assert set(body) == WRITER_ERROR_KEYS and body["tpe"] == "Unauthorized"
    assert body["errors"][0]["key"] == "fail.unauthorized.badToken"


def test_unknown_job_is_404_and_bad_uuid_is_400(api: FakeWriterAPI) -> None:
    missing = _raw(api, "GET", f"/v1/applications/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["tpe"] == "NotFound"
    bad = _raw(api, "POST", "/v1/applications/jobs/not-a-uuid/retry")
    assert bad.status_code == 400 and bad.json()["errors"][0]["key"] == (
        "fail.badRequest.invalidParameters"
    )


def test_create_runs_then_completes() -> None:
    # A job of 2 s: the GET right after the create comes well within it on a loaded
    # machine (CI runs four suites on two cores).
    with (
        FakeWriterAPI(delay=2.0) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        job = client.create("app-1", {"topic": "cats"})
        assert job.status is JobStatus.IN_PROGRESS
        assert client.get(job.id).status is JobStatus.IN_PROGRESS
        time.sleep(2.2)
        done = client.get(job.id)
    assert done.status is JobStatus.COMPLETED and done.data and done.completed_at


def test_failure_ratio_fails_jobs() -> None:
    with (
        FakeWriterAPI(delay=0.0, failure_ratio=1.0) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        job = client.create("app", {"t": "v"})
        details = client.get(job.id)
    assert details.status is JobStatus.FAILED and details.error


def test_retry_of_a_failed_job_and_of_a_running_one(api: FakeWriterAPI) -> None:
    with JobsClient(api.api_key, base_url=api.base_url) as client:
        job = client.retry(api.seeded[0])
        assert job.status is JobStatus.IN_PROGRESS
        with pytest.raises(ConflictError) as info:
            client.retry(api.seeded[0])
        assert info.value.error_type == "Conflict"
        with pytest.raises(NotFoundError):
            client.retry(uuid.uuid4())
    assert api.processed("retry_job", api.seeded[0]) == 1


def test_create_conflicts_while_a_job_runs_when_asked() -> None:
    with (
        FakeWriterAPI(conflict_on_running=True) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        client.create("app", {"t": "v"})
        with pytest.raises(ConflictError):
            client.create("app", {"t": "v"})


def test_list_pages_and_filters(api: FakeWriterAPI) -> None:
    api.seed_failed(7)
    page = _raw(
        api,
        "GET",
        f"/v1/applications/{api.application_id}/jobs",
        params={"status": "failed", "offset": 10, "limit": 5},
    )
    body = page.json()
    assert body["totalCount"] == 12 and len(body["result"]) == 2
    assert body["pagination"] == {"offset": 10, "limit": 5}
    with JobsClient(api.api_key, base_url=api.base_url) as client:
        client.retry(api.seeded[0])
        failed = list(client.list(api.application_id, status="failed", page_size=3))
        running = list(client.list(api.application_id, status="in_progress"))
        every = list(client.list(api.application_id))
    assert len(failed) == 11 and len(running) == 1 and len(every) == 12
    bad = _raw(api, "GET", "/v1/applications/x/jobs", params={"limit": "lots"})
    assert bad.status_code == 400


def test_injected_429_carries_retry_after() -> None:
    with FakeWriterAPI(
        seed_failed=1, faults=Faults(rate=1.0, kinds=("429",), retry_after=2.5)
    ) as api:
        response = _raw(api, "GET", f"/v1/applications/jobs/{api.seeded[0]}")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3" and response.headers["retry-after-ms"] == "2500"
    assert response.json()["tpe"] == "TooManyRequests"


@pytest.mark.parametrize(("kind", "processed"), [("drop_before", False), ("drop_after", True)])
def test_dropped_connections_are_logged_with_whether_processed(
    api: FakeWriterAPI, kind: str, processed: bool
) -> None:
    api.fail_next("retry_job", kind)
    with pytest.raises(httpx.RemoteProtocolError):
        _raw(api, "POST", f"/v1/applications/jobs/{api.seeded[0]}/retry")
    entry = api.log[-1]
    assert entry.fault == kind and entry.processed is processed and entry.status is None
    status = api.store.job(api.seeded[0]).status
    assert (status is JobStatus.IN_PROGRESS) is processed


def test_malformed_and_spec_breaking_bodies(api: FakeWriterAPI) -> None:
    api.fail_next("get_job", "malformed")
    api.fail_next("get_job", "spec_breaking")
    first = _raw(api, "GET", f"/v1/applications/jobs/{api.seeded[0]}")
    second = _raw(api, "GET", f"/v1/applications/jobs/{api.seeded[0]}")
    with pytest.raises(ValueError):
        first.json()
    assert second.json()["status"] == "paused"


def test_random_faults_are_reproducible_with_a_seed() -> None:
    def faults_seen() -> list[str | None]:
        faults = Faults(rate=0.5, kinds=("429", "503"), seed=42)
        with FakeWriterAPI(seed_failed=1, faults=faults) as api:
            for _ in range(20):
                _raw(api, "GET", f"/v1/applications/jobs/{api.seeded[0]}")
            return [e.fault for e in api.log]

    first = faults_seen()
    assert first == faults_seen() and any(first) and not all(first)


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Faults(kinds=("teapot",))


def test_the_pytest_fixture(fake_writer: FakeWriterAPI) -> None:
    ids = fake_writer.seed_failed(2)
    with JobsClient(fake_writer.api_key, base_url=fake_writer.base_url) as client:
        assert client.retry(ids[0]).status is JobStatus.IN_PROGRESS
    assert fake_writer.retries_per_job() == {ids[0]: 1}


def test_settle_all_finishes_running_jobs_now() -> None:
    with (
        FakeWriterAPI(seed_failed=3, delay=3600) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        for job_id in api.seeded:
            client.retry(job_id)
        assert api.store.counts(api.application_id)[JobStatus.IN_PROGRESS] == 3
        api.store.settle_all()
        assert {client.get(j).status for j in api.seeded} == {JobStatus.COMPLETED}


def test_the_pytest_plugin_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, writer_jobs._pytest_plugin; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
