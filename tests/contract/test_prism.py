"""Live contract: Prism (a third-party mock server) serves openapi.yaml on loopback,
the generated client calls every operation, statically and with dynamic examples,
parses every answer, and Prism's request validation finds no violation."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from writer_jobs._generated import AuthenticatedClient
from writer_jobs._generated.types import Response

from ._spec import ROOT, SPEC_PATH, operations, spec

# The names this module calls, imported so that a generated client without one of them
# (a spec whose operations or schemas lost their project names) fails each test saying
# which, instead of failing the whole module at collection.
try:
    from writer_jobs._generated.api.template import create_job, get_job, list_jobs, retry_job
    from writer_jobs._generated.models import (
        CreateJobRequest,
        Job,
        JobDetails,
        JobInput,
        JobList,
        JobStatus,
    )
except ImportError as error:
    MISSING: ImportError | None = error
    STATUSES: list[Any] = []
else:
    MISSING = None
    STATUSES = list(JobStatus)


@pytest.fixture(autouse=True, scope="module")  # module: before Prism starts
def _generated_names() -> None:
    if MISSING is not None:
        pytest.fail(f"the generated client lacks a name these tests call: {MISSING}")


PRISM = ROOT / "node_modules" / ".bin" / "prism"
JOB_ID = UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PRISM.exists():
        pytest.fail(f"Prism is not installed at {PRISM}: run `make test`, which installs it")
    port = _free_port()
    log_path: Path = tmp_path_factory.mktemp("prism") / "prism.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(PRISM), "mock", str(SPEC_PATH), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"Prism exited with {proc.returncode}:\n{log_path.read_text()}")
                if "Prism is listening" in log_path.read_text():
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not start within 90 s:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


MODES = {"static": {}, "dynamic": {"Prefer": "dynamic=true"}}


@pytest.fixture(params=sorted(MODES))
def client(request: pytest.FixtureRequest, prism_url: str) -> Iterator[AuthenticatedClient]:
    with AuthenticatedClient(
        base_url=prism_url,
        token="prism-test-key",
        headers=MODES[request.param],
        timeout=httpx.Timeout(30.0),
    ) as generated:
        yield generated


def _no_violation(response: Response[Any]) -> None:
    violations = response.headers.get("sl-violations")
    assert violations is None, f"Prism reports the request breaks the spec: {violations}"


def test_retry_job(client: AuthenticatedClient) -> None:
    response = retry_job.sync_detailed(JOB_ID, client=client)
    _no_violation(response)
    assert response.status_code == 202
    assert isinstance(response.parsed, Job)
    assert isinstance(response.parsed.status, JobStatus)


def test_get_job(client: AuthenticatedClient) -> None:
    response = get_job.sync_detailed(JOB_ID, client=client)
    _no_violation(response)
    assert response.status_code == 200
    assert isinstance(response.parsed, JobDetails)


@pytest.mark.parametrize("status", [None, *STATUSES])
def test_list_jobs(client: AuthenticatedClient, status: JobStatus | None) -> None:
    extra: dict[str, Any] = {"status": status} if status else {}
    response = list_jobs.sync_detailed("my-app", client=client, offset=0, limit=10, **extra)
    _no_violation(response)
    assert response.status_code == 200
    assert isinstance(response.parsed, JobList)
    assert all(isinstance(job, JobDetails) for job in response.parsed.result)


def test_create_job(client: AuthenticatedClient) -> None:
    body = CreateJobRequest(inputs=[JobInput(id="topic", value=["cats", "dogs"])])
    response = create_job.sync_detailed("my-app", client=client, body=body)
    _no_violation(response)
    assert response.status_code == 202
    assert isinstance(response.parsed, Job)


async def test_async_functions_against_prism(prism_url: str) -> None:
    async with AuthenticatedClient(base_url=prism_url, token="prism-test-key") as generated:
        response = await retry_job.asyncio_detailed(JOB_ID, client=generated)
        _no_violation(response)
        assert isinstance(response.parsed, Job)


def test_prism_rejects_a_request_that_breaks_the_spec(prism_url: str) -> None:
    """The violation check above can fail: a non-UUID job id is flagged by Prism."""
    response = httpx.post(
        f"{prism_url}/v1/applications/jobs/not-a-uuid/retry",
        headers={"Authorization": "Bearer prism-test-key"},
    )
    assert response.status_code >= 400 or response.headers.get("sl-violations")


def test_every_operation_is_exercised() -> None:
    exercised = {"retry_job", "get_job", "list_jobs", "create_job"}
    assert {op.get("operationId") for _, _, op in operations(spec())} == exercised
