"""Build the effective openapi.yaml, the one file the generator reads, from

    spec/upstream.yaml (or .json)  the spec as Writer publishes it, checked in verbatim
    spec/selection.yaml            the operations this client is made of (method + path)
    spec/overlay.yaml              this project's changes (OpenAPI Overlay 1.0)

in that order: keep the selected operations and the components they reach, then apply
the overlay. Run by generate.sh (`make generate`, `make check-generated`).

    python scripts/build_spec.py [--spec-dir DIR] [--out FILE]

Fails (exit 1, nothing written) naming each selected operation upstream lacks and each
overlay action whose target matches nothing, and where writer_jobs/ uses what they name.
The overlay is applied by oas-patch, one action at a time, each target first queried with
the same JSONPath engine (jsonpath-ng) to catch the ones that match nothing: oas-patch
itself skips those silently.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonpath_ng.ext.parser import parse as jsonpath
from oas_patch import apply_overlay
from oas_patch import validate as validate_overlay

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
UPSTREAM_NAMES = ("upstream.yaml", "upstream.yml", "upstream.json")
# Component sections whose entries are reached by $ref (securitySchemes are reached by name).
REF_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "links",
    "callbacks",
)


class SpecBuildError(Exception):
    """The effective spec cannot be built; the message says every reason."""


def load_document(path: Path) -> dict[str, Any]:
    """A YAML or JSON file as a mapping (JSON read as JSON, so both give the same data)."""
    text = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise SpecBuildError(f"{path} is not valid {path.suffix[1:].upper()}: {error}") from error
    if not isinstance(loaded, dict):
        raise SpecBuildError(f"{path} holds a {type(loaded).__name__}, not a mapping")
    return loaded


def find_upstream(spec_dir: Path) -> Path:
    found = [spec_dir / name for name in UPSTREAM_NAMES if (spec_dir / name).is_file()]
    if len(found) != 1:
        names = ", ".join(str(p) for p in found) or "none"
        raise SpecBuildError(f"need exactly one of {UPSTREAM_NAMES} in {spec_dir}, found {names}")
    return found[0]


def read_selection(path: Path) -> list[tuple[str, str]]:
    """(method, path) for each selected operation, method in lower case."""
    operations = load_document(path).get("operations")
    if not isinstance(operations, list) or not operations:
        raise SpecBuildError(f"{path}: 'operations' must be a non-empty list of 'METHOD /path'")
    selected: list[tuple[str, str]] = []
    for entry in operations:
        parts = str(entry).split()
        if len(parts) != 2 or parts[0].lower() not in METHODS or not parts[1].startswith("/"):
            raise SpecBuildError(f"{path}: {entry!r} is not 'METHOD /path' (e.g. 'GET /v1/x')")
        selected.append((parts[0].lower(), parts[1]))
    return selected


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def _security_names(requirements: Any) -> set[str]:
    if not isinstance(requirements, list):
        return set()
    return {name for item in requirements if isinstance(item, dict) for name in item}


def select(document: dict[str, Any], selected: list[tuple[str, str]]) -> dict[str, Any]:
    """``document`` with only the ``selected`` operations and the components they reach."""
    paths = document.get("paths") or {}
    missing = [
        f"{method.upper()} {path}"
        for method, path in selected
        if not isinstance(paths.get(path), dict) or method not in paths[path]
    ]
    if missing:
        raise SelectionError(missing)
    out = copy.deepcopy(document)
    kept_paths: dict[str, Any] = {}
    for path, item in paths.items():
        methods = {m for m, p in selected if p == path}
        if methods:
            kept_paths[path] = {
                key: copy.deepcopy(value)
                for key, value in item.items()
                if key not in METHODS or key in methods
            }
    out["paths"] = kept_paths
    _prune(out)
    return out


class SelectionError(SpecBuildError):
    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            "\n".join(f"selected operation {op} is not in the upstream spec" for op in missing)
            + "\n(if Writer moved it, update spec/selection.yaml and the overlay targets naming it)"
        )


def _prune(document: dict[str, Any]) -> None:
    """Drop the components, security schemes and tags nothing kept uses."""
    components = document.get("components") or {}
    outside = {key: value for key, value in document.items() if key != "components"}
    reached: set[str] = set()
    todo = list(_refs(outside))
    while todo:
        ref = todo.pop()
        if ref in reached:
            continue
        reached.add(ref)
        parts = ref.split("/")
        if len(parts) == 4 and parts[:2] == ["#", "components"]:
            target = (components.get(parts[2]) or {}).get(parts[3])
            todo.extend(_refs(target))
    for section in REF_SECTIONS:
        if isinstance(components.get(section), dict):
            components[section] = {
                name: value
                for name, value in components[section].items()
                if f"#/components/{section}/{name}" in reached
            }
    operations = [
        op for item in document["paths"].values() for m, op in item.items() if m in METHODS
    ]
    if isinstance(components.get("securitySchemes"), dict):
        used = _security_names(document.get("security"))
        for op in operations:
            used |= _security_names(op.get("security"))
        components["securitySchemes"] = {
            name: value for name, value in components["securitySchemes"].items() if name in used
        }
    for section in [*REF_SECTIONS, "securitySchemes"]:
        if components.get(section) == {}:
            del components[section]
    if isinstance(document.get("tags"), list):
        used_tags = {tag for op in operations for tag in op.get("tags", [])}
        document["tags"] = [t for t in document["tags"] if t.get("name") in used_tags]


class DeadTargetError(SpecBuildError):
    def __init__(self, dead: list[dict[str, Any]]) -> None:
        self.dead = dead
        super().__init__(
            "\n".join(
                f"overlay action {_action_name(action)!r} matches nothing: "
                f"target {action['target']}"
                for action in dead
            )
            + "\n(a rename upstream? fix the target in spec/overlay.yaml, or drop the action)"
        )


def _action_name(action: dict[str, Any]) -> str:
    return " ".join(str(action.get("description") or action["target"]).split())


def overlay(document: dict[str, Any], overlay_doc: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the Overlay 1.0 ``overlay_doc`` applied, every action matching."""
    report = yaml.safe_load(validate_overlay(overlay_doc, "yaml"))
    if report["status"] != "success":
        problems = "; ".join(
            f"{e['message']} (at {e['path'] or 'the top'})" for e in report["errors"]
        )
        raise SpecBuildError(f"spec/overlay.yaml is not an Overlay 1.0 document: {problems}")
    out = copy.deepcopy(document)
    dead = []
    for action in overlay_doc["actions"]:
        # Each action sees the document as the ones before it left it (Overlay 1.0).
        if not jsonpath(action["target"]).find(out):
            dead.append(action)
            continue
        apply_overlay(out, {"actions": [copy.deepcopy(action)]})
    if dead:
        raise DeadTargetError(dead)
    return out


def header(upstream: Path, spec_dir: Path) -> str:
    where = spec_dir.name
    return (
        "# DERIVED FILE, do not edit: the effective spec the generator reads, written by\n"
        "# scripts/build_spec.py (make generate) from\n"
        f"#   {where}/{upstream.name:<16} the spec as Writer publishes it, verbatim\n"
        f"#   {where}/selection.yaml   the operations this client is made of\n"
        f"#   {where}/overlay.yaml     this project's changes (OpenAPI Overlay 1.0)\n"
        "# Change those and run `make generate`; for a new published spec,\n"
        "# `make update-spec SPEC=file`.\n"
    )


def build(spec_dir: Path) -> str:
    """The text of the effective openapi.yaml."""
    upstream = find_upstream(spec_dir)
    selected = select(load_document(upstream), read_selection(spec_dir / "selection.yaml"))
    effective = overlay(selected, load_document(spec_dir / "overlay.yaml"))
    body = yaml.safe_dump(effective, sort_keys=False, allow_unicode=True, width=88)
    return header(upstream, spec_dir) + body


def _changelog() -> Any:
    """scripts/api_changelog.py, for its search of writer_jobs/."""
    loaded = importlib.util.spec_from_file_location(
        "api_changelog", ROOT / "scripts/api_changelog.py"
    )
    assert loaded is not None and loaded.loader is not None
    if "api_changelog" not in sys.modules:  # its dataclasses look their module up there
        sys.modules["api_changelog"] = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(sys.modules["api_changelog"])
    return sys.modules["api_changelog"]


def _schema_class(schema: str) -> str:
    """The generated class name of a component schema (after class_overrides)."""
    default = "".join(p[:1].upper() + p[1:] for p in re.split(r"[_\W]+", schema) if p)
    config = load_document(ROOT / "openapi-python-client.yaml")
    override = (config.get("class_overrides") or {}).get(default) or {}
    return str(override.get("class_name", default))


def where_used(error: SpecBuildError, previous: Path) -> list[str]:
    """Lines saying where writer_jobs/ uses what ``error`` names."""
    names: dict[str, str] = {}  # regex -> what it is
    if isinstance(error, SelectionError) and previous.is_file():
        old = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
        for op in error.missing:
            method, path = op.split(" ", 1)
            op_id = ((old.get("paths") or {}).get(path) or {}).get(method.lower(), {})
            if isinstance(op_id, dict) and op_id.get("operationId"):
                names[rf"\b{op_id['operationId']}\b"] = f"{op} ({op_id['operationId']})"
    if isinstance(error, DeadTargetError):
        for action in error.dead:
            found = re.search(r"components\.schemas(?:\.|\[')(\w+)", action["target"])
            if found:
                cls = _schema_class(found.group(1))
                names[rf"\b{cls}\b"] = f"{cls} (the class of schema {found.group(1)})"
    lines = []
    changelog = _changelog()
    for pattern, what in names.items():
        places = changelog.usages({pattern})
        lines.append(f"writer_jobs/ uses {what}:" if places else f"writer_jobs/ never uses {what}")
        lines.extend(places)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec-dir", type=Path, default=ROOT / "spec")
    parser.add_argument("--out", type=Path, default=ROOT / "openapi.yaml")
    args = parser.parse_args(argv)
    try:
        text = build(args.spec_dir)
    except SpecBuildError as error:
        print(f"build-spec: cannot build {args.out.name}:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in str(error).splitlines()), file=sys.stderr)
        for line in where_used(error, ROOT / "openapi.yaml"):
            print(line, file=sys.stderr)
        return 1
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
