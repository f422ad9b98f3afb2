"""generated_client/ is exactly what the spec produces, and a spec change is caught."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from ._project import copy_project, run
from ._spec import ROOT

pytestmark = pytest.mark.scripts


def _env() -> dict[str, str]:
    """PATH with this interpreter's venv first: generate.sh finds the pinned tools there."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_regenerating_reproduces_the_committed_tree_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "generate.sh"), str(tmp_path)],
        check=True,
        env=_env(),
        capture_output=True,
    )
    fresh = _tree(tmp_path / "generated_client")
    committed = _tree(ROOT / "generated_client")
    assert sorted(fresh) == sorted(committed)
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"generated_client/ drifted from openapi.yaml: {changed}"
    assert not list(tmp_path.rglob(".ruff_cache")), "the generator left a cache behind"


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    return run(project, "bash", "generate.sh", "--check")


def test_a_spec_change_fails_the_drift_check_until_regenerated(tmp_path: Path) -> None:
    copy_project(tmp_path)
    assert _check(tmp_path).returncode == 0, "the copied project should start clean"

    # A new published spec: the upstream file changes, openapi.yaml is derived from it.
    spec_path = tmp_path / "spec" / "upstream.yaml"
    document = yaml.safe_load(spec_path.read_text())
    schemas = document["components"]["schemas"]
    # A value no real API will ever use, so the day Writer adds one this still holds.
    new_value = f"zz-test-{uuid.uuid4().hex[:8]}"
    assert new_value not in schemas["api_job_status"]["enum"]
    schemas["api_job_status"]["enum"].append(new_value)
    schemas["generate_application_async_response"]["properties"]["queue_position"] = {
        "type": "integer",
        "description": "Where the job waits.",
    }
    spec_path.write_text(yaml.safe_dump(document, sort_keys=False))

    stale = _check(tmp_path)
    assert stale.returncode != 0
    # Both derived files are named: the effective spec and the generated code.
    assert "+++ " in stale.stdout and "openapi.yaml" in stale.stdout
    assert new_value in stale.stdout and "queue_position" in stale.stdout
    assert "generated_client/models/job_status.py" in stale.stdout
    assert "stale" in stale.stderr

    assert run(tmp_path, "bash", "generate.sh").returncode == 0
    assert _check(tmp_path).returncode == 0
    assert new_value in (tmp_path / "openapi.yaml").read_text()
    member = new_value.upper().replace("-", "_")
    assert (
        f'{member} = "{new_value}"'
        in (tmp_path / "generated_client/models/job_status.py").read_text()
    )
    # The response checks are regenerated too: queue_position must be an integer.
    checks = (tmp_path / "generated_client/response_checks/job.py").read_text()
    assert "queue_position" in checks
    assert not filecmp.cmp(
        tmp_path / "generated_client/models/job.py",
        ROOT / "generated_client/models/job.py",
        shallow=False,
    )


def test_a_hand_edit_of_the_derived_openapi_yaml_fails_the_check(tmp_path: Path) -> None:
    copy_project(tmp_path)
    spec_path = tmp_path / "openapi.yaml"
    spec_path.write_text(spec_path.read_text().replace("Retry job execution", "Retry a job"))
    stale = _check(tmp_path)
    assert stale.returncode != 0
    assert "-      summary: Retry a job" in stale.stdout
    assert "+      summary: Retry job execution" in stale.stdout


def test_stale_files_are_removed_on_regeneration(tmp_path: Path) -> None:
    copy_project(tmp_path)
    stray = tmp_path / "generated_client" / "models" / "removed_schema.py"
    stray.write_text("class Gone: ...\n")
    assert _check(tmp_path).returncode != 0
    assert run(tmp_path, "bash", "generate.sh").returncode == 0
    assert not stray.exists()
