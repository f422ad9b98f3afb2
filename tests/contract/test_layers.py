"""The import contracts (`make lint` runs lint-imports) hold on this tree and fail on a
violation: the core importing bulk/, the fake server importing a client's internals."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._spec import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "writer_jobs", tmp_path / "writer_jobs")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_the_contract(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("_engine.py", "from .bulk import _plan", "layers: CLI and fake server, then bulk/"),
        ("testing/_faults.py", "from .. import _engine", "never imports the clients' internals"),
        ("testing/_store.py", "from ..bulk import _run", "never imports the clients' internals"),
    ],
)
def test_a_violation_fails_the_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    tree = _copy(tmp_path)
    path = tree / "writer_jobs" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert broken in result.stdout and "BROKEN" in result.stdout, result.stdout
