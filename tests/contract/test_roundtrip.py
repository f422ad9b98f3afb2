"""Property tests: any instance of a response schema parses with the generated
model and survives to_dict -> from_dict unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from writer_jobs._generated import models

from ._spec import (
    class_name,
    json_schema,
    operations,
    reached_schemas,
    spec,
    unresolved_refs,
)


def _response_schemas() -> list[tuple[str, dict[str, Any]]]:
    """(component name, {"$ref": ...}) for each JSON response; a response whose schema
    is not a $ref to a component comes as ("inline: METHOD path code", schema), and
    fails below, saying so."""
    found: dict[str, dict[str, Any]] = {}
    for path, method, op in operations(spec()):
        for code, response in (op.get("responses") or {}).items():
            content = (response or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            if schema is None:
                continue
            ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
            if ref.startswith("#/components/schemas/"):
                found[ref.rsplit("/", 1)[1]] = schema
            else:
                found[f"inline: {method.upper()} {path} {code}"] = {"x-inline": schema}
    # The error body is a response too, though no operation declares it.
    found["error_response"] = {"$ref": "#/components/schemas/error_response"}
    return sorted(found.items())


RESPONSE_SCHEMAS = _response_schemas()
FORMATS = {"uuid": st.uuids().map(str)}


def test_every_operation_response_is_covered() -> None:
    names = {name for name, _ in RESPONSE_SCHEMAS}
    assert {
        "generate_application_async_response",
        "get_async_application_job_response",
        "get_async_application_jobs_response",
        "error_response",
    } <= names


@pytest.mark.parametrize(("name", "schema"), RESPONSE_SCHEMAS, ids=[n for n, _ in RESPONSE_SCHEMAS])
def test_instances_parse_and_round_trip(name: str, schema: dict[str, Any]) -> None:
    assert "x-inline" not in schema, (
        f"response {name.removeprefix('inline: ')} has an inline schema, not a $ref to a "
        "component: its generated class is named after the operation, not a stable name "
        "(give it a component in spec/overlay.yaml)"
    )
    reached = [schema, *reached_schemas(schema, spec()).values()]
    missing = [ref for node in reached for ref in unresolved_refs(node, spec())]
    assert not missing, f"response schema {name} reaches a $ref to no component: {missing}"
    cls = getattr(models, class_name(name), None)
    assert cls is not None, f"writer_jobs._generated.models has no {class_name(name)} (for {name})"

    # hypothesis-jsonschema builds objects by filtering: the filter health check is noise here.
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(from_schema(json_schema(schema), custom_formats=FORMATS))
    def round_trip(instance: dict[str, Any]) -> None:
        parsed = cls.from_dict(instance)
        again = cls.from_dict(parsed.to_dict())
        assert again == parsed
        assert again.to_dict() == parsed.to_dict()

    round_trip()
