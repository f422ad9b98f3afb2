"""What the CLI prints: tables for a person on stdout, or one JSON object a line with
--json; messages on stderr, library errors said in the CLI's words."""

from __future__ import annotations

import datetime
import enum
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .. import Hint, Unset, WriterJobsError
from .._config import API_KEY_ENV
from ._exit import EXIT_USAGE

try:
    from rich.console import Console
    from rich.table import Table
except ImportError:  # pragma: no cover - the cli extra is missing
    sys.stderr.write(
        "writer-jobs: the CLI needs the 'cli' extra (rich, shtab); writer-jobs is not on PyPI: "
        "from a clone of its repository, pip install '.[cli]'\n"
    )
    raise SystemExit(EXIT_USAGE) from None

#: What to do about an error, in the CLI's words (its flags, its commands).
HINTS = {
    Hint.PASS_API_KEY: f"pass --api-key or set the {API_KEY_ENV} environment variable",
    Hint.KEY_NOT_IN_URL: "pass --api-key instead",
    Hint.USE_HTTPS: "Use https:// (the CLI sends plain http:// only to a loopback address)",
    Hint.CHECK_THE_JOB: "check it with `writer-jobs get`",
}


def explain(error: WriterJobsError) -> str:
    """A library error as the CLI says it: its problem, then its hint in CLI words."""
    return error.explain(None if error.hint is None else HINTS[error.hint])


def count(number: int, noun: str) -> str:
    """``no jobs``, ``1 job``, ``2 jobs``."""
    return f"{number or 'no'} {noun}{'' if number == 1 else 's'}"


class Output:
    """Human tables on stdout, or JSON lines with --json; messages on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        #: The API's host and port, and the run's journal, for the notices (None: unknown).
        self.api: str | None = None
        self.journal: str | None = None
        # Piped output keeps whole rows (a job id is never wrapped); a terminal wraps.
        self.out = Console(
            highlight=False,
            width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 240,
        )
        # Messages are never wrapped mid-path when stderr is a pipe or a file: greppable.
        self.err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())

    def json_line(self, data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        sys.stdout.flush()

    def say(self, text: str, **style: Any) -> None:
        """A message on stderr, as written (no markup, no highlighting)."""
        self.err.print(text, highlight=False, markup=False, **style)

    def fail(self, code: int, message: str) -> int:
        """An error that ends the command: on stderr (a JSON line with --json)."""
        if self.as_json:
            sys.stderr.write(json.dumps({"event": "error", "message": message}) + "\n")
        else:
            self.say(f"writer-jobs: error: {message}")
        return code

    def jobs(self, jobs: Sequence[Any], title: str) -> None:
        """Jobs as a table, one line a row: id and status never cut, the rest fitted to
        the terminal (at 80 columns: id, status and error or result, cut with an ellipsis).
        No jobs: the title alone ("no in_progress jobs of demo-app")."""
        if self.as_json:
            for job in jobs:
                self.json_line(job.to_dict())
            return
        if not jobs:
            self.out.print(title, highlight=False, markup=False)
            return
        table = Table(title=title, title_justify="left")
        columns = ["id", "status", "application_id", "updated_at", "error / result"]
        cells = {c: [cell(getattr(job, c, None)) for job in jobs] for c in columns[:-1]}
        # A job has an error (failed) or a result (completed): one column holds either.
        cells[columns[-1]] = [error_or_result(job) for job in jobs]
        # A column nobody has a value in is left out.
        present = ["id", "status"] + [c for c in columns[2:] if any(cells[c])]
        width = self.out.width
        if width < 160:
            present = [c for c in present if c != "application_id"]
        if width < 120:
            present = [c for c in present if c != "updated_at"]
        # Ids and statuses are what people copy: never cut (a status the spec does not
        # list may be long); the other columns share what is left, cut with an ellipsis,
        # so each job is one line at any width (80 columns included).
        whole = {
            c: max([len(c), *map(len, cells[c])])
            for c in present
            if c in {"id", "status", "updated_at"}
        }
        flexible = [c for c in present if c not in whole]
        # Each column takes its text plus a space either side and one border; one more closes.
        room = width - 1 - 3 * len(present) - sum(whole.values())
        share = max(room // len(flexible), 8) if flexible else 0
        for column in present:
            table.add_column(
                column.replace("_", " "),
                no_wrap=True,
                width=whole.get(column, share),
                overflow="ellipsis",
            )
        for row in zip(*(cells[c] for c in present), strict=True):
            table.add_row(*row)
        self.out.print(table)

    def job(self, job: Any) -> None:
        """One job, every field it has on its own line (what `get` shows)."""
        if self.as_json:
            self.json_line(job.to_dict())
            return
        table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        shown = ["id", "status", "application_id", "created_at", "updated_at", "completed_at"]
        for name in shown:
            value = getattr(job, name, None)
            if value is not None and not isinstance(value, Unset):
                table.add_row(name.replace("_", " "), cell(value))
        # A job just created (the API's Job) has neither field; a JobDetails may lack either.
        error, data = getattr(job, "error", None), getattr(job, "data", None)
        if isinstance(error, str):
            table.add_row("error", error)
        if data is not None and not isinstance(data, Unset):
            table.add_row("data", cell(data))
        for name, value in getattr(job, "additional_properties", {}).items():
            table.add_row(name, json.dumps(value, default=str))
        self.out.print(table)

    def table(self, table: Table) -> None:
        self.out.print(table)

    def line(self, text: str) -> None:
        """A line on stdout, as written."""
        self.out.print(text, highlight=False, markup=False)


def error_or_result(job: Any) -> str:
    """What a job ended with, in words: its error text, or the text it produced."""
    error, data = getattr(job, "error", None), getattr(job, "data", None)
    if isinstance(error, str):
        return error
    suggestion = getattr(data, "suggestion", None)
    return suggestion if isinstance(suggestion, str) else cell(data)


def cell(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        if value.utcoffset() == datetime.timedelta(0):
            return value.strftime("%Y-%m-%d %H:%M:%S UTC")
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, enum.Enum):
        return str(value.value)
    if value is None or isinstance(value, Unset):
        return ""
    if hasattr(value, "to_dict"):  # a job's result: show what it holds
        return json.dumps(value.to_dict(), ensure_ascii=False)
    return str(value)
