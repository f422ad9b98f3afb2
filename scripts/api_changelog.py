"""What changed between two versions of openapi.yaml, each change marked additive
or breaking, then the Python surface (griffe check) and where writer_jobs/ uses
what broke. Run by `make generate` and `make update-spec`; it reports, and exits 1 on
a breaking API change only with --fail-on-breaking (`make update-spec` passes it;
`make check-generated` is the CI gate). Both sides are effective specs (openapi.yaml),
so this project's own additions (spec/overlay.yaml) never show as changes.

    python scripts/api_changelog.py [--old FILE] [--new FILE] [--against REF] [--no-python]
                                    [--fail-on-breaking]
    python scripts/api_changelog.py --page PAGE [--new FILE] [--fail-on-breaking]

--old defaults to openapi.yaml at --against (default HEAD), --new to ./openapi.yaml.
For an old client reading a newer server: in responses a new field or enum value is
additive (the models keep unknown fields, enums are open), a field that may now be
absent or null is breaking; in requests a new required input is breaking.

--page compares a copy of a published operation page (tests/contract/reference/, the
OpenAPI block of writer-retry-job.md) with the same operations of openapi.yaml, by the
same rules: the page is the older side (a newer spec than the page is the normal case),
so what the spec adds is additive and what it drops from the page is breaking.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ADDITIVE, BREAKING = "additive", "breaking"


@dataclass(frozen=True)
class Change:
    kind: str  # ADDITIVE or BREAKING
    what: str  # e.g. "response field get_job_response.error"
    how: str  # e.g. "removed"
    uses: tuple[str, ...] = ()  # regexes of Python code in writer_jobs/ hit when breaking

    def line(self) -> str:
        return f"  {self.kind:<9} {self.what}: {self.how}"


def _ref_name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    return None


def _describe(node: Any) -> str:
    """A field's type, for comparison: its $ref, type/format, and item type."""
    ref = _ref_name(node)
    if ref or not isinstance(node, dict):
        return f"ref {ref}" if ref else "any"
    kind = str(node.get("type", "object" if "properties" in node else "any"))
    if node.get("format"):
        kind += f" ({node['format']})"
    if kind == "array":
        kind += f" of {_describe(node.get('items'))}"
    return kind


def _fields(node: Any, prefix: str, out: dict[str, dict[str, Any]]) -> None:
    """Every property under ``node`` (inline objects and array items flattened)."""
    if not isinstance(node, dict) or _ref_name(node):
        return
    required = set(node.get("required", []))
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}"
        out[path] = {
            "type": _describe(sub),
            "required": name in required,
            "nullable": bool(isinstance(sub, dict) and sub.get("nullable")),
            "enum": list(sub.get("enum", [])) if isinstance(sub, dict) else [],
        }
        _fields(sub, path, out)
        if isinstance(sub, dict) and isinstance(sub.get("items"), dict):
            _fields(sub["items"], f"{path}[]", out)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {r} if (r := _ref_name(node)) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _reached(start: set[str], schemas: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs(schemas[name]))
    return seen


def _operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in (spec.get("paths") or {}).items()
        for method, op in item.items()
        if method in METHODS
    }


def _roles(spec: dict[str, Any]) -> dict[str, set[str]]:
    """Component schema name -> {"request", "response"}: where it is used."""
    schemas = spec.get("components", {}).get("schemas", {})
    request: set[str] = set()
    response: set[str] = set()
    for op in _operations(spec).values():
        request |= _refs(op.get("parameters", [])) | _refs(op.get("requestBody", {}))
        for code, body in (op.get("responses") or {}).items():
            if str(code).startswith("2"):
                response |= _refs(body)
    roles: dict[str, set[str]] = {}
    for role, names in (("request", request), ("response", response)):
        for name in _reached(names, schemas):
            roles.setdefault(name, set()).add(role)
    return roles


def _attribute(name: str) -> tuple[str, ...]:
    """Code using a field or parameter: ``.name`` or ``name=`` (snake_cased)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()
    return (rf"\.{snake}\b", rf"\b{snake}=(?!=)")


def _schema_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old_s = old.get("components", {}).get("schemas", {})
    new_s = new.get("components", {}).get("schemas", {})
    roles = _roles(old)
    for name, role_set in _roles(new).items():
        roles.setdefault(name, set()).update(role_set)
    for name in sorted(set(old_s) | set(new_s)):
        role = "/".join(sorted(roles.get(name, {"unused"})))
        if name not in new_s:
            changes.append(Change(BREAKING, f"{role} schema {name}", "removed"))
            continue
        if name not in old_s:
            changes.append(Change(ADDITIVE, f"{role} schema {name}", "added"))
            continue
        in_response = "response" in roles.get(name, set())
        in_request = "request" in roles.get(name, set())
        old_enum, new_enum = old_s[name].get("enum", []), new_s[name].get("enum", [])
        changes += _enum_changes(f"enum {name}", old_enum, new_enum)
        if _describe(old_s[name]) != _describe(new_s[name]):
            how = f"type {_describe(old_s[name])} -> {_describe(new_s[name])}"
            changes.append(Change(BREAKING, f"{role} schema {name}", how))
        before: dict[str, dict[str, Any]] = {}
        after: dict[str, dict[str, Any]] = {}
        _fields(old_s[name], name, before)
        _fields(new_s[name], name, after)
        for path in sorted(set(before) | set(after)):
            what = f"{role} field {path}"
            py = _attribute(path.rsplit(".", 1)[-1].removesuffix("[]"))
            a, b = before.get(path), after.get(path)
            if b is None:
                changes.append(Change(BREAKING, what, "removed", py))
            elif a is None:
                breaking = b["required"] and in_request
                how = "added, required" if b["required"] else "added, optional"
                changes.append(Change(BREAKING if breaking else ADDITIVE, what, how, py))
            else:
                if a["type"] != b["type"]:
                    changes.append(Change(BREAKING, what, f"type {a['type']} -> {b['type']}", py))
                if a["required"] != b["required"]:
                    if b["required"]:  # requests must send it; model constructors need it
                        changes.append(Change(BREAKING, what, "made required", py))
                    else:
                        kind = BREAKING if in_response else ADDITIVE
                        changes.append(Change(kind, what, "made optional", py))
                if a["nullable"] != b["nullable"]:
                    kind = BREAKING if (b["nullable"] and in_response) else ADDITIVE
                    if not b["nullable"] and in_request:
                        kind = BREAKING
                    how = "may now be null" if b["nullable"] else "no longer nullable"
                    changes.append(Change(kind, what, how, py))
                changes += _enum_changes(f"enum {path}", a["enum"], b["enum"])
    return changes


def _enum_changes(what: str, old: list[Any], new: list[Any]) -> list[Change]:
    out = [Change(ADDITIVE, what, f"value {v!r} added") for v in new if v not in old]
    for value in old:
        if value not in new:
            member = re.sub(r"\W", "_", str(value)).upper()
            out.append(Change(BREAKING, what, f"value {value!r} removed", (rf"\.{member}\b",)))
    return out


def _operation_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    old_ops, new_ops = _operations(old), _operations(new)
    for key in sorted(set(old_ops) | set(new_ops)):
        a, b = old_ops.get(key), new_ops.get(key)
        op_id = str((b or a or {}).get("operationId", key))
        what = f"operation {key} ({op_id})"
        if b is None:
            changes.append(Change(BREAKING, what, "removed", (rf"\b{op_id}\b",)))
            continue
        if a is None:
            changes.append(Change(ADDITIVE, what, "added"))
            continue
        if a.get("operationId") != b.get("operationId"):
            how = f"operationId {a.get('operationId')} -> {b.get('operationId')}"
            changes.append(Change(BREAKING, what, how, (rf"\b{a.get('operationId')}\b",)))
        params_a = {(p.get("in"), p.get("name")): p for p in a.get("parameters", [])}
        params_b = {(p.get("in"), p.get("name")): p for p in b.get("parameters", [])}
        for where, name in sorted(set(params_a) | set(params_b), key=str):
            pa, pb = params_a.get((where, name)), params_b.get((where, name))
            pwhat = f"parameter {op_id} {where} {name}"
            py = _attribute(str(name))
            if pb is None:
                changes.append(Change(BREAKING, pwhat, "removed", py))
            elif pa is None:
                required = bool(pb.get("required"))
                how = "added, required" if required else "added, optional"
                changes.append(Change(BREAKING if required else ADDITIVE, pwhat, how, py))
            else:
                if _describe(pa.get("schema")) != _describe(pb.get("schema")):
                    how = f"type {_describe(pa.get('schema'))} -> {_describe(pb.get('schema'))}"
                    changes.append(Change(BREAKING, pwhat, how, py))
                if bool(pa.get("required")) != bool(pb.get("required")):
                    kind = BREAKING if pb.get("required") else ADDITIVE
                    how = "made required" if pb.get("required") else "made optional"
                    changes.append(Change(kind, pwhat, how, py))
        body_a, body_b = a.get("requestBody"), b.get("requestBody")
        if _refs(body_a) != _refs(body_b) or bool((body_a or {}).get("required")) != bool(
            (body_b or {}).get("required")
        ):
            changes.append(
                Change(BREAKING, f"request body of {op_id}", "changed", (rf"\b{op_id}\b",))
            )
        codes_a = {str(c) for c in a.get("responses", {})}
        codes_b = {str(c) for c in b.get("responses", {})}
        for code in sorted(codes_a | codes_b):
            rwhat = f"response {code} of {op_id}"
            if code not in codes_b:
                changes.append(Change(BREAKING, rwhat, "removed", (rf"\b{op_id}\b",)))
            elif code not in codes_a:
                changes.append(Change(ADDITIVE, rwhat, "added"))
            elif _refs(a["responses"][code]) != _refs(b["responses"][code]):
                changes.append(Change(BREAKING, rwhat, "schema changed", (rf"\b{op_id}\b",)))
    return changes


def api_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return _operation_changes(old, new) + _schema_changes(old, new)


def page_document(page: Path) -> dict[str, Any]:
    """The OpenAPI block of a published page (the ```` ```yaml ```` fence of the .md), or
    the whole file when it is YAML (writer-get-job.yaml and the other operation pages)."""
    text = page.read_text()
    if page.suffix == ".md":
        match = re.search(r"````yaml[^\n]*\n(.*?)````", text, re.S)
        if not match:
            raise SystemExit(f"api_changelog: {page} has no ````yaml block")
        text = match.group(1)
    loaded = yaml.safe_load(text)
    return loaded if isinstance(loaded, dict) else {}


def _slice(document: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """The operations ``keys`` ("POST /path") of ``document``, with the schemas they reach."""
    paths: dict[str, Any] = {}
    for path, item in (document.get("paths") or {}).items():
        for method, op in item.items():
            if f"{method.upper()} {path}" in keys:
                paths.setdefault(path, {})[method] = op
    schemas = document.get("components", {}).get("schemas", {})
    reached = _reached(_refs(paths), schemas)
    components = {"schemas": {name: schemas[name] for name in sorted(reached)}}
    return {"paths": paths, "components": components}


def page_changes(page: dict[str, Any], effective: dict[str, Any]) -> tuple[list[str], list[Change]]:
    """The operations of ``page`` and what ``effective`` changed in them, by the rules of
    api_changes. The page has no operationIds (the overlay adds them): it gets the spec's."""
    keys = set(_operations(page))
    old, new = _slice(page, keys), _slice(effective, keys)
    new_ops = _operations(new)
    for key, op in _operations(old).items():
        if key in new_ops and "operationId" not in op and "operationId" in new_ops[key]:
            op["operationId"] = new_ops[key]["operationId"]
    names = [f"{key} ({new_ops.get(key, {}).get('operationId', '?')})" for key in sorted(keys)]
    return names, api_changes(old, new)


def page_report(page: Path, new: Path, fail_on_breaking: bool) -> int:
    """Prints how openapi.yaml differs from the published page copy ``page``."""
    names, changes = page_changes(page_document(page), yaml.safe_load(new.read_text()) or {})
    shown = _shown(page)
    print(f"Published page {shown} ({', '.join(names)}) -> {new.name}:")
    print("\n".join(c.line() for c in changes) if changes else "  no change")
    breaking = [c for c in changes if c.kind == BREAKING]
    if not breaking:
        return 0
    for change in breaking:
        print(
            f"api_changelog: {new.name} breaks the published page {shown}, operation "
            f"{', '.join(names)}: {change.what}: {change.how}",
            file=sys.stderr,
        )
    print(
        "api_changelog: if Writer changed the page too, refresh the copy with the new spec: "
        "make update-spec SPEC=path/to/spec REFERENCE=path/to/writer-retry-job.md",
        file=sys.stderr,
    )
    return 1 if fail_on_breaking else 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def griffe_report(package: str, against: str) -> str:
    """griffe's breaking changes of ``package`` since git ``against`` ('' when none)."""
    griffe = Path(sys.executable).parent / "griffe"
    result = subprocess.run(
        [str(griffe), "check", package, "-a", against, "-s", ".", "-f", "oneline", "--no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def usages(patterns: set[str]) -> list[str]:
    """file:line of writer_jobs/ code matching one of ``patterns``."""
    if not patterns:
        return []
    pattern = re.compile("|".join(sorted(patterns)))
    found = []
    for path in sorted((ROOT / "writer_jobs").rglob("*.py")):
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(text.split("#", 1)[0]):
                found.append(f"  {path.relative_to(ROOT)}:{number}: {text.strip()}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path)
    parser.add_argument("--old-label", help="how to name --old in the report")
    parser.add_argument("--new", type=Path, default=ROOT / "openapi.yaml")
    parser.add_argument("--against", default="HEAD")
    parser.add_argument("--no-python", action="store_true", help="skip griffe")
    parser.add_argument(
        "--fail-on-breaking", action="store_true", help="exit 1 when an API change is breaking"
    )
    parser.add_argument(
        "--page", type=Path, help="compare this published page copy with --new, not two specs"
    )
    args = parser.parse_args(argv)
    if args.page is not None:
        return page_report(args.page, args.new, args.fail_on_breaking)
    if args.old is not None:
        old_text = args.old.read_text()
    else:
        shown = subprocess.run(
            ["git", "show", f"{args.against}:openapi.yaml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        old_text = shown.stdout if shown.returncode == 0 else "{}"
    old, new = yaml.safe_load(old_text) or {}, yaml.safe_load(args.new.read_text()) or {}
    changes = api_changes(old, new)
    before = args.old_label or (args.old if args.old is not None else args.against)
    print(f"API changelog (openapi.yaml: {before} -> {args.new.name}):")
    print("\n".join(c.line() for c in changes) if changes else "  no change")
    broken = {n for c in changes if c.kind == BREAKING for n in c.uses}
    if not args.no_python:
        # generated_client/ is installed as writer_jobs._generated; griffe reads the
        # repository copy under its own name (a private module's changes are not reported).
        for package, label in (
            ("generated_client", "generated_client (installed as writer_jobs._generated)"),
            ("writer_jobs", "writer_jobs"),
        ):
            report = griffe_report(package, args.against)
            print(f"Python surface of {label} (griffe check against {args.against}):")
            lines = [ln for ln in report.splitlines() if ln.strip()]
            print("\n".join(f"  {ln}" for ln in lines) if lines else "  no breaking change")
            for ln in lines:
                match = re.match(r"[^:]+:\d+: ([\w.]+)", ln)
                if match:
                    broken.add(rf"\.{match.group(1).rsplit('.', 1)[-1]}\b")
    places = usages(broken)
    if places:
        print("writer_jobs/ uses what broke (check these):")
        print("\n".join(places))
    elif any(c.kind == BREAKING for c in changes):
        print("writer_jobs/ mentions none of what broke.")
    breaking = sum(c.kind == BREAKING for c in changes)
    if breaking and args.fail_on_breaking:
        print(f"api_changelog: {breaking} breaking change(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
