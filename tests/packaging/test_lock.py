"""The locks in requirements/ agree with pyproject.toml: every dev, test, docs and bench
tool that pyproject.toml asks for is pinned in dev.lock at a version its range allows, with
hashes, and nothing is pinned there as asked for by pyproject.toml that it no longer asks
for; lowest.lock holds the runtime dependencies at exactly their declared lower bounds.
A failure here means: run `make lock` and commit requirements/."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..conftest import ROOT

REQUIREMENTS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = canonicalize_name(PYPROJECT["project"]["name"])
REFRESH = "run `make lock` and commit requirements/"


@dataclass
class Pin:
    name: str
    version: Version
    marker: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> list[Pin]:
    """The pins of a `uv pip compile --generate-hashes` file, with their `# via` lines."""
    pins: list[Pin] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if match := re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line):
            name, version, marker = match.groups()
            pins.append(Pin(canonicalize_name(name), Version(version), marker or ""))
        elif stripped.startswith("--hash=") and pins:
            pins[-1].hashes.append(stripped.removeprefix("--hash=").rstrip(" \\"))
        elif stripped.startswith("#") and pins and line.startswith("    "):
            via = stripped.lstrip("#").strip().removeprefix("via").strip()
            if via:
                pins[-1].via.append(via)
    return pins


def asked(*extras: str) -> list[Requirement]:
    """The runtime dependencies and those of ``extras``, as pyproject.toml declares them."""
    optional = PYPROJECT["project"]["optional-dependencies"]
    texts = PYPROJECT["project"]["dependencies"] + [t for e in extras for t in optional[e]]
    return [Requirement(text) for text in texts]


LOCKS = {
    "dev.lock": ("dev", "bench"),
    # The lowest run: the tools of the dev extra, the runtime dependencies lowest.
    "lowest.lock": ("dev",),
}


def disagreements(lock: Path, extras: tuple[str, ...]) -> list[str]:
    """Where ``lock`` and pyproject.toml disagree: a tool asked for and not pinned, pinned
    outside its range, or pinned as asked for by pyproject.toml when it no longer is."""
    pins = read_lock(lock)
    wrong = []
    requirements = asked(*extras)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        found = [pin for pin in pins if pin.name == name]
        if not found:
            wrong.append(f"{requirement}: not pinned")
        for pin in found:
            if not requirement.specifier.contains(pin.version, prereleases=True):
                wrong.append(f"{requirement}: pinned {pin.version}")
    names = {canonicalize_name(r.name) for r in requirements}
    for pin in pins:
        direct = any(via.startswith(f"{PROJECT} (pyproject.toml)") for via in pin.via)
        if direct and pin.name not in names:
            wrong.append(f"{pin.name}: pinned for pyproject.toml, which no longer asks for it")
    return wrong


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_agrees_with_pyproject(lock: str) -> None:
    wrong = disagreements(REQUIREMENTS / lock, LOCKS[lock])
    assert not wrong, f"requirements/{lock} disagrees with pyproject.toml ({REFRESH}): {wrong}"
    direct = [p for p in read_lock(REQUIREMENTS / lock) if f"{PROJECT} (pyproject.toml)" in p.via]
    assert direct, f"{lock} has no `# via {PROJECT} (pyproject.toml)` line: {REFRESH}"


@pytest.mark.parametrize("lock", ["dev.lock", "lowest.lock", "tools.lock"])
def test_every_pin_is_exact_and_has_hashes(lock: str) -> None:
    text = (REQUIREMENTS / lock).read_text()
    pins = read_lock(REQUIREMENTS / lock)
    assert pins, f"{lock} pins nothing"
    requirement_lines = [
        line for line in text.splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert len(requirement_lines) == len(pins), "a line of the lock is not name==version"
    assert not [p.name for p in pins if not p.hashes], f"pins without --hash in {lock}"
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for p in pins for h in p.hashes)


def _lower_bound(requirement: Requirement) -> Version:
    bounds = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert len(bounds) == 1, f"{requirement}: one >= lower bound expected"
    return bounds[0]


def test_the_lowest_lock_holds_the_runtime_dependencies_at_their_lower_bounds() -> None:
    runtime = {canonicalize_name(r.name): r for r in asked()}
    lowest_in = {
        canonicalize_name(r.name): r
        for r in (
            Requirement(line)
            for line in (REQUIREMENTS / "lowest.in").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
    }
    assert set(lowest_in) == set(runtime), "requirements/lowest.in names every runtime dependency"
    pins = {pin.name: pin for pin in read_lock(REQUIREMENTS / "lowest.lock")}
    for name, requirement in runtime.items():
        bound = _lower_bound(requirement)
        (exact,) = lowest_in[name].specifier
        assert exact.operator == "==" and Version(exact.version) == bound, (
            f"requirements/lowest.in: {lowest_in[name]}, pyproject.toml: {requirement}"
        )
        assert pins[name].version == bound, f"lowest.lock pins {name} {pins[name].version}"


def test_the_lock_tool_is_pinned_with_hashes_as_tools_in_says() -> None:
    wanted = [
        Requirement(line)
        for line in (REQUIREMENTS / "tools.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = {pin.name: pin for pin in read_lock(REQUIREMENTS / "tools.lock")}
    assert [canonicalize_name(r.name) for r in wanted] == ["uv"]
    for requirement in wanted:
        pin = pins[canonicalize_name(requirement.name)]
        assert str(requirement.specifier) == f"=={pin.version}", f"{requirement} vs {pin}"


def test_a_lock_that_disagrees_is_caught(tmp_path: Path) -> None:
    """The check is not vacuous: in a doctored copy of dev.lock, a pin outside its range,
    a missing pin and a stale one are each found."""
    text = (REQUIREMENTS / "dev.lock").read_text()
    ruff = next(p for p in read_lock(REQUIREMENTS / "dev.lock") if p.name == "ruff")
    doctored = text.replace(f"\nruff=={ruff.version} ", "\nruff==0.0.1 ")
    doctored = re.sub(r"(?m)^pyyaml==.*\n(?:    .*\n)*", "", doctored)
    doctored += (
        f"zzz-gone==1.0 \\\n    --hash=sha256:{'0' * 64}\n    # via {PROJECT} (pyproject.toml)\n"
    )
    path = tmp_path / "dev.lock"
    path.write_text(doctored)
    wrong = disagreements(path, LOCKS["dev.lock"])
    ruff_range = next(r for r in asked("dev") if r.name == "ruff")
    pyyaml = next(r for r in asked("dev") if r.name == "pyyaml")
    assert wrong == [
        f"{ruff_range}: pinned 0.0.1",
        f"{pyyaml}: not pinned",
        "zzz-gone: pinned for pyproject.toml, which no longer asks for it",
    ]
