"""The writer-jobs command line (the ``cli`` extra): retry, watch, list, create and
bulk-retry jobs, and serve the fake API.

Exit codes: 0 success, 1 API or network error (or a job that ended in error),
2 usage error (including an invalid argument), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import enum
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs
import httpx

from generated_client.types import Unset

from . import __version__, _cli_batch
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_MAX_UNAVAILABLE
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ConfigurationError,
    InvalidArgumentError,
    ServiceUnavailableError,
    WriterJobsError,
)
from ._validation import job_id as parse_job_id
from .bulk import (
    AsyncJobsClient,
    BulkProgress,
    BulkSummary,
    JobOutcome,
    JobsClient,
    Outcome,
    Selection,
)

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: A bulk run stopped because the API was unavailable too long (sysexits' EX_TEMPFAIL:
#: try again later; the journal keeps the place).
EXIT_UNAVAILABLE = 75
#: retry-failed asks before retrying more jobs than this, when stdin is a terminal.
CONFIRM_ABOVE = 20
#: The ids of jobs that failed again printed at most, after a run.
SHOW_IDS = 20


class Declined(Exception):
    """The person at the terminal said no: nothing is sent."""


try:
    from rich.console import Console
    from rich.table import Table
except ImportError:  # pragma: no cover - the cli extra is missing
    sys.stderr.write("writer-jobs: the CLI needs the 'cli' extra: pip install 'writer-jobs[cli]'\n")
    raise SystemExit(EXIT_USAGE) from None


class UsageError(Exception):
    """A bad command line, reported like argparse's own errors (exit 2)."""


def _job_id_arg(value: str) -> str:
    if value == "-":
        return value  # ids from stdin, read by _job_ids
    try:
        return str(parse_job_id(value))
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _job_ids(values: Sequence[str]) -> list[str]:
    """The ids given, ``-`` replaced by stdin's: one id a line, or `--json` lines (``id``)."""
    ids: list[str] = []
    for value in values:
        if value != "-":
            ids.append(value)
            continue
        for number, raw in enumerate(sys.stdin, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    line = str(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    raise UsageError(
                        f"stdin line {number} is neither a job id nor a JSON line with an "
                        f"id, received {line[:80]!r}"
                    ) from None
            try:
                ids.append(str(parse_job_id(line)))
            except InvalidArgumentError as exc:
                raise UsageError(f"stdin line {number}: {exc}") from None
    return ids  # empty only when stdin was: a normal day (nothing failed), not an error


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, received {value!r}"
        ) from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, received {value!r}")
    return number


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _moment(value: str) -> datetime.datetime:
    """An ISO time (naive: UTC), or an age before now: 90s, 30m, 2h, 1d."""
    unit = _AGE_UNITS.get(value[-1:].lower())
    if unit is not None:
        try:
            age = float(value[:-1])
        except ValueError:
            age = -1.0
        if age >= 0:
            return datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=age * unit)
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time (2026-11-28T09:00) or an age (90s, 30m, 2h, 1d), "
            f"received {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _delay(value: str) -> float | tuple[float, float]:
    low, sep, high = value.partition("-")
    if not sep:
        return _non_negative(value)
    bounds = (_non_negative(low), _non_negative(high))
    if bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"a delay range is MIN-MAX, received {value!r}")
    return bounds


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, received {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, received {value!r}")
    return number


def _ratio(value: str) -> float:
    number = _non_negative(value)
    if number > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, received {value!r}")
    return number


def _outage_arg(value: str) -> tuple[float, float, str]:
    """START:DURATION[:503|close], seconds from the server's start (built into the
    fake's Outage in serve, which imports the fake lazily)."""
    parts = value.split(":")
    kind = parts.pop() if len(parts) == 3 else "503"
    try:
        start, duration = (float(part) for part in parts)
    except ValueError:
        start = duration = -1.0
    if len(parts) != 2 or kind not in ("503", "close") or min(start, duration) < 0:
        raise argparse.ArgumentTypeError(
            f"must be START:DURATION[:503|close] in seconds, e.g. 20:60 or 20:60:close, "
            f"received {value!r}"
        )
    return start, duration, kind


def _input_arg(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE, received {value!r}")
    return name, text


APP_ID_HELP = "the id of the application the jobs belong to (demo-app on writer-jobs serve)"
JOB_IDS_HELP = "job ids (UUIDs); - reads them from stdin, one a line or --json lines"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (global options go before or after the command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        help=f"Writer API key (default: ${API_KEY_ENV}); never printed",
    )
    common.add_argument(
        "--base-url",
        default=argparse.SUPPRESS,
        help=f"API base URL (default: ${BASE_URL_ENV} or https://api.writer.com)",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON object per line on stdout, for scripts",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log retries (-v) and every attempt (-vv) to stderr",
    )

    common.add_argument(
        "--timeout",
        type=_non_negative,
        default=argparse.SUPPRESS,
        dest="request_timeout",
        metavar="SECONDS",
        help="seconds each request may take (default 60); waiting is --wait-timeout",
    )
    common.add_argument(
        "--max-retries",
        type=int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="retries of a failed request (default 5; 0: none)",
    )

    parser = argparse.ArgumentParser(
        prog="writer-jobs",
        parents=[common],
        description="Retry, watch, list and create Writer async jobs.",
        epilog="Exit codes: 0 ok (every job waited for completed), 1 API or network error, "
        "2 usage error, 3 a job waited for ended failed, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"writer-jobs {__version__}")
    try:
        import shtab  # the cli extra: `writer-jobs --print-completion bash > ...`
    except ImportError:  # pragma: no cover - the extra is missing
        pass
    else:
        shtab.add_argument_to(parser, ["--print-completion"])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, help_text: str, parents: Sequence[argparse.ArgumentParser] = (common,)
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, parents=list(parents), help=help_text, description=help_text
        )

    p = command("retry", "Re-trigger failed jobs (safe to retry: never triggers a job twice).")
    p.add_argument("job_ids", nargs="+", type=_job_id_arg, metavar="JOB_ID", help=JOB_IDS_HELP)
    p.add_argument("--wait", action="store_true", help="then wait for each job to finish")
    p.add_argument(
        "--wait-timeout",
        type=_non_negative,
        default=None,
        metavar="SECONDS",
        help="give up waiting after this long (default: no limit)",
    )

    p = command("get", "Show one job.")
    p.add_argument("job_id", type=_job_id_arg, metavar="JOB_ID", help="the job's id (a UUID)")

    p = command("list", "List an application's jobs.")
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--status",
        choices=["in_progress", "failed", "completed"],
        help="only jobs with this status (default: all)",
    )
    p.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="show at most N jobs (default: all)",
    )

    p = command("create", "Start a job for an application.")
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        type=_input_arg,
        required=True,
        metavar="NAME=VALUE",
        help="an input value; repeat a NAME for several values",
    )
    p.add_argument("--wait", action="store_true", help="then wait for the job to finish")
    p.add_argument(
        "--wait-timeout",
        type=_non_negative,
        default=None,
        metavar="SECONDS",
        help="give up waiting after this long (default: no limit)",
    )

    p = command(
        "wait",
        "Wait for jobs to finish, each printed as it ends (list pages per application, "
        "not a GET per job per poll).",
    )
    p.add_argument("job_ids", nargs="+", type=_job_id_arg, metavar="JOB_ID", help=JOB_IDS_HELP)
    p.add_argument(
        "--wait-timeout",
        type=_non_negative,
        default=None,
        dest="wait_timeout",
        metavar="SECONDS",
        help="give up waiting after this long (default: no limit)",
    )

    p = command("retry-failed", "Retry every failed job of an application, resumably.")
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be retried, and the errors they failed with; send no POST",
    )
    p.add_argument(
        "--failed-since",
        type=_moment,
        metavar="WHEN",
        help="only jobs that failed at or after WHEN: an ISO time, or an age (30m, 2h, 1d)",
    )
    p.add_argument(
        "--failed-before",
        type=_moment,
        metavar="WHEN",
        help="only jobs that failed before WHEN: an ISO time, or an age (30m, 2h, 1d)",
    )
    p.add_argument(
        "--error-matches", metavar="REGEX", help="only jobs whose error text matches REGEX"
    )
    p.add_argument(
        "--limit", type=_positive_int, metavar="N", help="at most N jobs (counting a resume's)"
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help=f"do not ask before retrying more than {CONFIRM_ABOVE} jobs (asked at a terminal)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=16,
        metavar="N",
        help="jobs handled at once (default 16)",
    )
    p.add_argument("--wait", action="store_true", help="wait for each retried job to finish")
    p.add_argument(
        "--wait-timeout",
        type=_non_negative,
        default=None,
        metavar="SECONDS",
        help="give up waiting for a job after this long",
    )
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="record each outcome here; rerun with the same FILE to resume",
    )
    p.add_argument(
        "--rate-limit",
        type=_non_negative,
        default=None,
        metavar="PER_MINUTE",
        help="the account's budget, requests a minute: a ceiling; the pace is learned from "
        "429s under it (default: Writer's 400 on Writer's API, none elsewhere; 0: none)",
    )
    p.add_argument(
        "--max-unavailable",
        type=_non_negative,
        default=DEFAULT_MAX_UNAVAILABLE,
        metavar="SECONDS",
        help="stop after the API was unavailable this long in a row (503s, connections "
        f"failing); the journal keeps the place (default {DEFAULT_MAX_UNAVAILABLE:g}); "
        f"exit {EXIT_UNAVAILABLE}",
    )

    # serve has its own --api-key: the fake never takes $WRITER_API_KEY (a real key).
    p = command("serve", "Serve the fake Writer API on 127.0.0.1 (the 'server' extra).", ())
    p.add_argument(
        "--api-key",
        default=argparse.SUPPRESS,
        help="the key the fake accepts (default: fake-writer-key; $WRITER_API_KEY is ignored)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the address as a JSON line",
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="log to stderr"
    )
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument(
        "--seed-failed",
        type=int,
        default=0,
        metavar="N",
        help="start with N failed jobs (default 0)",
    )
    p.add_argument(
        "--app",
        default="demo-app",
        metavar="APP_ID",
        help="application id of the seeded jobs (default demo-app)",
    )
    p.add_argument(
        "--fault-rate",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="share of requests answered with an injected 429 or 503 (default 0)",
    )
    p.add_argument(
        "--delay",
        type=_delay,
        default=1.0,
        metavar="SECONDS",
        help="how long a job runs before it finishes: seconds, or a range MIN-MAX (default 1)",
    )
    p.add_argument(
        "--rate-limit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="the account's limit: N requests a minute, then 429 without Retry-After "
        "(default: no limit)",
    )
    p.add_argument(
        "--seed-completed",
        type=int,
        default=0,
        metavar="N",
        help="start with N completed jobs of history, minutes to days old (default 0)",
    )
    p.add_argument(
        "--newest-first",
        action="store_true",
        help="list jobs newest updated_at first, as the real API, with or without --status "
        "(pages shift; default: oldest created first)",
    )
    p.add_argument(
        "--failure-ratio",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="share of jobs that fail when they finish (default 0)",
    )
    p.add_argument(
        "--other-consumer",
        type=_non_negative,
        default=0.0,
        metavar="PER_MINUTE",
        help="another program on the same account spends PER_MINUTE requests a minute of "
        "--rate-limit's window (default 0)",
    )
    p.add_argument(
        "--lose-creates",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="share of creates whose answer is lost: half after the job was made, half "
        "before (default 0)",
    )
    p.add_argument(
        "--other-creator",
        type=_non_negative,
        default=0.0,
        metavar="PER_MINUTE",
        help="another program creates PER_MINUTE jobs a minute in the application (default 0)",
    )
    p.add_argument(
        "--outage",
        type=_outage_arg,
        action="append",
        default=[],
        metavar="START:DURATION[:KIND]",
        help="the service goes away START seconds after it starts, for DURATION seconds: "
        "KIND 503 (default) answers 503, close closes connections unanswered; repeatable",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of faults, ids, failures (default 0)"
    )
    _cli_batch.register(commands, (common,))
    return parser


class Output:
    """Human tables on stdout, or JSON lines with --json; messages on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
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

    def jobs(self, jobs: Sequence[Any], title: str | None = None) -> None:
        """Jobs as a table, one line a row: id and status never cut, the rest fitted to
        the terminal (at 80 columns: id, status and error or result, cut with an ellipsis)."""
        if self.as_json:
            for job in jobs:
                self.json_line(job.to_dict())
            return
        table = Table(title=title, title_justify="left")
        columns = ["id", "status", "application_id", "updated_at", "error / result"]
        cells = {c: [_cell(getattr(job, c, None)) for job in jobs] for c in columns[:-1]}
        # A job has an error (failed) or a result (completed): one column holds either.
        cells[columns[-1]] = [_error_or_result(job) for job in jobs]
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
            c: max(len(c), *map(len, cells[c]))
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
        """One job, every field on its own line (what `get` shows)."""
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
                table.add_row(name.replace("_", " "), _cell(value))
        if isinstance(job.error, str):
            table.add_row("error", job.error)
        if not isinstance(job.data, Unset):
            table.add_row("data", _cell(job.data))
        for name, value in getattr(job, "additional_properties", {}).items():
            table.add_row(name, json.dumps(value, default=str))
        self.out.print(table)

    def summary(self, summary: BulkSummary, application_id: str) -> None:
        if self.as_json:
            self.json_line(summary.to_json())
            return
        table = Table(title=f"retry-failed {application_id}", title_justify="left")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("failed jobs found", str(summary.total))
        if summary.resumed:
            table.add_row("  resumed (checked first)", str(summary.resumed))
            table.add_row("  new", str(summary.total - summary.resumed - summary.skipped))
        table.add_row("skipped (final in the journal)", str(summary.skipped))
        for outcome, count in sorted(summary.outcomes.items()):
            table.add_row(f"outcome: {outcome}", str(count))
        for status, count in sorted(summary.statuses.items()):
            table.add_row(f"status now: {status}", str(count))
        table.add_row("failed again", str(summary.failed_again))
        table.add_row("requests sent", str(summary.requests))
        if summary.total:
            table.add_row("requests a job", f"{summary.requests / summary.total:.2f}")
        table.add_row("transient failures retried", str(summary.transient_failures))
        table.add_row("  of which 429 (paced down)", str(summary.rate_limited))
        if summary.unavailable_seconds:
            table.add_row("API unavailable (waited)", f"{summary.unavailable_seconds:.1f} s")
        table.add_row("elapsed", f"{summary.elapsed:.1f} s")
        self.out.print(table)


def _error_or_result(job: Any) -> str:
    """What a job ended with, in words: its error text, or the text it produced."""
    if isinstance(job.error, str):
        return job.error
    suggestion = getattr(job.data, "suggestion", None)
    return suggestion if isinstance(suggestion, str) else _cell(job.data)


def _cell(value: Any) -> str:
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


def _client_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if getattr(args, "api_key", None) is not None:
        settings["api_key"] = args.api_key
    if getattr(args, "base_url", None) is not None:
        settings["base_url"] = args.base_url
    if getattr(args, "request_timeout", None) is not None:
        settings["timeout"] = args.request_timeout
    if getattr(args, "max_retries", None) is not None:
        settings["max_retries"] = args.max_retries
    return settings


class _RetryNotice(logging.Handler):
    """Without -v: one line on stderr when a connection fails and is retried, so a
    server that refuses connections is not minutes of silence."""

    #: At most one line per attempt number in this many seconds (many workers fail at once).
    QUIET = 5.0

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output
        self._last: tuple[int, float] = (0, -self.QUIET)

    def emit(self, record: logging.LogRecord) -> None:
        error = getattr(record, "retry_error", None)
        if not isinstance(error, APIConnectionError):
            return
        attempt = int(getattr(record, "retry_attempt", 0)) + 1
        now = time.monotonic()
        if attempt <= self._last[0] and now - self._last[1] < self.QUIET:
            return
        self._last = (attempt, now)
        text = str(error).lower()
        what = (
            "connection refused"
            if "refused" in text
            else "timed out"
            if isinstance(error, APITimeoutError)
            else "connection failed"
        )
        where = httpx.URL(error.url).netloc.decode() or error.url
        self.output.err.print(
            f"writer-jobs: {where}: {what}, retrying in {getattr(record, 'retry_delay', 0):.1f} s "
            f"(attempt {attempt} of {getattr(record, 'retry_attempts', '?')})",
            highlight=False,
            markup=False,
        )


class _UnavailableNotice(logging.Handler):
    """While the API is unavailable, bulk work says so (the library logs it every 10 s)."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.WARNING)
        self.output = output

    def emit(self, record: logging.LogRecord) -> None:
        down = getattr(record, "unavailable_for", None)
        if down is None:
            return
        reason = getattr(record, "unavailable_reason", "")
        self.output.err.print(
            f"writer-jobs: API unavailable for {down:.0f} s ({reason}), waiting; Ctrl-C "
            "stops, the journal keeps your place",
            highlight=False,
            markup=False,
        )


def _setup_logging(verbosity: int, output: Output) -> None:
    logger = logging.getLogger("writer_jobs")
    for notice in [h for h in logger.handlers if isinstance(h, _UnavailableNotice)]:
        logger.removeHandler(notice)  # main() run again in one process: one notice
    logger.addHandler(_UnavailableNotice(output))
    if verbosity <= 0:
        logger.addHandler(_RetryNotice(output))
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


class _Progress:
    """One progress display on stderr: a live bar at a terminal, a plain line at most
    every 5 s in a log file or a pipe, nothing with --json. It starts when told to
    (after any confirmation), so its clock never counts the time spent at a prompt.
    With ``sent``, it shows the jobs sent apart from those finished."""

    def __init__(self, output: Output, label: str, *, sent: bool) -> None:
        self.output, self.label, self.show_sent = output, label, sent
        self.total: int | None = None
        self.sent = self.finished = 0
        self.started: float | None = None
        self._last_line = 0.0  # when the last plain line was printed (0: none yet)
        self._bar: Any = None
        self._task: Any = None

    def start(self) -> None:
        if self.started is not None:
            return
        self.started = time.monotonic()
        if self.output.as_json or not self.output.err.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        counts = "{task.completed:.0f}/{task.total:.0f}"
        if self.show_sent:
            counts = "sent {task.fields[sent]}, finished " + counts
        columns = [
            TextColumn(self.label),
            BarColumn(bar_width=24),
            TextColumn(counts),
            TimeElapsedColumn(),
        ]
        self._bar = Progress(*columns, console=self.output.err, transient=False)
        self._task = self._bar.add_task(self.label, total=self.total or 0, sent=self.sent)
        self._bar.start()

    def update(self, total: int | None, sent: int, finished: int) -> None:
        self.total, self.sent, self.finished = total, sent, finished
        if self.started is None:
            return
        if self._bar is not None:
            self._bar.update(self._task, total=total, completed=finished, sent=sent)
        elif not self.output.as_json and time.monotonic() - (self._last_line or self.started) >= 5:
            self._line()

    def stop(self) -> None:
        if self.started is None:
            return
        if self._bar is not None:
            self._bar.stop()
        elif not self.output.as_json and self._last_line:  # it said something: end it
            self._line()

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _line(self) -> None:
        self._last_line = time.monotonic()
        of = f"/{self.total}" if self.total is not None else ""
        sent = f"sent {self.sent}, " if self.show_sent else ""
        elapsed = self._last_line - (self.started or self._last_line)
        self.output.err.print(
            f"{self.label}: {sent}finished {self.finished}{of}, {elapsed:.0f} s",
            highlight=False,
            markup=False,
        )


def _cmd_retry(args: argparse.Namespace, output: Output) -> int:
    """Each id in turn (one failure stops nothing), then one table of what happened:
    the same format for one id or many, with or without --wait."""
    ids = list(dict.fromkeys(_job_ids(args.job_ids)))  # an id given twice is retried once
    if not ids:
        output.err.print("nothing to retry: no job ids on stdin", highlight=False)
        return EXIT_OK
    rows: dict[str, tuple[str, Any, str]] = {}  # id -> (outcome, status, note)
    retried: list[Any] = []
    with (
        JobsClient(**_client_settings(args)) as client,
        _Progress(output, "retrying", sent=args.wait) as progress,
    ):
        progress.start()
        finished = 0  # not retried, or (with --wait) ended
        for sent, job_id in enumerate(ids, 1):
            try:
                job: Any = client.retry(job_id)
            except WriterJobsError as exc:
                rows[job_id] = ("not retried", None, _short(exc))
                _job_failed(output, job_id, exc)
                finished += 1
            else:
                retried.append(job)
                rows[job_id] = ("retried", job.status, "")
                finished += 0 if args.wait else 1
                if output.as_json and not args.wait:
                    output.json_line(job.to_dict())
            progress.update(len(ids), sent, finished)
        if args.wait and retried:
            for job in client.wait_many([job.id for job in retried], deadline=args.wait_timeout):
                rows[str(job.id)] = ("retried", job.status, _cell(job.error))
                finished += 1
                progress.update(len(ids), len(ids), finished)
                if output.as_json:
                    output.json_line(job.to_dict())
    if not output.as_json:
        table = Table(title=f"retry: {len(ids)} {_jobs_noun(len(ids))}", title_justify="left")
        table.add_column("id", no_wrap=True, min_width=36)
        table.add_column("outcome", no_wrap=True)
        table.add_column("status", no_wrap=True)
        for job_id, (outcome, status, _) in rows.items():
            table.add_row(job_id, outcome, _cell(status) or "-")
        output.out.print(table)
        for job_id, (_, _, note) in rows.items():  # why, under the table: read in full
            if note:
                output.out.print(f"{job_id}: {note}", highlight=False, markup=False)
    failed = sum(1 for outcome, _, _ in rows.values() if outcome == "not retried")
    if failed:
        output.err.print(
            f"writer-jobs: {failed} of {len(ids)} {_jobs_noun(len(ids))} could not be retried",
            highlight=False,
        )
        return EXIT_API
    return _ended(*(status for _, status, _ in rows.values())) if args.wait else EXIT_OK


def _jobs_noun(count: int) -> str:
    return "job" if count == 1 else "jobs"


def _short(exc: WriterJobsError) -> str:
    """An error in a table cell: its kind and the server's own words when it sent some
    (not the request line and status around them)."""
    descriptions = getattr(exc, "error_descriptions", None)
    if descriptions:
        return f"{type(exc).__name__}: {' '.join(descriptions)}"
    return f"{type(exc).__name__}: {exc}"


def _job_failed(output: Output, job_id: str, exc: WriterJobsError) -> None:
    if output.as_json:
        output.json_line(
            {"event": "error", "id": job_id, "error_type": type(exc).__name__, "message": str(exc)}
        )


def _cmd_get(args: argparse.Namespace, output: Output) -> int:
    with JobsClient(**_client_settings(args)) as client:
        output.job(client.get(args.job_id))
    return EXIT_OK


def _cmd_list(args: argparse.Namespace, output: Output) -> int:
    with JobsClient(**_client_settings(args)) as client:
        jobs = []
        for job in client.list(args.application_id, status=args.status):
            jobs.append(job)
            if output.as_json:
                output.json_line(job.to_dict())
            if args.limit is not None and len(jobs) >= args.limit:
                break
    if not output.as_json:
        output.jobs(jobs, title=f"{len(jobs)} {_jobs_noun(len(jobs))} of {args.application_id}")
    return EXIT_OK


def _cmd_create(args: argparse.Namespace, output: Output) -> int:
    inputs: dict[str, list[str]] = {}
    for name, value in args.inputs:
        inputs.setdefault(name, []).append(value)
    with JobsClient(**_client_settings(args)) as client:
        job: Any = client.create(args.application_id, inputs)
        if args.wait:
            job = client.wait(job.id, deadline=args.wait_timeout)
    output.job(job)
    return _ended(job.status) if args.wait else EXIT_OK


def _ended(*statuses: Any) -> int:
    """Exit 3 when a job waited for ended failed, else 0."""
    return EXIT_JOB_FAILED if any(s == "failed" for s in statuses) else EXIT_OK


def _cmd_wait(args: argparse.Namespace, output: Output) -> int:
    ids = list(dict.fromkeys(_job_ids(args.job_ids)))
    if not ids:
        output.err.print("nothing to wait for: no job ids on stdin", highlight=False)
        return EXIT_OK
    jobs = []
    with (
        JobsClient(**_client_settings(args)) as client,
        _Progress(output, "waiting", sent=False) as progress,
    ):
        progress.start()
        progress.update(len(ids), len(ids), 0)
        for job in client.wait_many(ids, deadline=args.wait_timeout):
            jobs.append(job)
            progress.update(len(ids), len(ids), len(jobs))
            if output.as_json:
                output.json_line(job.to_dict())
    if not output.as_json:
        output.jobs(jobs, title=f"{len(jobs)} {_jobs_noun(len(jobs))} ended")
    return _ended(*(job.status for job in jobs))


def _next_journal(journal: str) -> str:
    """A new journal beside ``journal``: run.jsonl -> run.2.jsonl -> run.3.jsonl ..."""
    path = Path(journal)
    stem, suffix = path.stem, path.suffix
    base, dot, number = stem.rpartition(".")
    count = int(number) if dot and number.isdigit() else 1
    stem = base if dot and number.isdigit() else stem
    while True:
        count += 1
        candidate = path.with_name(f"{stem}.{count}{suffix}")
        if not candidate.exists():
            return str(candidate)


def _again_command(args: argparse.Namespace) -> str:
    """The command that retries the jobs that failed again: a new run (a new journal;
    the same journal is the same run, which never retries a job twice). The key is never
    part of it; --failed-before and --limit are left out (the jobs failed after them)."""
    words = ["writer-jobs"]
    if getattr(args, "base_url", None) is not None:
        words += ["--base-url", args.base_url]
    words += ["retry-failed", args.application_id]
    if args.wait:
        words.append("--wait")
    if args.wait_timeout is not None:
        words += ["--wait-timeout", f"{args.wait_timeout:g}"]
    if args.failed_since is not None:
        words += ["--failed-since", args.failed_since.isoformat(timespec="seconds")]
    if args.error_matches is not None:
        words += ["--error-matches", args.error_matches]
    if args.concurrency != 16:
        words += ["--concurrency", str(args.concurrency)]
    if args.rate_limit is not None:
        words += ["--rate-limit", f"{args.rate_limit:g}"]
    if args.yes:
        words.append("--yes")
    if args.journal:
        words += ["--journal", _next_journal(args.journal)]
    return shlex.join(words)


def _cmd_retry_failed(args: argparse.Namespace, output: Output) -> int:
    progress = _Progress(output, f"retrying {args.application_id}", sent=args.wait)
    prompt_time = 0.0
    failed_again: list[str] = []

    def on_outcome(outcome: JobOutcome) -> None:
        if outcome.outcome is Outcome.RETRIED and outcome.status == "failed":
            failed_again.append(str(outcome.job_id))
        if output.as_json:
            output.json_line(outcome.to_json())
        elif outcome.error_type:
            output.err.print(
                f"{outcome.job_id}: {outcome.outcome.value}: {outcome.message}",
                style="yellow",
                markup=False,
                highlight=False,
            )

    def on_progress(state: BulkProgress) -> None:
        nonlocal prompt_time
        if progress.started is None:  # the jobs are known, none sent yet
            ask = not (args.yes or args.dry_run) and sys.stdin.isatty()
            if ask and state.total > CONFIRM_ABOVE:
                began = time.monotonic()
                answer = output.err.input(_question(state, args), markup=False)
                prompt_time += time.monotonic() - began
                if answer.strip().lower() not in {"y", "yes"}:
                    raise Declined
            progress.start()
        progress.update(state.total, state.sent, state.finished)

    budget: Any = "auto" if args.rate_limit is None else (args.rate_limit or None)
    criteria = {
        "failed_since": args.failed_since,
        "failed_before": args.failed_before,
        "error_matches": args.error_matches,
        "limit": args.limit,
    }
    select = Selection(**criteria) if any(v is not None for v in criteria.values()) else None
    preview: list[JobOutcome] = []
    report: Callable[[JobOutcome], None] = (
        preview.append if args.dry_run and not output.as_json else on_outcome
    )

    async def run() -> BulkSummary:
        async with AsyncJobsClient(**_client_settings(args), rate_limit=budget) as client:
            return await client.retry_failed(
                args.application_id,
                concurrency=args.concurrency,
                wait=args.wait,
                wait_timeout=args.wait_timeout,
                journal=args.journal,
                on_outcome=report,
                on_progress=on_progress,
                select=select,
                dry_run=args.dry_run,
                max_unavailable=args.max_unavailable,
            )

    try:
        with progress:
            summary = asyncio.run(run())
    except ServiceUnavailableError as exc:
        hint = (
            f"the journal {args.journal} keeps its place: rerun the same command to resume"
            if args.journal
            else "no journal was kept: rerun with --journal FILE next time to make runs resumable"
        )
        output.err.print(
            f"writer-jobs: the API was unavailable for {exc.unavailable_for:.0f} s in a row "
            f"({exc.reason}), longer than --max-unavailable {args.max_unavailable:g} s: "
            f"stopped; {hint}",
            highlight=False,
            markup=False,
        )
        return EXIT_UNAVAILABLE
    except Declined:
        output.err.print("declined: nothing was sent", highlight=False)
        return EXIT_API
    except KeyboardInterrupt:
        where = f"the journal {args.journal} is intact" if args.journal else "no journal was kept"
        hint = (
            " rerun the same command to resume"
            if args.journal
            else " rerun with --journal FILE next time to make runs resumable"
        )
        output.err.print(f"writer-jobs: interrupted; {where};{hint}", highlight=False)
        return EXIT_INTERRUPTED
    # The run's clock went on while a person read the question: not the run's time.
    summary = attrs.evolve(summary, elapsed=max(summary.elapsed - prompt_time, 0.0))
    if args.dry_run:
        return _show_preview(output, summary, preview, args.application_id)
    output.summary(summary, args.application_id)
    if not output.as_json and summary.failed_again:
        shown = " ".join(failed_again[:SHOW_IDS])
        more = len(failed_again) - SHOW_IDS
        if more > 0:
            shown += f" and {more} more (--json and the journal list them all)"
        noun = _jobs_noun(summary.failed_again)
        # Words wrap at the terminal's width (an id is never split); the command stays
        # one line, whole, to copy.
        output.err.print(
            f"{summary.failed_again} {noun} failed again: {shown}\n"
            "A run never retries a job twice, nor does a rerun with its journal. To retry "
            "every job failed now, in a new run:",
            highlight=False,
            markup=False,
        )
        output.err.print(f"  {_again_command(args)}", highlight=False, markup=False, soft_wrap=True)
    if not summary.listing_settled:
        output.err.print(
            "writer-jobs: the failed jobs kept moving while they were listed (another client "
            "retrying them?): a failed job may not have been seen; run again to pick it up",
            highlight=False,
        )
    if summary.errors or not summary.listing_settled:
        return EXIT_API
    return EXIT_JOB_FAILED if summary.failed_again else EXIT_OK


def _question(state: BulkProgress, args: argparse.Namespace) -> str:
    """The confirmation: how many jobs, telling the new ones from those resumed."""
    new = state.total - state.resumed
    if not state.resumed:
        return f"Retry {state.total} failed jobs of {args.application_id}? [y/N] "
    return (
        f"Retry {new} new failed jobs of {args.application_id}, and check {state.resumed} "
        f"resumed from {args.journal} (retried only if not yet sent)? [y/N] "
    )


def _show_preview(
    output: Output, summary: BulkSummary, preview: list[JobOutcome], application_id: str
) -> int:
    """A dry run: what would be retried, with the errors they failed with."""
    if output.as_json:
        output.json_line(summary.to_json())
        return EXIT_OK
    count = len(preview)
    table = Table(
        title=f"{count} failed {_jobs_noun(count)} of {application_id} would be retried",
        title_justify="left",
    )
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("error", no_wrap=True, overflow="ellipsis")
    for outcome in preview:
        table.add_row(str(outcome.job_id), outcome.message or "")
    output.out.print(table)
    errors = collections.Counter(outcome.message or "(no error text)" for outcome in preview)
    for text, n in errors.most_common():
        output.out.print(f"{n:>6}  {text}", highlight=False, markup=False)
    if summary.unselected:
        output.out.print(f"left out by the selection: {summary.unselected}", highlight=False)
    output.out.print("dry run: nothing was sent", highlight=False)
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace, output: Output) -> int:
    try:
        from .testing import (
            DEFAULT_KEY,
            FakeWriterAPI,
            Faults,
            OtherConsumer,
            OtherCreator,
            Outage,
        )
    except ImportError:
        raise UsageError(
            "serve needs the 'server' extra: pip install 'writer-jobs[server]'"
        ) from None
    # The fake accepts --api-key when given, else a fixed fake key (never $WRITER_API_KEY,
    # so a real key is neither accepted nor printed).
    if args.other_consumer and args.rate_limit is None:
        raise UsageError(
            f"--other-consumer {args.other_consumer:g} spends an account's window: "
            "give the account one with --rate-limit"
        )
    key = getattr(args, "api_key", None) or DEFAULT_KEY
    faults = Faults(
        rate=args.fault_rate,
        kinds=("429", "503"),
        seed=args.seed,
        retry_after=0.2,
        lose_creates=args.lose_creates,
    )
    api = FakeWriterAPI(
        api_key=key,
        seed_failed=args.seed_failed,
        application_id=args.app,
        delay=args.delay,
        failure_ratio=args.failure_ratio,
        faults=faults,
        seed=args.seed,
        port=args.port,
        rate_limit=args.rate_limit,
        newest_first=args.newest_first,
        seed_completed=args.seed_completed,
        conditions=[
            *([OtherConsumer(args.other_consumer)] if args.other_consumer else []),
            *([OtherCreator(args.other_creator)] if args.other_creator else []),
            *(
                Outage(start, duration, "close" if kind == "close" else "503")
                for start, duration, kind in args.outage
            ),
        ],
    )
    api.start()
    shown_key = key if key == DEFAULT_KEY else "(the --api-key you passed)"
    if output.as_json:
        output.json_line(
            {
                "event": "serving",
                "base_url": api.base_url,
                "application_id": args.app,
                "seeded_failed": len(api.seeded),
                "api_key": key if key == DEFAULT_KEY else None,
            }
        )
    else:
        output.err.print(
            f"Fake Writer API on {api.base_url}  key: {shown_key}  app: {args.app}  "
            f"failed jobs: {len(api.seeded)}  (Ctrl-C to stop)",
            highlight=False,
        )
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        api.stop()
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "retry": _cmd_retry,
    "get": _cmd_get,
    "list": _cmd_list,
    "create": _cmd_create,
    "wait": _cmd_wait,
    "retry-failed": _cmd_retry_failed,
    "serve": _cmd_serve,
    "batch": _cli_batch.run,
}


#: Library words in messages, as the CLI spells them.
_CLI_WORDS = (
    ("pass api_key= or set", "pass --api-key or set"),
    ("pass api_key= instead", "pass --api-key instead"),
    (
        "Use https://, or pass allow_insecure_http=True if you really mean it",
        "Use https:// (the CLI sends plain http:// only to a loopback address)",
    ),
    ("check it with get() before retrying it yourself", "check it with `writer-jobs get`"),
    ("check it with get() before retrying", "check it with `writer-jobs get`"),
)


def _fail(output: Output, code: int, message: str) -> int:
    for library, cli in _CLI_WORDS:
        message = message.replace(library, cli)
    if output.as_json:
        sys.stderr.write(json.dumps({"event": "error", "message": message}) + "\n")
    else:
        output.err.print(f"writer-jobs: error: {message}", highlight=False, markup=False)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    output = Output(as_json=bool(getattr(args, "json", False)))
    _setup_logging(getattr(args, "verbose", 0) or 0, output)
    try:
        return COMMANDS[args.command](args, output)
    except (InvalidArgumentError, ConfigurationError, UsageError) as exc:
        return _fail(output, EXIT_USAGE, str(exc))
    except ServiceUnavailableError as exc:  # wait, retry --wait: the bound of wait_many
        return _fail(output, EXIT_UNAVAILABLE, f"{args.command} failed: {exc}")
    except APIError as exc:
        return _fail(output, EXIT_API, f"{args.command} failed: {exc}")
    except WriterJobsError as exc:  # e.g. WaitTimeoutError
        return _fail(output, EXIT_API, f"{args.command} failed: {exc}")
    except KeyboardInterrupt:
        return _fail(output, EXIT_INTERRUPTED, "interrupted")


def entrypoint() -> NoReturn:
    """The console script."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`writer-jobs list APP --json | head -1`): as Unix tools
        # do, stop quietly; point stdout at devnull so the interpreter's final flush
        # does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entrypoint()
