"""schemathesis drives the fake's ASGI app from openapi.yaml: every 2xx body conforms
to the spec and no request, however odd, gets a 5xx (no faults are injected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from writer_jobs.testing import FakeWriterAPI

ROOT = Path(__file__).resolve().parents[2]
FAKE = FakeWriterAPI(seed_failed=20, delay=0.0, failure_ratio=0.5)
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")
schema.app = FAKE.app
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fake_conforms_to_the_spec(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {FAKE.api_key}"}, checks=CHECKS)


def test_known_jobs_conform_too() -> None:
    """Random UUIDs mostly miss; call each operation on a seeded job as well."""
    operation = schema["/v1/applications/jobs/{job_id}"]["GET"]
    case = operation.Case(path_parameters={"job_id": str(FAKE.seeded[0])})
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {FAKE.api_key}"}, checks=CHECKS
    )
    assert response.status_code == 200
    retry = schema["/v1/applications/jobs/{job_id}/retry"]["POST"]
    case = retry.Case(path_parameters={"job_id": str(FAKE.seeded[1])})
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {FAKE.api_key}"}, checks=CHECKS
    )
    assert response.status_code == 202


def test_the_conformance_check_catches_a_spec_breaking_body() -> None:
    """So the test above can fail: a body that breaks the spec is reported."""
    import traceback

    import pytest

    FAKE.fail_next("get_job", "spec_breaking")
    operation = schema["/v1/applications/jobs/{job_id}"]["GET"]
    case = operation.Case(path_parameters={"job_id": str(FAKE.seeded[2])})
    with pytest.raises(BaseException) as info:  # schemathesis raises a group of failures
        case.call_and_validate(headers={"Authorization": f"Bearer {FAKE.api_key}"}, checks=CHECKS)
    assert '"paused" is not one of' in "".join(traceback.format_exception(info.value))
