"""Shared test helpers: the repo root, and the processes a test starts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The quick and slow tiers (make check / make test): the marks and the process guard.
from ._tiers import (
    pytest_collection_modifyitems,
    pytest_runtest_makereport,
    quick_tests_start_no_process,
)

__all__ = [
    "pytest_collection_modifyitems",
    "pytest_runtest_makereport",
    "quick_tests_start_no_process",
]

# No deadline anywhere: `make test` runs four suites side by side on two cores, where
# one slow example says nothing about the code. CI (CI=true; .ci/run sets it) replays
# the same examples every run as well: a red build is never luck.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "local")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# Runs a program with SIGINT at its default, whatever the test run inherited: a shell
# starts `make test &` (and non-interactive scripts' background jobs) with SIGINT
# ignored, an ignored disposition survives exec, and a Python started with SIGINT
# ignored never raises KeyboardInterrupt. The default survives the exec below.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class Processes:
    """Starts the processes of one test and ends every one of them after it, pass or
    fail (killed if still running, then reaped, their pipes closed)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[Any]] = []

    def start(
        self, args: Sequence[str | os.PathLike[str]], *, sigint: bool = False, **kwargs: Any
    ) -> subprocess.Popen[Any]:
        """``subprocess.Popen(args, **kwargs)``; ``sigint=True``: the test sends it
        SIGINT, so it starts with SIGINT's default disposition."""
        argv = [str(arg) for arg in args]
        if sigint:
            argv = [sys.executable, "-c", _SIGINT_DEFAULT, *argv]
        proc = subprocess.Popen(argv, **kwargs)
        self.started.append(proc)
        return proc

    def end_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=30)
            except (subprocess.TimeoutExpired, ValueError):
                proc.wait(30)


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Every process the test starts through it is ended when the test ends."""
    started = Processes()
    try:
        yield started
    finally:
        started.end_all()


@contextlib.contextmanager
def sigint_raises() -> Iterator[None]:
    """KeyboardInterrupt on SIGINT in this process, for a test that sends itself one
    (the run may have inherited SIGINT ignored); the disposition is restored after."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
