"""The spec as Writer publishes it, built from the published definitions of the four job
operations (copies in tests/contract/reference/, refreshed by make update-spec): today's, and a
later version the way the owner would publish it (the whole API, no operationIds, no
error responses, plus three additive changes)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ._spec import REFERENCE_RETRY, ROOT, reached_schemas, reference_retry_spec

# Copies of the published pages: a clone of the project has them without the folder
# they were taken from (update-spec refreshes them with the retry page).
REFERENCE = Path(__file__).resolve().parent / "reference"
RETRY = "/v1/applications/jobs/{job_id}/retry"
JOB = "/v1/applications/jobs/{job_id}"
JOBS = "/v1/applications/{application_id}/jobs"
UPSTREAM = ROOT / "spec" / "upstream.yaml"


def today() -> dict[str, Any]:
    """The checked-in upstream spec (the one the project was built from)."""
    loaded: dict[str, Any] = yaml.safe_load(UPSTREAM.read_text())
    return loaded


def from_reference_pages() -> dict[str, Any]:
    """The four published operation pages merged into one document, as Writer's whole
    spec holds them (each page is a slice of it)."""
    pages = [reference_retry_spec()] + [
        yaml.safe_load((REFERENCE / f"writer-{name}.yaml").read_text())
        for name in ("get-job", "create-job", "list-jobs")
    ]
    document = {key: copy.deepcopy(pages[0][key]) for key in ("openapi", "info", "servers")}
    document["security"] = copy.deepcopy(pages[0]["security"])
    document["paths"] = {}
    schemas: dict[str, Any] = {}
    for page in pages:
        for path, item in page["paths"].items():
            document["paths"].setdefault(path, {}).update(copy.deepcopy(item))
        for name, schema in page["components"]["schemas"].items():
            assert schemas.setdefault(name, schema) == schema, f"pages disagree on {name}"
    document["components"] = {
        "schemas": copy.deepcopy(schemas),
        "securitySchemes": copy.deepcopy(pages[0]["components"]["securitySchemes"]),
    }
    return document


def _op(tag: str, summary: str, response: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "tags": [tag],
        "summary": summary,
        **extra,
        "responses": {
            "200": {
                "description": "Successful response",
                "content": {"application/json": {"schema": response}},
            }
        },
        "security": [{"bearerAuth": []}],
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(name)}}, "required": True}


def whole_api(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` inside the rest of the published API: list applications and
    synchronous generate (tag ``template``, like the jobs), chat, files, with their
    schemas (two of them shared with the jobs) and a top-level tag list."""
    out = copy.deepcopy(document)
    app_id = {
        "name": "application_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    paths = out["paths"]
    paths["/v1/applications"] = {
        "get": _op("template", "List applications", _ref("application_list_response"))
    }
    paths["/v1/applications/{application_id}"] = {
        "post": _op(
            "template",
            "Generate from application",
            _ref("generate_application_response"),  # shared with the job's data
            parameters=[app_id],
            requestBody=_body("generate_application_request"),
        )
    }
    paths["/v1/chat"] = {
        "post": _op("chat", "Chat completion", _ref("chat_response"), requestBody=_body("chat"))
    }
    files = {"type": "object", "properties": {"data": {"type": "array", "items": _ref("file")}}}
    paths["/v1/files"] = {"get": _op("files", "List files", files)}  # an inline response
    paths["/v1/files/{file_id}"] = {
        "delete": _op(
            "files",
            "Delete file",
            {"type": "object", "properties": {"id": {"type": "string"}}},
            parameters=[
                {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
        )
    }
    string = {"type": "string"}
    schemas = out["components"]["schemas"]
    schemas["application_list_response"] = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": _ref("application_with_inputs")}},
    }
    schemas["application_with_inputs"] = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": string,
            "name": string,
            "type": {"type": "string", "enum": ["generation"]},
        },
    }
    schemas["generate_application_request"] = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "inputs": {"type": "array", "items": _ref("generate_application_input")},
            "stream": {"type": "boolean"},
        },
    }
    schemas["chat"] = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": string,
            "messages": {"type": "array", "items": _ref("chat_message")},
        },
    }
    schemas["chat_message"] = {
        "type": "object",
        "required": ["role"],
        "properties": {
            "role": {"type": "string", "enum": ["user", "assistant", "system"]},
            "content": string,
        },
    }
    schemas["chat_response"] = {
        "type": "object",
        "required": ["id", "choices"],
        "properties": {"id": string, "choices": {"type": "array", "items": _ref("chat_message")}},
    }
    schemas["file"] = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": string,
            "name": string,
            "created_at": {"type": "string", "format": "date-time"},
        },
    }
    out["tags"] = [
        {"name": "template", "description": "No-code agents (applications)."},
        {"name": "chat", "description": "Chat completion."},
        {"name": "files", "description": "Files."},
    ]
    return out


def with_additive_changes(document: dict[str, Any]) -> dict[str, Any]:
    """The three additive changes of the later version: status ``queued``,
    ``updated_at`` on the async response, an optional ``order`` on list."""
    out = copy.deepcopy(document)
    schemas = out["components"]["schemas"]
    schemas["api_job_status"]["enum"].append("queued")
    schemas["generate_application_async_response"]["properties"]["updated_at"] = {
        "type": "string",
        "format": "date-time",
        "description": "The timestamp when the job was last updated.",
    }
    out["paths"][JOBS]["get"]["parameters"].append(
        {
            "name": "order",
            "in": "query",
            "description": "The order of the jobs by creation time.",
            "required": False,
            "schema": {"type": "string", "enum": ["asc", "desc"]},
        }
    )
    return out


def later_version() -> dict[str, Any]:
    return with_additive_changes(whole_api(from_reference_pages()))


def retry_page(document: dict[str, Any], path: Path) -> Path:
    """The published retry page as Writer would show it for ``document``: the page's
    text around the slice of ``document`` for the retry operation."""
    retry = document["paths"][RETRY]["post"]
    reached = reached_schemas(retry, document)
    page_slice = {key: document[key] for key in ("openapi", "info", "servers", "security")}
    page_slice["paths"] = {RETRY: {"post": retry}}
    schemas = {name: s for name, s in document["components"]["schemas"].items() if name in reached}
    security = document["components"]["securitySchemes"]
    page_slice["components"] = {"schemas": schemas, "securitySchemes": security}
    text = REFERENCE_RETRY.read_text()
    head, rest = text.split("````yaml", 1)
    fence = rest.partition("\n")[0]  # " post /v1/applications/jobs/{job_id}/retry"
    tail = rest.split("````", 1)[1]
    block = yaml.safe_dump(page_slice, sort_keys=False)
    path.write_text(f"{head}````yaml{fence}\n{block}````{tail}")
    return path


def write(document: dict[str, Any], path: Path) -> Path:
    """``document`` as YAML (or JSON, by ``path``'s suffix), as a publisher would."""
    import json

    if path.suffix == ".json":
        path.write_text(json.dumps(document, indent=2))
    else:
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
