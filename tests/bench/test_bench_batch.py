"""The batch benchmark runs (tiny sizes; no timing is asserted), and what it counts on
the server holds in every situation: no row with two jobs, none joined to a job it did
not create, none missing or recorded twice; the writer-sdk loop beside it is measured;
the fast account's runs record every row once, their peak memory read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.batch import QUICK_MEMORY_ROWS, SITUATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_batch_benchmark_runs_and_counts_every_row_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.batch", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "batch.json").read_text())
    assert set(data["situations"]) == {s.name for s in SITUATIONS}
    for situation in SITUATIONS:
        run = data["situations"][situation.name]
        if situation.sdk:
            assert run["requests_per_row"] > 0
            continue
        assert run["exit"] in (0, 3), run["stderr_tail"]
        assert run["rows_with_two_jobs"] == run["joined_to_another_job"] == 0
        assert run["rows_missing"] == run["rows_recorded_twice"] == 0
        assert run["unresolved"] <= (run["lost_answers"] if situation.other_creator else 0)
    assert [run["rows"] for run in data["memory"]] == list(QUICK_MEMORY_ROWS)
    for run in data["memory"]:
        assert run["exit"] in (0, 3), run["stderr_tail"]
        assert run["rows_missing"] == run["rows_recorded_twice"] == 0
        assert run["peak_mb"] > 0
    report = (tmp_path / "batch.md").read_text()
    assert "| nobody else creating |" in report
    assert "rows on a fast account: peak memory (MB)" in report
