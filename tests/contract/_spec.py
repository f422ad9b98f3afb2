"""Reading openapi.yaml (and the published reference) for the contract tests.

Whatever shape the spec has, reading it here never raises while pytest collects: a
missing part reads as empty, a $ref to nothing resolves to ``{"x-unresolved": ref}``,
and the tests that need the part fail saying what is missing."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi.yaml"
CONFIG_PATH = ROOT / "openapi-python-client.yaml"
REFERENCE_RETRY = Path(__file__).resolve().parent / "reference" / "writer-retry-job.md"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _load_changelog() -> Any:
    """scripts/api_changelog.py (not a package): the rules the tests judge changes by."""
    found = importlib.util.spec_from_file_location(
        "api_changelog", ROOT / "scripts" / "api_changelog.py"
    )
    assert found is not None and found.loader is not None
    module = sys.modules.setdefault("api_changelog", importlib.util.module_from_spec(found))
    found.loader.exec_module(module)
    return module


changelog: Any = _load_changelog()


@cache
def spec() -> dict[str, Any]:
    """openapi.yaml; {} when unreadable (test_spec says why)."""
    try:
        loaded = yaml.safe_load(SPEC_PATH.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@cache
def generator_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG_PATH.read_text())
    return loaded


def reference_retry_spec() -> dict[str, Any]:
    """The OpenAPI block of the published retry page (the ```` ```yaml ```` fence)."""
    text = REFERENCE_RETRY.read_text()
    match = re.search(r"````yaml[^\n]*\n(.*?)````", text, re.S)
    assert match, "the reference page has no yaml block"
    loaded: dict[str, Any] = yaml.safe_load(match.group(1))
    return loaded


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation of a document."""
    return [
        (path, method, op)
        for path, item in (document.get("paths") or {}).items()
        if isinstance(item, dict)
        for method, op in item.items()
        if method in HTTP_METHODS and isinstance(op, dict)
    ]


def schemas_of(document: dict[str, Any]) -> dict[str, Any]:
    """components/schemas, empty when the document has none."""
    found = (document.get("components") or {}).get("schemas") or {}
    return found if isinstance(found, dict) else {}


def target(ref: str, document: dict[str, Any]) -> Any:
    """What a local $ref points at, or None when it points at nothing."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/") if ref.startswith("#/") else [None]:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def unresolved_refs(node: Any, document: dict[str, Any]) -> list[str]:
    """Every $ref under ``node`` that points at nothing in ``document``."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        own = [ref] if isinstance(ref, str) and target(ref, document) is None else []
        return own + [r for value in node.values() for r in unresolved_refs(value, document)]
    if isinstance(node, list):
        return [r for item in node for r in unresolved_refs(item, document)]
    return []


def resolve(node: Any, document: dict[str, Any], _seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local $ref replaced by its target (OpenAPI 3.0: siblings of
    a $ref are ignored); a $ref to nothing, or back to itself, becomes
    ``{"x-unresolved": ref}``."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            found = target(ref, document) if isinstance(ref, str) else None
            if found is None or ref in _seen:
                return {"x-unresolved": ref}
            return resolve(copy.deepcopy(found), document, (*_seen, ref))
        return {key: resolve(value, document, _seen) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, document, _seen) for item in node]
    return node


def schema_refs(node: Any) -> set[str]:
    """Every component schema name that ``node`` references directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= schema_refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= schema_refs(item)
    return found


def reached_schemas(node: Any, document: dict[str, Any]) -> dict[str, Any]:
    """The component schemas ``node`` reaches, transitively, by name (a missing one as
    ``{"x-unresolved": its $ref}``)."""
    schemas = schemas_of(document)
    reached: dict[str, Any] = {}
    todo = list(schema_refs(node))
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached[name] = schemas.get(name, {"x-unresolved": f"#/components/schemas/{name}"})
        todo.extend(schema_refs(schemas[name]))
    return reached


def pascal(name: str) -> str:
    """The generator's class name for a schema name."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def snake(name: str) -> str:
    """The generator's Python name for a property name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def class_name(schema_name: str) -> str:
    """The generated class name for a component schema, after class_overrides."""
    default = pascal(schema_name)
    override = generator_config().get("class_overrides", {}).get(default, {})
    name: str = override.get("class_name", default)
    return name


def json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema (refs resolved) as plain JSON Schema for hypothesis-jsonschema."""
    resolved: dict[str, Any] = resolve(schema, spec())

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: strip(v) for k, v in node.items() if k not in {"title", "description"}}
            if out.get("format") in {"int32", "int64"}:
                out.pop("format")
            return out
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    stripped: dict[str, Any] = strip(resolved)
    return stripped
