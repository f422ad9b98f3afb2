"""The import contracts of `make lint` hold on the tree, and each one breaks on the
import it exists to forbid: lint-imports run on a copy of the package with one bad
import added."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(
    tmp_path: Path, module: str | None = None, line: str = ""
) -> subprocess.CompletedProcess[str]:
    """lint-imports on a copy of writer_jobs/ (and the contracts), ``line`` added to
    ``module`` (a path under writer_jobs/)."""
    shutil.copytree(
        ROOT / "writer_jobs", tmp_path / "writer_jobs", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if module is not None:
        target = tmp_path / "writer_jobs" / module
        target.write_text(target.read_text() + f"\n{line}\n")
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "_cli/commands/jobs.py",
            "from ...bulk import _run  # noqa",
            "the CLI imports public names, not bulk/'s modules nor the clients' internals",
        ),
        (
            "_cli/_output.py",
            "from .. import _engine  # noqa",
            "the CLI imports public names, not bulk/'s modules nor the clients' internals",
        ),
        (
            "testing/_store.py",
            "from .. import _budget  # noqa",
            "the fake never imports the clients' internals",
        ),
        (
            "testing/_app.py",
            "from ..bulk import JobsClient  # noqa",
            "the fake never imports the clients' internals",
        ),
        (
            "_engine.py",
            "from .bulk import JobsClient  # noqa",
            "writer_jobs layers: CLI and fake server, then bulk/, then the core",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    result = _lint(tmp_path, module, line)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in " ".join(result.stdout.split()), result.stdout
