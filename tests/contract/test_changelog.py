"""The changelog `make generate` and `make update-spec` print classifies realistic
spec changes correctly, and the update path works end to end on a copy of the project."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import _published as published
from ._project import copy_project, run
from ._spec import ROOT, spec

_loaded = importlib.util.spec_from_file_location("api_changelog", ROOT / "scripts/api_changelog.py")
assert _loaded is not None and _loaded.loader is not None
changelog: Any = sys.modules.setdefault("api_changelog", importlib.util.module_from_spec(_loaded))
_loaded.loader.exec_module(changelog)

Edit = Callable[[dict[str, Any]], None]
DETAILS = "get_async_application_job_response"
LIST_PATH = "/v1/applications/{application_id}/jobs"


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = doc["components"]["schemas"]
    return schemas


NEW_STATUS = "zz-new-status"  # no real API will use it: holds after any update


def new_enum_value(doc: dict[str, Any]) -> None:
    _schemas(doc)["api_job_status"]["enum"].append(NEW_STATUS)


def new_optional_field(doc: dict[str, Any]) -> None:
    _schemas(doc)[DETAILS]["properties"]["queue_position"] = {"type": "integer"}


def new_optional_query_parameter(doc: dict[str, Any]) -> None:
    parameter = {"name": "created_after", "in": "query", "required": False}
    doc["paths"][LIST_PATH]["get"]["parameters"].append(
        {**parameter, "schema": {"type": "string", "format": "date-time"}}
    )


def new_operation(doc: dict[str, Any]) -> None:
    get = copy.deepcopy(doc["paths"]["/v1/applications/jobs/{job_id}"]["get"])
    get.update(operationId="cancel_job", summary="Cancel a job")
    doc["paths"]["/v1/applications/jobs/{job_id}"]["delete"] = get


def removed_field(doc: dict[str, Any]) -> None:
    del _schemas(doc)[DETAILS]["properties"]["completed_at"]


def field_made_required(doc: dict[str, Any]) -> None:
    _schemas(doc)[DETAILS]["required"].append("updated_at")


def enum_value_removed(doc: dict[str, Any]) -> None:
    _schemas(doc)["api_job_status"]["enum"].remove("in_progress")


def type_changed(doc: dict[str, Any]) -> None:
    _schemas(doc)["get_async_application_jobs_response"]["properties"]["totalCount"] = {
        "type": "string"
    }


EXPECTED: list[tuple[Edit, str, str]] = [
    (new_enum_value, f"additive  enum api_job_status: value '{NEW_STATUS}' added", ""),
    (new_optional_field, f"additive  response field {DETAILS}.queue_position: added", ""),
    (new_optional_query_parameter, "additive  parameter list_jobs query created_after: added", ""),
    (new_operation, "additive  operation DELETE /v1/applications/jobs/{job_id} (cancel_job)", ""),
    (removed_field, f"breaking  response field {DETAILS}.completed_at: removed", ".completed_at"),
    (field_made_required, f"breaking  response field {DETAILS}.updated_at: made required", ""),
    (enum_value_removed, "breaking  enum api_job_status: value 'in_progress' removed", ""),
    (type_changed, "breaking  response field get_async_application_jobs_response.totalCount", ""),
]


@pytest.mark.parametrize(("edit", "line", "_"), EXPECTED, ids=[e[0].__name__ for e in EXPECTED])
def test_each_change_is_classified(edit: Edit, line: str, _: str) -> None:
    new = copy.deepcopy(spec())
    edit(new)
    lines = [c.line().strip() for c in changelog.api_changes(spec(), new)]
    assert len(lines) == 1, lines  # exactly this change, nothing invented
    assert lines[0].startswith(line), lines


def test_no_change_gives_an_empty_changelog() -> None:
    assert changelog.api_changes(spec(), copy.deepcopy(spec())) == []


@pytest.mark.scripts
def test_update_spec_on_a_copy_reports_every_change(tmp_path: Path) -> None:
    """Every edit above made to the published spec at once: each change in the
    changelog (but the new operation, which the selection leaves out), where
    writer_jobs/ uses what broke, the regenerated tree, and exit 1 (breaking)."""
    project = copy_project(tmp_path / "project")
    new = published.today()
    for edit, _, _ in EXPECTED:
        edit(new)
    new_spec = published.write(new, tmp_path / "writer-new.yaml")
    page = tmp_path / "writer-retry-job.md"
    page.write_text((ROOT / "tests/contract/reference/writer-retry-job.md").read_text() + "\n")

    done = run(project, "bash", "scripts/update-spec.sh", str(new_spec), str(page))
    assert done.returncode == 1, done.stderr
    out = done.stdout
    for edit, line, _ in EXPECTED:
        if edit is new_operation:  # not selected: not in openapi.yaml, not in the changelog
            assert "cancel_job" not in out and "DELETE" not in out, out
        else:
            assert line in out, f"{line!r} missing from:\n{out}"
    api = out.split("API changelog", 1)[1].split("Python surface", 1)[0]
    assert api.count("  additive  ") == 3 and api.count("  breaking  ") == 4, out
    assert "breaks this client" in done.stderr
    # The Python side, from griffe: the removed attribute and enum member.
    surface = out.split("Python surface of generated_client", 1)[1]
    assert "completed_at" in surface and "IN_PROGRESS" in surface, surface
    # Where writer_jobs/ uses what broke, file and line.
    places = out.split("writer_jobs/ uses what broke", 1)[1]
    assert "writer_jobs/testing/_store.py:" in places and "JobStatus.IN_PROGRESS" in places
    assert ".completed_at" in places
    # The published-page copy was refreshed, and the tree is what the new spec gives.
    assert (project / "tests/contract/reference/writer-retry-job.md").read_text() == (
        page.read_text()
    )
    status = (project / "generated_client/models/job_status.py").read_text()
    assert f'ZZ_NEW_STATUS = "{NEW_STATUS}"' in status and "IN_PROGRESS" not in status
    assert run(project, "bash", "generate.sh", "--check").returncode == 0
