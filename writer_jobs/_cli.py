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
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from generated_client.types import Unset

from . import __version__
from ._async_client import AsyncJobsClient
from ._bulk import BulkSummary, JobOutcome, Selection
from ._client import JobsClient
from ._config import API_KEY_ENV, BASE_URL_ENV
from ._exceptions import APIError, ConfigurationError, InvalidArgumentError, WriterJobsError
from ._validation import job_id as parse_job_id

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_JOB_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: retry-failed asks before retrying more jobs than this, when stdin is a terminal.
CONFIRM_ABOVE = 20


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
    if not ids:
        raise UsageError("no job ids: none given, and none on stdin")
    return ids


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
        help="the account's budget, requests a minute (default: Writer's 400, none for a "
        "loopback server such as the fake; 0: no limit)",
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
        "--seed", type=int, default=0, help="random seed of faults, ids, failures (default 0)"
    )
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
        if self.as_json:
            for job in jobs:
                self.json_line(job.to_dict())
            return
        table = Table(title=title)
        columns = ["id", "status", "application_id", "created_at", "updated_at", "error", "data"]
        present = [c for c in columns if any(c in job.to_dict() for job in jobs)] or columns[:2]
        # Ids and statuses are what people copy: never cut. On a narrow terminal the
        # less important columns go first.
        width = self.out.width
        if width < 160:
            present = [c for c in present if c not in {"application_id", "created_at"}]
        if width < 120:
            present = [c for c in present if c != "updated_at"]
        for column in present:
            wide = column in {"error", "data"}
            table.add_column(
                column.replace("_", " "),
                no_wrap=not wide,
                min_width={"id": 36, "status": 11}.get(column),
                overflow="fold" if wide else "ellipsis",
            )
        for job in jobs:
            table.add_row(*(_cell(getattr(job, c, None)) for c in present))
        self.out.print(table)

    def summary(self, summary: BulkSummary, application_id: str) -> None:
        if self.as_json:
            self.json_line(summary.to_json())
            return
        table = Table(title=f"retry-failed {application_id}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_row("failed jobs found", str(summary.total))
        table.add_row("skipped (already done per journal)", str(summary.skipped))
        for outcome, count in sorted(summary.outcomes.items()):
            table.add_row(f"outcome: {outcome}", str(count))
        for status, count in sorted(summary.statuses.items()):
            table.add_row(f"status now: {status}", str(count))
        table.add_row("requests sent", str(summary.requests))
        if summary.total:
            table.add_row("requests a job", f"{summary.requests / summary.total:.2f}")
        table.add_row("transient failures retried", str(summary.transient_failures))
        table.add_row("  of which 429 (paced down)", str(summary.rate_limited))
        table.add_row("elapsed", f"{summary.elapsed:.1f} s")
        self.out.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, datetime.datetime):
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


def _setup_logging(verbosity: int) -> None:
    if verbosity <= 0:
        return
    logger = logging.getLogger("writer_jobs")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)


class _LineProgress:
    """Progress for a log file or a pipe: a plain line on stderr at most every 5 s."""

    def __init__(self, output: Output, label: str) -> None:
        self.output, self.label = output, label
        self.done = 0
        self.total: int | None = None
        self.started = self.last = time.monotonic()

    def __enter__(self) -> _LineProgress:
        return self

    def __exit__(self, *_: object) -> None:
        if self.done:
            self._line()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def add_task(self, _: str, total: int | None = None) -> int:
        self.total = total
        return 0

    def update(self, _: int, total: int | None = None) -> None:
        self.total = total

    def advance(self, _: int) -> None:
        self.done += 1
        if time.monotonic() - self.last >= 5.0:
            self._line()

    def _line(self) -> None:
        self.last = time.monotonic()
        of = f"/{self.total}" if self.total is not None else ""
        self.output.err.print(
            f"{self.label}: {self.done}{of} done, {self.last - self.started:.0f} s",
            highlight=False,
            markup=False,
        )


def _progress(output: Output, label: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not output.as_json and not output.err.is_terminal:
        return _LineProgress(output, label)
    show = not output.as_json and output.err.is_terminal
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output.err,
        disable=not show,
        transient=False,
    )


def _cmd_retry(args: argparse.Namespace, output: Output) -> int:
    """Each id in turn, its outcome printed as it happens; one failure stops nothing."""
    args.job_ids = _job_ids(args.job_ids)
    results: list[Any] = []
    failed = 0
    with JobsClient(**_client_settings(args)) as client:
        for job_id in args.job_ids:
            try:
                job: Any = client.retry(job_id)
            except WriterJobsError as exc:
                failed += 1
                _job_failed(output, job_id, exc)
                continue
            results.append(job)
            if output.as_json and not args.wait:
                output.json_line(job.to_dict())
            elif len(args.job_ids) > 1:  # as it happens; the table follows at the end
                output.err.print(f"{job.id}  retried  {_cell(job.status)}", highlight=False)
        if args.wait and results:
            results = _wait_many(client, [job.id for job in results], args.wait_timeout, output)
    if results and not output.as_json:
        output.jobs(results, title="retried")
    if failed:
        output.err.print(
            f"writer-jobs: {failed} of {len(args.job_ids)} jobs could not be retried",
            highlight=False,
        )
    if failed:
        return EXIT_API
    return _ended(*(job.status for job in results)) if args.wait else EXIT_OK


def _job_failed(output: Output, job_id: str, exc: WriterJobsError) -> None:
    if output.as_json:
        output.json_line(
            {"event": "error", "id": job_id, "error_type": type(exc).__name__, "message": str(exc)}
        )
    else:
        output.err.print(
            f"{job_id}  error  {type(exc).__name__}: {exc}", highlight=False, markup=False
        )


def _cmd_get(args: argparse.Namespace, output: Output) -> int:
    with JobsClient(**_client_settings(args)) as client:
        output.jobs([client.get(args.job_id)])
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
        noun = "job" if len(jobs) == 1 else "jobs"
        output.jobs(jobs, title=f"{len(jobs)} {noun} of {args.application_id}")
    return EXIT_OK


def _cmd_create(args: argparse.Namespace, output: Output) -> int:
    inputs: dict[str, list[str]] = {}
    for name, value in args.inputs:
        inputs.setdefault(name, []).append(value)
    with JobsClient(**_client_settings(args)) as client:
        job: Any = client.create(args.application_id, inputs)
        if args.wait:
            job = client.wait(job.id, deadline=args.wait_timeout)
    output.jobs([job], title="created")
    return _ended(job.status) if args.wait else EXIT_OK


def _ended(*statuses: Any) -> int:
    """Exit 3 when a job waited for ended failed, else 0."""
    return EXIT_JOB_FAILED if any(s == "failed" for s in statuses) else EXIT_OK


def _cmd_wait(args: argparse.Namespace, output: Output) -> int:
    args.job_ids = _job_ids(args.job_ids)
    with JobsClient(**_client_settings(args)) as client:
        jobs = _wait_many(client, args.job_ids, args.wait_timeout, output)
    if not output.as_json:
        output.jobs(jobs)
    return _ended(*(job.status for job in jobs))


def _wait_many(
    client: JobsClient, job_ids: Sequence[Any], timeout: float | None, output: Output
) -> list[Any]:
    """Each job as it ends: a JSON line, or a line on stderr for people."""
    done = []
    with _progress(output, "waiting") as progress:
        task = progress.add_task("wait", total=len(job_ids))
        for job in client.wait_many(job_ids, deadline=timeout):
            done.append(job)
            progress.advance(task)
            if output.as_json:
                output.json_line(job.to_dict())
    return done


def _cmd_retry_failed(args: argparse.Namespace, output: Output) -> int:
    progress = _progress(output, f"retrying {args.application_id}")
    task = progress.add_task("retry-failed", total=None)

    failed_again: list[str] = []

    def on_outcome(outcome: JobOutcome) -> None:
        progress.advance(task)
        if args.wait and outcome.status == "failed":
            failed_again.append(str(outcome.job_id))
        if output.as_json:
            output.json_line(outcome.to_json())
        elif outcome.error_type:
            output.err.print(
                f"[yellow]{outcome.job_id}: {outcome.outcome.value}: {outcome.message}[/yellow]",
                markup=True,
                highlight=False,
            )

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

    def on_total(total: int) -> None:
        progress.update(task, total=total)
        ask = not (args.yes or args.dry_run or asked) and sys.stdin.isatty()
        if ask and total > CONFIRM_ABOVE:
            asked.append(True)
            progress.stop()
            answer = output.err.input(f"Retry {total} failed jobs of {args.application_id}? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                raise Declined
            progress.start()

    asked: list[bool] = []

    async def run() -> BulkSummary:
        async with AsyncJobsClient(**_client_settings(args), rate_limit=budget) as client:
            return await client.retry_failed(
                args.application_id,
                concurrency=args.concurrency,
                wait=args.wait,
                wait_timeout=args.wait_timeout,
                journal=args.journal,
                on_outcome=report,
                on_total=on_total,
                select=select,
                dry_run=args.dry_run,
            )

    try:
        with progress:
            summary = asyncio.run(run())
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
    if args.dry_run:
        return _show_preview(output, summary, preview, args.application_id)
    output.summary(summary, args.application_id)
    if failed_again and not output.as_json:
        output.err.print(
            f"failed again ({len(failed_again)}): " + " ".join(failed_again), highlight=False
        )
    if not summary.listing_settled:
        output.err.print(
            "writer-jobs: the failed jobs kept moving while they were listed (another client "
            "retrying them?): a failed job may not have been seen; run again to pick it up",
            highlight=False,
        )
    if not summary.ok or not summary.listing_settled:
        return EXIT_API
    return EXIT_JOB_FAILED if failed_again else EXIT_OK


def _show_preview(
    output: Output, summary: BulkSummary, preview: list[JobOutcome], application_id: str
) -> int:
    """A dry run: what would be retried, with the errors they failed with."""
    if output.as_json:
        output.json_line(summary.to_json())
        return EXIT_OK
    count = len(preview)
    noun = "job" if count == 1 else "jobs"
    table = Table(title=f"{count} failed {noun} of {application_id} would be retried")
    table.add_column("id", no_wrap=True)
    table.add_column("error")
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
        from .testing import DEFAULT_KEY, FakeWriterAPI, Faults
    except ImportError:
        raise UsageError(
            "serve needs the 'server' extra: pip install 'writer-jobs[server]'"
        ) from None
    # The fake accepts --api-key when given, else a fixed fake key (never $WRITER_API_KEY,
    # so a real key is neither accepted nor printed).
    key = getattr(args, "api_key", None) or DEFAULT_KEY
    faults = Faults(rate=args.fault_rate, kinds=("429", "503"), seed=args.seed, retry_after=0.2)
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
}


#: Library words in messages, as the CLI spells them.
_CLI_WORDS = (
    ("pass api_key= or set", "pass --api-key or set"),
    ("pass api_key= instead", "pass --api-key instead"),
    ("or pass allow_insecure_http=True if you really mean it", "(the CLI has no way around it)"),
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
    _setup_logging(getattr(args, "verbose", 0) or 0)
    try:
        return COMMANDS[args.command](args, output)
    except (InvalidArgumentError, ConfigurationError, UsageError) as exc:
        return _fail(output, EXIT_USAGE, str(exc))
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
