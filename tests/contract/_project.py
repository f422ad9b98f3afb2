"""A throwaway copy of this project (its working tree, committed as one git commit) for
tests that run the generate and update paths, with this interpreter's venv on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ._spec import ROOT


def env(**extra: str) -> dict[str, str]:
    """PATH with this interpreter's venv first: the scripts find the pinned tools there."""
    out = dict(os.environ)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    out.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t")
    out.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    out.update(extra)
    return out


def git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=project, check=True, env=env(), capture_output=True, text=True
    )
    return done.stdout


def copy_project(dest: Path, fresh: bool = False) -> Path:
    """The files of the working tree (tracked and new, not ignored) in ``dest``, committed;
    node_modules (Prism) linked, not copied, unless ``fresh`` (a new clone: no venv, no
    node_modules)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    dest.mkdir(parents=True, exist_ok=True)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink():  # writer_jobs/_generated -> ../generated_client
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).symlink_to(os.readlink(source))
        elif source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    if (ROOT / "node_modules").is_dir() and not fresh:
        (dest / "node_modules").symlink_to(ROOT / "node_modules")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "before")
    return dest


def run(project: Path, *command: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``command`` in ``project``, never raising: the caller reads the exit status."""
    return subprocess.run(
        list(command),
        cwd=project,
        env=env(**extra_env),
        capture_output=True,
        text=True,
        check=False,
    )
