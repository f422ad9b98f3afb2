"""The spec is valid, and its retry operation is the published one."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from ._spec import (
    operations,
    reached_schemas,
    reference_retry_spec,
    resolve,
    schemas_of,
    spec,
    unresolved_refs,
)

RETRY_PATH = "/v1/applications/jobs/{job_id}/retry"


def test_spec_is_valid_openapi_3_0() -> None:
    document = spec()
    assert str(document.get("openapi")).startswith("3.0"), "openapi.yaml is not OpenAPI 3.0"
    validate(document)  # raises OpenAPIValidationError on any violation


def test_reference_copy_is_itself_valid() -> None:
    validate(reference_retry_spec())


def _retry(document: dict[str, Any]) -> dict[str, Any]:
    op = ((document.get("paths") or {}).get(RETRY_PATH) or {}).get("post")
    assert isinstance(op, dict), f"openapi.yaml has no POST {RETRY_PATH}"
    return op


def test_every_ref_points_at_a_component() -> None:
    assert unresolved_refs(spec(), spec()) == []


def test_retry_operation_has_the_published_path_and_method() -> None:
    ours = [(p, m) for p, m, op in operations(spec()) if op.get("operationId") == "retry_job"]
    theirs = [(p, m) for p, m, _ in operations(reference_retry_spec())]
    assert ours == theirs == [(RETRY_PATH, "post")]


def test_retry_operation_equals_the_published_definition() -> None:
    ours, theirs = spec(), reference_retry_spec()
    mine, published = _retry(ours), _retry(theirs)
    for key in ("parameters", "responses", "security", "summary", "description", "tags"):
        assert resolve(mine.get(key), ours) == resolve(published.get(key), theirs), key
    # Everything, code samples included, but what the overlay adds (operationId).
    assert {k: v for k, v in mine.items() if k != "operationId"} == published


def test_retry_reaches_the_published_schemas_unchanged() -> None:
    ours, theirs = spec(), reference_retry_spec()
    mine = reached_schemas(_retry(ours), ours)
    published = reached_schemas(_retry(theirs), theirs)
    assert set(mine) == set(published) == {"generate_application_async_response", "api_job_status"}
    for name in published:
        assert mine[name] == published[name], name


def test_retry_security_scheme_is_the_published_one() -> None:
    ours, theirs = spec(), reference_retry_spec()
    assert ours["components"]["securitySchemes"] == theirs["components"]["securitySchemes"]
    assert ours["security"] == theirs["security"]
    assert ours["servers"] == theirs["servers"]


def test_every_operation_has_an_operation_id() -> None:
    ids = {op.get("operationId") for _, _, op in operations(spec())}
    assert ids == {"retry_job", "get_job", "list_jobs", "create_job"}


def test_error_body_schema_has_the_documented_shape() -> None:
    body = schemas_of(spec()).get("error_response")
    assert body, "openapi.yaml has no components/schemas/error_response (spec/overlay.yaml adds it)"
    assert set(body["properties"]) == {"tpe", "errors", "extras"}
    detail = resolve(body["properties"]["errors"]["items"], spec())
    assert set(detail["properties"]) == {"description", "key", "extras"}
