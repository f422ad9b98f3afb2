"""Packaging proven: the sdist and wheel build and pass `twine check`; the wheel holds one
top-level package, writer_jobs (the generated client inside it, as writer_jobs._generated);
installed into a fresh venv far from the source tree, with another project's
`generated_client/` package in the working directory, it imports, ships py.typed, runs
`writer-jobs --version`, `serve` + `retry-failed`, and gives a throwaway test suite the
`fake_writer` fixture."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ..conftest import ROOT, Processes


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WRITER_", "PYTHON"))}
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _foreign_generated_client(folder: Path) -> None:
    """Another project's client, as openapi-python-client names it by default, in the
    working directory (a notebook's folder, say): first on sys.path for `python -c` and
    `python -m`, and without the modules writer_jobs uses."""
    package = folder / "generated_client"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""A client for some other API."""\n\nfrom .client import Client\n\nFOREIGN = True\n'
    )
    (package / "client.py").write_text("class Client:\n    pass\n")


def test_the_wheel_works_installed_alone(tmp_path: Path, processes: Processes) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT, cwd=tmp_path)
    wheels = list(dist.glob("*.whl"))
    sdists = list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    _run(sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists, cwd=tmp_path)
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "writer_jobs/py.typed" in names and "writer_jobs/_generated/py.typed" in names
    assert "writer_jobs/_generated/models/job_details.py" in names
    top = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith("-info")}
    assert top == {"writer_jobs"}, top
    assert len(names) == len(set(names)), "a file is in the wheel twice"

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    bin_dir = venv / "bin"
    wheel = wheels[0]
    _run(bin_dir / "pip", "install", "-q", f"{wheel}[cli,server]", "pytest", cwd=tmp_path)

    away = tmp_path / "elsewhere"
    away.mkdir()
    _foreign_generated_client(away)
    where = _run(
        bin_dir / "python",
        "-c",
        "import pathlib, writer_jobs, writer_jobs._generated; "
        "from writer_jobs import JobsClient, AsyncJobsClient, JobDetails, JobStatus; "
        "from writer_jobs import RetryOutcomeUnknownError; "
        "foreign = __import__('generated_client'); "
        "assert foreign.FOREIGN, 'not the foreign package'; "
        "assert JobsClient and JobDetails.__module__.startswith('writer_jobs._generated.'); "
        "print(pathlib.Path(writer_jobs.__file__).parent); "
        "print(pathlib.Path(writer_jobs._generated.__file__).parent)",
        cwd=away,
    ).split()
    for package in where:
        assert str(venv) in package, f"imported from {package}, not the venv"
        assert (Path(package) / "py.typed").exists()
    assert _run(bin_dir / "writer-jobs", "--version", cwd=away).startswith("writer-jobs ")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = processes.start(
        [
            bin_dir / "writer-jobs",
            "serve",
            "--port",
            str(port),
            "--seed-failed",
            "25",
            "--delay",
            "30",
        ],
        cwd=away,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 30
        while "Fake Writer API on" not in server.stdout.readline():
            assert time.monotonic() < deadline and server.poll() is None
        out = _run(
            bin_dir / "writer-jobs",
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--api-key",
            "fake-writer-key",
            "--json",
            "retry-failed",
            "demo-app",
            cwd=away,
        )
        assert '"retried": 25' in out
    finally:
        server.terminate()
        server.wait(10)

    (away / "test_throwaway.py").write_text(
        "from writer_jobs import JobsClient\n\n"
        "def test_fixture(fake_writer):\n"
        "    ids = fake_writer.seed_failed(3)\n"
        "    with JobsClient(fake_writer.api_key, base_url=fake_writer.base_url) as client:\n"
        "        client.retry(ids[0])\n"
        "    assert fake_writer.processed('retry_job') == 1\n"
    )
    assert "1 passed" in _run(
        bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=away
    )
