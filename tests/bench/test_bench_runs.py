"""`make bench` works: one run at tiny sizes (its numbers mean nothing; no timing is
asserted, the machines are shared and noisy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.rate_budget import SITUATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "results.md").read_text()
    for peer in (
        "httpx.Client",
        "JobsClient.retry",
        "writer-sdk Writer",
        "raw socket (floor)",
        "AsyncJobsClient (httpx, default)",
        "writer-sdk AsyncWriter",
    ):
        assert peer in report
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["quick"] is True and data["rss"]["retried"] == data["rss"]["jobs"] == 500
    assert set(data["bulk_rps"]) == {"1", "16", "64"}
    rate = data["rate_budget"]
    assert rate["jobs"] == 30
    assert set(rate["situations"]) == {s.name for s in SITUATIONS}
    for name, run in rate["situations"].items():
        # Speed means nothing at these sizes; what was reported must still be right.
        assert run["wrong_statuses"] == run["double_triggers"] == run["never_retried"] == 0, name
    assert "Rate budget and outages" in report and (tmp_path / "rate_budget.png").exists()
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
