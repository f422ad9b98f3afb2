"""`make update-spec SPEC=file` end to end, on a git copy of this project, with the spec
the way Writer publishes it: the whole API, no operationIds, no error body.

One update per scenario (module-scoped fixtures): each regenerates the client."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import _published as published
from ._project import copy_project, run
from ._spec import ROOT

pytestmark = pytest.mark.scripts


JOB_MODULES = ["__init__.py", "create_job.py", "get_job.py", "list_jobs.py", "retry_job.py"]
ADDITIVE = [
    "additive  parameter list_jobs query order: added, optional",
    "additive  enum api_job_status: value 'queued' added",
    "additive  response field generate_application_async_response.updated_at: added, optional",
]


@dataclass
class Update:
    project: Path
    result: subprocess.CompletedProcess[str]

    @property
    def out(self) -> str:
        return self.result.stdout

    @property
    def err(self) -> str:
        return self.result.stderr

    def check(self) -> subprocess.CompletedProcess[str]:
        return run(self.project, "bash", "generate.sh", "--check")

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """``code`` run by this venv's Python from the copy (its packages come first)."""
        return run(self.project, sys.executable, "-c", code)


def _update(
    factory: pytest.TempPathFactory, document: dict[str, Any], name: str, tests: bool = False
) -> Update:
    root = factory.mktemp("update")
    project = copy_project(root / "project")
    new_spec = published.write(document, root / name)
    # Writer's retry page shows the same version of the spec.
    page = published.retry_page(document, root / "writer-retry-job.md")
    result = run(
        project,
        "bash",
        "scripts/update-spec.sh",
        str(new_spec),
        str(page),
        UPDATE_SPEC_TESTS="1" if tests else "0",
    )
    return Update(project, result)


@pytest.fixture(scope="module")
def later(tmp_path_factory: pytest.TempPathFactory) -> Update:
    """The later published version, as YAML, contract tests included."""
    return _update(tmp_path_factory, published.later_version(), "writer-api.yaml", tests=True)


@pytest.fixture(scope="module")
def later_json(tmp_path_factory: pytest.TempPathFactory) -> Update:
    return _update(tmp_path_factory, published.later_version(), "writer-api.json")


def test_the_later_version_is_taken_with_exit_0(later: Update) -> None:
    assert later.result.returncode == 0, later.out + later.err
    # Taken verbatim: the file as published, no operationId added to it.
    upstream = (later.project / "spec" / "upstream.yaml").read_text()
    assert yaml.safe_load(upstream) == published.later_version()
    assert "operationId" not in upstream
    assert later.check().returncode == 0, later.check().stdout


def test_the_contract_tests_pass_against_the_regenerated_client(later: Update) -> None:
    assert " passed" in later.out and " failed" not in later.out, later.out


def test_only_the_job_operations_are_generated(later: Update) -> None:
    api = later.project / "generated_client" / "api"
    assert sorted(p.name for p in api.iterdir() if p.name != "__init__.py") == ["template"]
    assert sorted(p.name for p in (api / "template").iterdir()) == JOB_MODULES
    models = {p.stem for p in (later.project / "generated_client" / "models").glob("*.py")}
    assert not {m for m in models if "chat" in m or "file" in m or "application" in m}
    effective = yaml.safe_load((later.project / "openapi.yaml").read_text())
    assert "/v1/chat" not in effective["paths"] and "/v1/applications" not in effective["paths"]


def test_the_changelog_lists_exactly_the_three_additive_changes(later: Update) -> None:
    changelog = later.out.split("API changelog", 1)[1].split("Python surface", 1)[0]
    lines = [line.strip() for line in changelog.splitlines()[1:] if line.strip()]
    assert sorted(lines) == sorted(ADDITIVE), changelog
    assert "  breaking  " not in later.out and "writer_jobs/ uses what broke" not in later.out


def test_generate_lists_the_changed_files_and_the_next_steps(later: Update) -> None:
    listed = later.out.split("generate: changed files", 1)[1]
    for name in ("spec/upstream.yaml", "openapi.yaml", "generated_client/models/job_status.py"):
        assert name in listed, listed
    assert "make test" in listed and "git add" in listed


NAMES_AND_READS = """
import writer_jobs._generated, writer_jobs
from writer_jobs._generated.api.template import create_job, get_job, list_jobs, retry_job
from writer_jobs._generated.models import ErrorBody, Job, JobDetails, JobStatus
for module in (writer_jobs._generated, writer_jobs):
    assert module.__file__.startswith(PROJECT), module.__file__
assert JobStatus("queued") is JobStatus.QUEUED
assert "updated_at" in Job.__annotations__
job = JobDetails.from_dict({"id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e", "status": "queued",
    "application_id": "a", "created_at": "2024-01-01T00:00:00Z", "error": None})
assert job.error is None and job.status is JobStatus.QUEUED, job
print("ok")
"""


def test_names_stay_stable_and_queued_is_a_known_status(later: Update) -> None:
    done = later.python(NAMES_AND_READS.replace("PROJECT", repr(str(later.project))))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_wrapper_core_scenarios_pass_against_the_regenerated_client(later: Update) -> None:
    done = run(
        later.project,
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/wrapper/test_retries.py",
        "tests/wrapper/test_validation.py",
        "tests/wrapper/test_errors.py",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_json_input_gives_the_same_result_as_yaml(later: Update, later_json: Update) -> None:
    assert later_json.result.returncode == 0, later_json.out + later_json.err
    upstream = later_json.project / "spec" / "upstream.json"
    assert json.loads(upstream.read_text()) == published.later_version()
    assert not (later_json.project / "spec" / "upstream.yaml").exists()
    assert later_json.check().returncode == 0
    yaml_spec = (later.project / "openapi.yaml").read_text()
    json_spec = (later_json.project / "openapi.yaml").read_text()
    assert json_spec == yaml_spec.replace("spec/upstream.yaml ", "spec/upstream.json ")
    diff = subprocess.run(
        ["diff", "-r", str(later.project / "generated_client"), "generated_client"],
        cwd=later_json.project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert diff.returncode == 0, diff.stdout


# Breaking upstream changes: each named, with where writer_jobs/ uses it, exit 1.


def _breaking(edit: Any) -> dict[str, Any]:
    document = copy.deepcopy(published.whole_api(published.from_reference_pages()))
    edit(document)
    return document


def _drop_updated_at(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["get_async_application_job_response"]
    del schema["properties"]["updated_at"]


def _drop_retry(document: dict[str, Any]) -> None:
    del document["paths"][published.RETRY]


def _rename_job_schema(document: dict[str, Any]) -> None:
    text = json.dumps(document).replace("get_async_application_job_response", "async_job")
    document.clear()
    document.update(json.loads(text))


@pytest.fixture(scope="module")
def field_removed(tmp_path_factory: pytest.TempPathFactory) -> Update:
    return _update(tmp_path_factory, _breaking(_drop_updated_at), "writer-api.yaml")


def test_a_removed_field_the_wrapper_reads_fails_naming_it_and_where(field_removed: Update) -> None:
    assert field_removed.result.returncode == 1
    what = "breaking  response field get_async_application_job_response.updated_at: removed"
    assert what in field_removed.out
    places = field_removed.out.split("writer_jobs/ uses what broke", 1)[1]
    assert "writer_jobs/" in places and ".updated_at" in places, places
    assert "breaks this client" in field_removed.err
    # The regenerated tree is consistent: the person fixes writer_jobs/ against it.
    assert field_removed.check().returncode == 0


def _refused(update: Update) -> None:
    """A spec that cannot be built is not taken: the copy is exactly as committed."""
    assert update.result.returncode == 1
    assert "NOT taken" in update.err
    status = run(update.project, "git", "status", "--porcelain")
    assert status.stdout == "", status.stdout


def test_a_selected_operation_removed_is_named_with_its_uses(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    new_spec = published.write(_breaking(_drop_retry), tmp_path / "writer-api.yaml")
    update = Update(project, run(project, "bash", "scripts/update-spec.sh", str(new_spec)))
    _refused(update)
    assert f"selected operation POST {published.RETRY} is not in the upstream spec" in update.err
    uses = update.err.split(f"writer_jobs/ uses POST {published.RETRY} (retry_job):", 1)[1]
    assert "writer_jobs/" in uses and "retry_job" in uses, update.err


def test_a_schema_the_overlay_targets_renamed_is_named(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    new_spec = published.write(_breaking(_rename_job_schema), tmp_path / "writer-api.json")
    update = Update(project, run(project, "bash", "scripts/update-spec.sh", str(new_spec)))
    _refused(update)
    assert "overlay action 'error may be null:" in update.err
    assert "get_async_application_job_response.properties.error" in update.err
    assert "writer_jobs/ uses JobDetails" in update.err


def test_the_contract_tests_fail_on_a_broken_spec_shape_without_crashing(tmp_path: Path) -> None:
    """An inline response schema, an operation gone, a component gone and a generated
    module gone: collection succeeds and failing tests say what is wrong."""
    project = copy_project(tmp_path / "project")
    spec_path = project / "openapi.yaml"
    document = yaml.safe_load(spec_path.read_text())
    del document["paths"][published.RETRY]
    job = document["paths"][published.JOB]["get"]["responses"]["200"]
    job["content"]["application/json"]["schema"] = {"type": "object"}
    del document["components"]["schemas"]["api_job_status"]
    spec_path.write_text(yaml.safe_dump(document, sort_keys=False))
    (project / "generated_client" / "api" / "template" / "retry_job.py").unlink()

    pytest_args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not scripts"]
    collected = run(project, *pytest_args, "--collect-only", "-q", "tests/contract")
    assert collected.returncode == 0, collected.stdout[-3000:]
    assert "ERROR" not in collected.stdout and "errors" not in collected.stdout.splitlines()[-1]

    done = run(
        project,
        *pytest_args,
        "-q",
        "tests/contract/test_spec.py",
        "tests/contract/test_roundtrip.py",
        "tests/contract/test_prism.py",
    )
    assert done.returncode == 1, done.stdout[-3000:]  # tests failed; 2 would be a crash
    out = done.stdout
    assert f"openapi.yaml has no POST {published.RETRY}" in out
    assert f"response GET {published.JOB} 200 has an inline schema" in out
    assert "#/components/schemas/api_job_status" in out
    assert "the generated client lacks a name these tests call" in out
    assert "retry_job" in out


# `make update-spec` on a fresh clone (no .venv, no Prism), no REFERENCE: the copy of the
# published retry page stays, and the new spec is judged against it like any spec change.


def _fresh_update(factory: pytest.TempPathFactory, document: dict[str, Any]) -> Update:
    root = factory.mktemp("fresh")
    project = copy_project(root / "project", fresh=True)
    new_spec = published.write(document, root / "writer-api.yaml")
    # A person's shell: none of this run's venvs on PATH, the Makefile sets up its own.
    path = os.pathsep.join(
        part
        for part in os.environ.get("PATH", "").split(os.pathsep)
        if part
        and not Path(part).resolve().is_relative_to(ROOT)
        and Path(part).resolve() != Path(sys.executable).parent.resolve()
    )
    result = run(project, "make", "update-spec", f"SPEC={new_spec}", PATH=path)
    return Update(project, result)


def _drop_retry_created_at(document: dict[str, Any]) -> None:
    schema = document["components"]["schemas"]["generate_application_async_response"]
    del schema["properties"]["created_at"]
    schema["required"] = [name for name in schema.get("required", []) if name != "created_at"]


@pytest.fixture(scope="module")
def fresh_additive(tmp_path_factory: pytest.TempPathFactory) -> Update:
    """The later version (the retry operation's 202 body gains an optional field)."""
    return _fresh_update(tmp_path_factory, published.later_version())


@pytest.fixture(scope="module")
def fresh_breaking(tmp_path_factory: pytest.TempPathFactory) -> Update:
    """The later version with the retry operation's 202 body losing a field."""
    document = published.later_version()
    _drop_retry_created_at(document)
    return _fresh_update(tmp_path_factory, document)


RETRY_PAGE = "tests/contract/reference/writer-retry-job.md"
RETRY_OP = f"POST {published.RETRY} (retry_job)"


def test_fresh_clone_update_spec_installs_prism_and_runs_the_contract_tests(
    fresh_additive: Update,
) -> None:
    assert fresh_additive.result.returncode == 0, fresh_additive.out + fresh_additive.err
    assert (fresh_additive.project / "node_modules" / ".bin" / "prism").exists()
    assert not (fresh_additive.project / "node_modules").is_symlink()
    ran = fresh_additive.out.split("API changelog", 1)[1]
    assert " passed" in ran and " failed" not in ran and " error" not in ran, ran[-3000:]
    assert " skipped" not in ran, ran[-3000:]


def test_fresh_clone_retry_field_added_is_reported_additive_against_the_page(
    fresh_additive: Update,
) -> None:
    out = fresh_additive.out
    assert "no published retry page" in fresh_additive.err
    page = out.split(f"Published page {RETRY_PAGE} ({RETRY_OP}) -> openapi.yaml:", 1)[1]
    reported = takewhile(lambda line: line.startswith("  "), page.splitlines()[1:])
    assert [line.strip() for line in reported] == [
        "additive  enum api_job_status: value 'queued' added",
        "additive  response field generate_application_async_response.updated_at: added, optional",
    ], page
    assert "  breaking  " not in out and "breaks this client" not in fresh_additive.err
    changelog = out.split("API changelog", 1)[1].split("Python surface", 1)[0]
    assert sorted(ln.strip() for ln in changelog.splitlines()[1:] if ln.strip()) == sorted(ADDITIVE)
    assert fresh_additive.check().returncode == 0


def test_fresh_clone_retry_field_removed_fails_naming_page_operation_and_field(
    fresh_breaking: Update,
) -> None:
    # update-spec.sh exits 1; make reports it as "Error 1" and exits 2 (make's own code).
    assert fresh_breaking.result.returncode == 2, fresh_breaking.out
    err = fresh_breaking.err
    assert re.search(r"\[Makefile:\d+: update-spec\] Error 1$", err, re.M), err
    field = "response field generate_application_async_response.created_at: removed"
    assert f"  breaking  {field}" in fresh_breaking.out
    assert f"breaks the published page {RETRY_PAGE}, operation {RETRY_OP}: {field}" in err
    assert "REFERENCE=path/to/writer-retry-job.md" in err
    assert "breaks this client" in err
    # The contract tests, Prism included, ran and named it too.
    assert "generate_application_async_response.created_at" in fresh_breaking.out
    assert (fresh_breaking.project / "node_modules" / ".bin" / "prism").exists()
