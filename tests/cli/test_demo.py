"""`make demo` is the README's first command: its script must succeed and show the
main job done, each job with exactly one final outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_script_runs_the_main_job_to_the_end() -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
        # This interpreter's venv: on Python 3.12 and 3.13 too (make test-matrix).
        env={**os.environ, "DEMO_BIN": str(Path(sys.executable).parent)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "200 jobs, 200 final outcomes, max per job 1" in result.stdout
    assert "requests a job" in result.stdout
