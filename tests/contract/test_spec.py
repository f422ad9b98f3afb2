"""The spec is valid, and its retry operation keeps all that the published page shows."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from openapi_spec_validator import validate

from ._spec import (
    REFERENCE_RETRY,
    changelog,
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


def _page_breaks(document: dict[str, Any]) -> list[str]:
    """What ``document`` drops or changes of the published retry page, by the rules of any
    spec change (scripts/api_changelog.py): empty when it only adds to it."""
    names, changes = changelog.page_changes(reference_retry_spec(), document)
    return [f"{', '.join(names)}: {c.what}: {c.how}" for c in changes if c.kind == "breaking"]


def test_retry_operation_keeps_everything_the_published_page_shows() -> None:
    """A newer spec than the page copy is the normal case: what openapi.yaml adds to the
    page's retry operation is additive (update-spec reports it), what it drops or changes
    fails here, naming the page, the operation and the field."""
    _retry(spec())  # says so when openapi.yaml has no retry operation at all
    broken = _page_breaks(spec())
    assert not broken, (
        f"openapi.yaml breaks the published page {REFERENCE_RETRY.name}: {broken}. If Writer "
        "changed the page too, refresh the copy: make update-spec SPEC=path/to/spec "
        "REFERENCE=path/to/writer-retry-job.md"
    )


def test_the_retry_operation_and_its_schemas_are_compared_with_the_page() -> None:
    names, _ = changelog.page_changes(reference_retry_spec(), spec())
    assert names == [f"POST {RETRY_PATH} (retry_job)"]
    mine = reached_schemas(_retry(spec()), spec())
    assert set(mine) == {"generate_application_async_response", "api_job_status"}
    # The page is not compared with itself: the spec's operationId is lent to it.
    page = _edited(lambda document: None)
    assert changelog.page_changes(reference_retry_spec(), page) == (names, [])


def _edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The page's own document, with the overlay's operationId, then ``edit``ed: what a
    later spec would be (these hold whichever spec openapi.yaml is today)."""
    document = copy.deepcopy(reference_retry_spec())
    _retry(document)["operationId"] = "retry_job"
    edit(document)
    return document


def test_a_field_added_to_the_retry_response_is_additive() -> None:
    def add(document: dict[str, Any]) -> None:
        body = schemas_of(document)["generate_application_async_response"]
        body["properties"]["zz_added"] = {"type": "string", "format": "date-time"}

    _, changes = changelog.page_changes(reference_retry_spec(), _edited(add))
    # A name no real page will have: holds after any refresh of the copy.
    field = "generate_application_async_response.zz_added"
    assert [c.line().split() for c in changes] == [
        ["additive", "response", "field", f"{field}:", "added,", "optional"]
    ]
    assert _page_breaks(_edited(add)) == []


def test_a_field_dropped_from_the_retry_response_is_named_with_the_operation() -> None:
    def drop(document: dict[str, Any]) -> None:
        del schemas_of(document)["generate_application_async_response"]["properties"]["id"]
        schemas_of(document)["generate_application_async_response"]["required"].remove("id")

    assert _page_breaks(_edited(drop)) == [
        f"POST {RETRY_PATH} (retry_job): "
        "response field generate_application_async_response.id: removed"
    ]


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
