"""The generated package has what the spec says: one module per operation with its
four functions, one attrs class per schema with exactly its properties, every enum
with exactly its values. Both sides are read, nothing is listed by hand."""

from __future__ import annotations

import importlib
import inspect
from enum import Enum
from typing import Any

import attrs
import pytest

from writer_jobs._generated import models

from ._spec import class_name, operations, pascal, resolve, schemas_of, snake, spec

SCHEMAS: dict[str, Any] = schemas_of(spec())


def _object_schemas() -> list[tuple[str, dict[str, Any]]]:
    """(class name, schema) for every object schema, inline ones included."""
    found: list[tuple[str, dict[str, Any]]] = []

    def visit(name: str, schema: Any) -> None:
        schema = (
            resolve(schema, spec()) if isinstance(schema, dict) and "$ref" in schema else schema
        )
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return
        found.append((name, schema))
        for prop, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and "$ref" not in sub and sub.get("type") == "object":
                visit(name + pascal(prop), sub)

    for schema_name, schema in SCHEMAS.items():
        visit(class_name(schema_name), schema)
    return found


OBJECT_SCHEMAS = _object_schemas()
# An inline enum of a parameter becomes a class named after the operation and parameter.
PARAMETER_ENUMS = [
    (pascal(str(op.get("operationId"))) + pascal(str(p.get("name"))), p["schema"])
    for _, _, op in operations(spec())
    for p in op.get("parameters") or []
    if isinstance(p, dict) and isinstance(p.get("schema"), dict) and "enum" in p["schema"]
]
ENUM_SCHEMAS = PARAMETER_ENUMS + [
    (class_name(n), s) for n, s in SCHEMAS.items() if isinstance(s, dict) and "enum" in s
]


@pytest.mark.parametrize(("path", "method", "op"), operations(spec()), ids=lambda v: str(v)[:40])
def test_every_operation_has_a_generated_module(path: str, method: str, op: dict[str, Any]) -> None:
    where = f"{method.upper()} {path}"
    assert op.get("tags"), f"{where} has no tag: the generator files it under 'default'"
    assert op.get("operationId"), f"{where} has no operationId (spec/overlay.yaml sets them)"
    name = f"writer_jobs._generated.api.{op['tags'][0]}.{op['operationId']}"
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"{where}: {name} cannot be imported ({error}): run `make generate`")
    for function in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        assert callable(getattr(module, function)), function
    kwargs = module._get_kwargs(
        **{snake(p["name"]): _sample(p) for p in op.get("parameters", []) if p.get("required")},
        **({"body": _body(op)} if "requestBody" in op else {}),
    )
    assert kwargs["method"] == method
    expected = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            expected = expected.replace("{" + p["name"] + "}", str(_sample(p)))
    assert kwargs["url"] == expected


def _sample(parameter: dict[str, Any]) -> Any:
    from uuid import UUID

    if parameter["schema"].get("format") == "uuid":
        return UUID("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
    return "my-app"


def _body(op: dict[str, Any]) -> Any:
    schema = op["requestBody"].get("content", {}).get("application/json", {}).get("schema", {})
    assert "$ref" in schema, f"the request body of {op.get('operationId')} is not a $ref: {schema}"
    name = schema["$ref"].rsplit("/", 1)[1]
    cls = getattr(models, class_name(name))
    return cls.from_dict({"inputs": []})


def test_no_generated_model_is_unaccounted_for() -> None:
    generated = {
        name
        for name, obj in vars(models).items()
        if inspect.isclass(obj) and (attrs.has(obj) or issubclass(obj, Enum))
    }
    from_spec = {name for name, _ in OBJECT_SCHEMAS} | {name for name, _ in ENUM_SCHEMAS}
    # Objects with only additionalProperties become classes too (the "extras" maps).
    assert from_spec <= generated
    extras = generated - from_spec
    assert all(name.endswith("Extras") for name in extras), extras


@pytest.mark.parametrize(("name", "schema"), OBJECT_SCHEMAS, ids=[n for n, _ in OBJECT_SCHEMAS])
def test_model_has_exactly_the_schema_properties(name: str, schema: dict[str, Any]) -> None:
    cls = getattr(models, name)
    fields = {f.name: f for f in attrs.fields(cls) if f.name != "additional_properties"}
    properties = schema.get("properties", {})
    assert set(fields) == {snake(p) for p in properties}
    required = {snake(p) for p in schema.get("required", [])}
    for field_name, field in fields.items():
        has_default = field.default is not attrs.NOTHING
        assert has_default == (field_name not in required), field_name
    # The JSON names survive to_dict/from_dict.
    assert "additional_properties" in {f.name for f in attrs.fields(cls)}


@pytest.mark.parametrize(("name", "schema"), ENUM_SCHEMAS, ids=[n for n, _ in ENUM_SCHEMAS])
def test_enum_has_exactly_the_schema_values(name: str, schema: dict[str, Any]) -> None:
    cls = getattr(models, name)
    values = [member.value for member in cls]
    # The generator sorts members; the set and the count must match exactly.
    assert sorted(values) == sorted(schema["enum"])


def test_readable_names_from_class_overrides() -> None:
    assert class_name("generate_application_async_response") == "Job"
    assert class_name("get_async_application_job_response") == "JobDetails"
    assert class_name("api_job_status") == "JobStatus"
    for override in spec_overrides():
        assert hasattr(models, override), override


def spec_overrides() -> list[str]:
    from ._spec import generator_config

    return [o["class_name"] for o in generator_config()["class_overrides"].values()]
