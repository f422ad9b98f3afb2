"""``writer-jobs batch`` at an 80-column terminal (pexpect + pyte), the resume included:
the question before anything is sent, one progress line, Ctrl-C keeping the place and
saying how to resume, and the same command finishing the batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from writer_jobs.testing import FakeWriterAPI

from .test_batch_cli import jobs_per_sku, records, write_csv
from .test_cli import SENTINEL
from .test_terminal import COLUMNS, Terminal


def unwrapped(display: list[str]) -> str:
    """The screen's text with lines the terminal wrapped (full to the last column) joined."""
    text = ""
    for line in display:
        text += line if len(line.rstrip()) == COLUMNS else line.rstrip() + "\n"
    return text


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def test_ctrl_c_keeps_the_place_and_the_same_command_finishes_the_batch(
    terminals: list[Terminal], tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "products.csv", 30)
    results = tmp_path / "results.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, delay=10, newest_first=True) as api:
        args = ("batch", api.application_id, str(source), "--output", str(results), "--key", "sku")
        terminals.append(Terminal(api, *args))
        term = terminals[-1]
        screen = term.wait_for("[y/N]")
        assert "Create jobs for 30 rows in demo-app? [y/N]" in screen
        assert "batch demo-app" not in screen, "no progress before the answer"
        term.send("y\r")
        # Every create goes out well within the 10 s the jobs run (a loaded machine
        # too); then Ctrl-C.
        term.wait_for("sent 30")
        term.send("\x03")
        assert term.finish() == 130
        stopped = unwrapped(term.screen.display)
        assert "interrupted;" in stopped and "keep the place" in stopped
        # The command is whole, to copy: a line the terminal wrapped at 80 columns.
        assert f"  {' '.join(['writer-jobs', *args])}\n" in stopped
        assert api.processed("create_job") == 30
        assert not results.exists() or records(results) == []

        terminals.append(Terminal(api, *args))
        again = terminals[-1]
        # Nothing left to create: no question; the 30 jobs are followed to their end.
        assert again.finish() == 0
        final = again.lines()
    assert api.processed("create_job") == 30 and max(jobs_per_sku(api).values()) == 1
    assert sorted(r["row"] for r in records(results)) == list(range(1, 31))
    bars = [line for line in final if line.startswith("batch demo-app ━")]
    assert bars and "30/30 done" in bars[-1], "\n".join(final)
    table = [line for line in final if line and line[0] in "┏┃┡│└"]
    assert table and all(len(line) <= COLUMNS for line in table)
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in table if "│" in line}
    assert rows["completed"] == "30" and rows["jobs created"] == "0"
