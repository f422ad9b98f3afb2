"""The CLI at a terminal of 80 columns, as a person sees it: the program runs in a
pseudo-terminal (pexpect) whose output a terminal emulator (pyte) turns into a screen,
and the tests read that screen."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from writer_jobs.testing import FakeWriterAPI

from .test_cli import SCRIPT, SENTINEL

COLUMNS, LINES = 80, 60


class Terminal:
    """One program on an 80-column screen."""

    def __init__(self, api: FakeWriterAPI, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WRITER_", "COLUMNS"))}
        env |= {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url, "TERM": "xterm"}
        self.screen = pyte.Screen(COLUMNS, LINES)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            SCRIPT, list(args), env=env, dimensions=(LINES, COLUMNS), timeout=60
        )

    def _pump(self, seconds: float) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=seconds)
            self.stream.feed(data if isinstance(data, bytes) else data.encode())
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            time.sleep(seconds)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(line for line in self.lines() if line)

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        """Read until ``needle`` is on the screen; the screen's text."""
        end = time.monotonic() + timeout
        while needle not in self.text():
            if time.monotonic() > end:
                raise AssertionError(f"{needle!r} never appeared; the screen:\n{self.text()}")
            self._pump(0.05)
        return self.text()

    def send(self, text: str) -> None:
        self.child.send(text)

    def finish(self) -> int:
        """Read to the end; the exit code."""
        while self.child.isalive():
            self._pump(0.05)
        self._pump(0.05)
        self.child.close()
        return int(self.child.exitstatus or 0)

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    """Every terminal a test opens is closed (its program ended), pass or fail."""
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


def _open(terminals: list[Terminal], api: FakeWriterAPI, *args: str) -> Terminal:
    terminals.append(Terminal(api, *args))
    return terminals[-1]


def test_the_prompt_keeps_its_choices_and_one_progress_display_follows(
    terminals: list[Terminal],
) -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=25, delay=30) as api:
        term = _open(terminals, api, "retry-failed", api.application_id)
        screen = term.wait_for("[y/N]")
        assert "Retry 25 failed jobs of demo-app? [y/N]" in screen
        assert "retrying demo-app" not in screen, "no progress before the answer"
        term.send("y\r")
        assert term.finish() == 0
        screen = term.text()
    bars = [line for line in screen.splitlines() if line.startswith("retrying demo-app")]
    assert len(bars) == 1, screen
    assert "25/25" in bars[0]
    assert api.processed("retry_job") == 25


def test_with_wait_the_progress_shows_jobs_sent_apart_from_jobs_finished(
    terminals: list[Terminal],
) -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=12, delay=10) as api:
        term = _open(terminals, api, "retry-failed", api.application_id, "--wait", "--yes")
        # Every retry is sent in well under the 10 s the jobs run: the screen shows it.
        screen = term.wait_for("sent 12, finished")
        assert "sent 12, finished 0/12" in screen
        assert term.finish() == 0
        final = term.text()
    assert "sent 12, finished 12/12" in final


def _started_journal(path: Path, api: FakeWriterAPI, count: int) -> None:
    """A journal an interrupted run left: its first ``count`` jobs sent (they landed)."""
    lines = [
        {
            "event": "journal",
            "format": 1,
            "application_id": api.application_id,
            "base_url": api.base_url,
        }
    ]
    for job in api.seeded[:count]:
        api.store.retry(job)
        lines.append({"event": "started", "job_id": str(job)})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_a_resume_tells_resumed_jobs_from_new_ones_in_the_prompt_and_the_summary(
    terminals: list[Terminal], tmp_path: Path
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=30, delay=30) as api:
        _started_journal(journal, api, 12)
        term = _open(terminals, api, "retry-failed", api.application_id, "--journal", str(journal))
        screen = " ".join(term.wait_for("[y/N]").split())
        assert "Retry 18 new failed jobs of demo-app, and check 12 resumed from" in screen
        term.send("y\r")
        assert term.finish() == 0
        summary = term.lines()
        per_job = api.retries_per_job()
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip() for line in summary if "│" in line
    }
    assert rows["failed jobs found"] == "30"
    assert rows["resumed (checked first)"] == "12" and rows["new"] == "18"
    assert len(per_job) == 18 and max(per_job.values()) == 1


def test_tables_fit_80_columns_one_line_a_job_and_get_shows_every_field(
    terminals: list[Terminal],
) -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=4, seed_completed=4, delay=0.1) as api:
        listed = _open(terminals, api, "list", api.application_id)
        assert listed.finish() == 0
        screen = listed.lines()
        got = _open(terminals, api, "get", str(api.seeded[0]))
        assert got.finish() == 0
        shown = got.text()
    table = [line for line in screen if line and line[0] in "┏┃┡│└"]
    assert table and all(len(line) <= COLUMNS for line in table)
    # The right border is on screen: nothing ran past the last column.
    assert all(line.endswith(("┓", "┃", "┩", "│", "┘")) for line in table), "\n".join(table)
    rows = [line for line in table if line.startswith("│")]
    assert len(rows) == 8, "one line a job"
    for job in api.seeded:
        (row,) = [line for line in rows if str(job) in line]
        assert "failed" in row and "Upstream" in row
    for label in ("id", "status", "application id", "created at", "updated at", "error"):
        assert any(line.startswith(label + " ") for line in shown.splitlines()), label


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["create", "demo-app", "--input", "product=kettle"], "in_progress"),
        (["list", "empty-app"], "no jobs of empty-app"),
        (["list", "demo-app", "--status", "in_progress"], "no in_progress jobs of demo-app"),
        (["retry-failed", "empty-app", "--dry-run"], "no failed jobs of empty-app would be"),
        (["retry-failed", "empty-app"], "failed jobs found"),
    ],
)
def test_the_everyday_paths_on_an_80_column_screen(
    terminals: list[Terminal], args: list[str], said: str
) -> None:
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=2, delay=30) as api:
        term = _open(terminals, api, *args)
        assert term.finish() == 0
        screen = term.text()
        created = [str(job.id) for job in api.store._jobs.values() if job.inputs]
    assert "Traceback" not in screen and "Error" not in screen, screen
    assert said in screen, screen
    for job_id in created:  # the id is what the next step needs: whole, on one line
        assert job_id in screen, screen


def test_with_v_each_notice_is_shown_once(terminals: list[Terminal], tmp_path: Path) -> None:
    from writer_jobs.testing import Outage

    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=3, delay=0.2) as api:
        _started_journal(journal, api, 1)
        with journal.open("a") as f:  # the last run's requests, still in the window
            f.write(json.dumps({"event": "sent", "at": time.time() - 5, "requests": 9}) + "\n")
        app = api.application_id
        resumed = _open(terminals, api, "-v", "retry-failed", app, "--journal", str(journal))
        assert resumed.finish() == 0
        api.schedule(Outage(start=0.0, duration=60.0, kind="503"))
        down = _open(terminals, api, "-v", "retry-failed", app, "--max-unavailable", "2")
        assert down.finish() == 75
    assert resumed.text().count("resuming from") == 1, resumed.text()
    assert down.text().count("API unavailable for") == 1, down.text()
