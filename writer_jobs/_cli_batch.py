"""``writer-jobs batch APP_ID INPUT --output RESULTS``: a job per input row, each row's
result written once; the same command again resumes.

A command module: ``register(subparsers)`` adds it to the parser, ``run(args, output)``
carries it out and returns the exit code (0 every row completed; 3 some rows failed,
unresolved or invalid; 75 the API was unavailable too long; 130 interrupted).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ._config import DEFAULT_MAX_UNAVAILABLE
from ._exceptions import InvalidArgumentError, ServiceUnavailableError
from .bulk import BatchProgress, BatchSummary, JobsClient, RowResult

EXIT_OK, EXIT_API, EXIT_ROWS_FAILED, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 3, 75, 130
#: batch asks before sending more rows than this, when stdin is a terminal.
CONFIRM_ABOVE = 20
#: Unresolved rows listed at most after a run.
SHOW_ROWS = 10

HELP = "Create a job per row of a CSV or JSONL file; results to a file; rerun to resume."
DESCRIPTION = (
    "Create a job for each row of INPUT (CSV: a header of input names, a repeated column "
    "for an input with several values; JSONL: one object per line), watch them, retry "
    "those that fail, and write one result per row to RESULTS (JSONL, or CSV by its "
    "extension), with a journal beside it (RESULTS.journal). Every row's job is created "
    "once, even after a crash or a lost answer. Run the same command again to resume."
)


class Output(Protocol):
    """What the CLI's output gives a command: rich consoles, and JSON lines."""

    as_json: bool
    out: Any
    err: Any

    def json_line(self, data: dict[str, Any]) -> None: ...


class Declined(Exception):
    """The person at the terminal said no: nothing is sent."""


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, received {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, received {value!r}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, received {value!r}"
        ) from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, received {value!r}")
    return number


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be requests a minute (0: no limit), received {value!r}"
        ) from None
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, received {value!r}")
    return number


def register(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Add ``batch`` to the CLI's subcommands (``parents``: the global options)."""
    p = subparsers.add_parser("batch", parents=list(parents), help=HELP, description=DESCRIPTION)
    p.add_argument("application_id", metavar="APP_ID", help="the application (no-code agent) id")
    p.add_argument("input", metavar="INPUT", help="the rows: a .csv file, or JSON lines")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="RESULTS",
        help="where each row's result goes: JSON lines, or CSV if it ends in .csv; the same "
        "RESULTS again resumes the batch",
    )
    p.add_argument(
        "--key",
        metavar="COLUMN",
        help="the column naming each row in the results (not sent as an input); unique",
    )
    p.add_argument(
        "--max-attempts",
        type=_positive_int,
        default=3,
        metavar="N",
        help="runs of a row's job at most: the create, then retries while it fails (default 3)",
    )
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=16,
        metavar="N",
        help="rows handled at once (default 16); creates go one at a time",
    )
    p.add_argument(
        "--rate-limit",
        type=_rate,
        default=None,
        metavar="N",
        help="the account's budget, requests a minute (default: Writer's 400; 0: none)",
    )
    p.add_argument(
        "--max-unavailable",
        type=_seconds,
        default=DEFAULT_MAX_UNAVAILABLE,
        metavar="SECONDS",
        help="wait out an unavailable API this long in a row, then stop (exit 75; rerun "
        f"to resume; default {DEFAULT_MAX_UNAVAILABLE:g})",
    )
    p.add_argument("--yes", action="store_true", help="do not ask before sending")
    p.add_argument(
        "--dry-run", action="store_true", help="check every row and count them; send nothing"
    )
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send the good rows, each bad one gets an 'invalid' result with its reason "
        "(default: list the bad rows and send nothing)",
    )
    p.add_argument(
        "--create-unresolved",
        action="store_true",
        help="create again the rows an earlier run left 'unresolved' (each may then have two jobs)",
    )


class _Progress:
    """One line on stderr: a live bar at a terminal, a plain line every 5 s otherwise,
    nothing with --json."""

    def __init__(self, output: Output, label: str) -> None:
        self.output, self.label = output, label
        self.state = BatchProgress(None, 0, 0, 0, 0)
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self.started = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        if self.output.as_json or not self.output.err.is_terminal:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn(self.label),
            BarColumn(bar_width=16),
            TextColumn(
                "{task.completed:.0f}/{task.total:.0f} done, sent {task.fields[sent]}, "
                "running {task.fields[running]}, failed {task.fields[failed]}"
            ),
            TimeElapsedColumn(),
            console=self.output.err,
        )
        self._task = self._bar.add_task(self.label, total=0, sent=0, running=0, failed=0)
        self._bar.start()

    def update(self, state: BatchProgress) -> None:
        self.state = state
        if self._bar is not None:
            self._bar.update(
                self._task,
                total=state.total or state.done,
                completed=state.done,
                sent=state.sent,
                running=state.running,
                failed=state.failed,
            )
        elif self.started and not self.output.as_json and time.monotonic() - self._last >= 5:
            self._line()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._last and not self.output.as_json:
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        s = self.state
        of = f"/{s.total}" if s.total is not None else ""
        self.output.err.print(
            f"{self.label}: {s.done}{of} done, sent {s.sent}, running {s.running}, "
            f"failed {s.failed}, {self._last - self.started:.0f} s",
            highlight=False,
            markup=False,
        )


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, setting in (
        ("api_key", "api_key"),
        ("base_url", "base_url"),
        ("request_timeout", "timeout"),
        ("max_retries", "max_retries"),
    ):
        if getattr(args, name, None) is not None:
            settings[setting] = getattr(args, name)
    rate = args.rate_limit
    settings["rate_limit"] = "auto" if rate is None else (rate or None)
    return settings


def again_command(args: argparse.Namespace) -> str:
    """The command that resumes this batch: the one given (the key never part of it)."""
    words = ["writer-jobs"]
    if getattr(args, "base_url", None) is not None:
        words += ["--base-url", args.base_url]
    words += ["batch", args.application_id, args.input, "--output", args.output]
    if args.key is not None:
        words += ["--key", args.key]
    if args.max_attempts != 3:
        words += ["--max-attempts", str(args.max_attempts)]
    if args.concurrency != 16:
        words += ["--concurrency", str(args.concurrency)]
    if args.rate_limit is not None:
        words += ["--rate-limit", f"{args.rate_limit:g}"]
    if args.max_unavailable != DEFAULT_MAX_UNAVAILABLE:
        words += ["--max-unavailable", f"{args.max_unavailable:g}"]
    if args.skip_invalid:
        words.append("--skip-invalid")
    if getattr(args, "request_timeout", None) is not None:
        words += ["--timeout", f"{args.request_timeout:g}"]
    if getattr(args, "max_retries", None) is not None:
        words += ["--max-retries", str(args.max_retries)]
    return shlex.join(words)


def run(args: argparse.Namespace, output: Output) -> int:
    """Carry out ``batch``; returns the exit code."""
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise InvalidArgumentError(
            f"--output {args.output!r} is the input: give the results their own file"
        )
    progress = _Progress(output, f"batch {args.application_id}")
    unresolved: list[RowResult] = []
    asked = False
    prompt_time = 0.0

    def on_result(result: RowResult) -> None:
        if result.status == "unresolved":
            unresolved.append(result)
        if output.as_json:
            output.json_line({"event": "result", **result.to_json()})

    def on_progress(state: BatchProgress) -> None:
        nonlocal asked, prompt_time
        if not asked:  # the first word of the run: nothing created yet
            asked = True
            new = (state.total or 0) - state.done - state.resumed
            if not args.yes and sys.stdin.isatty() and new > CONFIRM_ABOVE:
                began = time.monotonic()
                earlier = [
                    *([f"{state.done} done"] if state.done else []),
                    *([f"{state.resumed} created, followed now"] if state.resumed else []),
                ]
                answer = output.err.input(
                    f"Create jobs for {new} rows in {args.application_id}"
                    + (f" ({', '.join(earlier)} by an earlier run)" if earlier else "")
                    + "? [y/N] ",
                    markup=False,
                )
                prompt_time += time.monotonic() - began
                if answer.strip().lower() not in {"y", "yes"}:
                    raise Declined
            progress.start()
        progress.update(state)

    try:
        with JobsClient(**_settings(args)) as client:
            try:
                summary = client.batch(
                    args.application_id,
                    args.input,
                    results=None if args.dry_run else args.output,
                    key=args.key,
                    max_attempts=args.max_attempts,
                    concurrency=args.concurrency,
                    max_unavailable=args.max_unavailable,
                    skip_invalid=args.skip_invalid,
                    create_unresolved=args.create_unresolved,
                    dry_run=args.dry_run,
                    on_result=on_result,
                    on_progress=on_progress,
                )
            finally:
                progress.stop()
    except Declined:
        output.err.print("declined: nothing was sent", highlight=False)
        return EXIT_API
    except ServiceUnavailableError as exc:
        output.err.print(
            f"writer-jobs: the API was unavailable for {exc.unavailable_for:.0f} s in a row "
            f"({exc.reason}), longer than --max-unavailable {args.max_unavailable:g} s: "
            f"stopped; {args.output} and its journal keep the place; to resume:",
            highlight=False,
            markup=False,
        )
        output.err.print(f"  {again_command(args)}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        output.err.print(
            f"writer-jobs: interrupted; {args.output} and its journal keep the place; "
            "to resume, run the same command again:",
            highlight=False,
            markup=False,
        )
        output.err.print(f"  {again_command(args)}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    if args.dry_run:
        return _show_dry_run(output, summary, args)
    import attrs

    summary = attrs.evolve(summary, elapsed=max(summary.elapsed - prompt_time, 0.0))
    _show_summary(output, summary, args)
    if summary.unresolved and not output.as_json:
        _show_unresolved(output, summary, unresolved, args)
    return EXIT_OK if summary.ok else EXIT_ROWS_FAILED


def _show_dry_run(output: Output, summary: BatchSummary, args: argparse.Namespace) -> int:
    if output.as_json:
        output.json_line(summary.to_json())
    else:
        output.out.print(
            f"dry run: {summary.would_send} of {summary.rows} rows of {args.input} would be "
            f"sent to {args.application_id}; nothing was sent",
            highlight=False,
            markup=False,
        )
    return EXIT_OK


def _show_summary(output: Output, summary: BatchSummary, args: argparse.Namespace) -> None:
    if output.as_json:
        output.json_line(summary.to_json())
        return
    from rich.table import Table

    table = Table(title=f"batch {args.application_id}: {summary.rows} rows", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    for status in ("completed", "failed", "unresolved", "invalid"):
        if summary.statuses.get(status) or status == "completed":
            table.add_row(status, str(summary.statuses.get(status, 0)))
    if summary.skipped:
        table.add_row("  done by an earlier run", str(summary.skipped))
    table.add_row("jobs created", str(summary.created))
    table.add_row("retries sent", str(summary.retried))
    if summary.lost_answers:
        table.add_row("creates whose answer was lost", str(summary.lost_answers))
    table.add_row("requests sent", str(summary.requests))
    table.add_row("  of which 429 (paced down)", str(summary.rate_limited))
    if summary.unavailable_seconds:
        table.add_row("API unavailable (waited)", f"{summary.unavailable_seconds:.0f} s")
    table.add_row("elapsed", f"{summary.elapsed:.1f} s")
    output.out.print(table)
    output.out.print(f"results: {args.output}", highlight=False, markup=False)


def _show_unresolved(
    output: Output, summary: BatchSummary, shown: list[RowResult], args: argparse.Namespace
) -> None:
    names = ", ".join((r.key if r.key is not None else f"row {r.row}") for r in shown[:SHOW_ROWS])
    more = (
        f" and {summary.unresolved - len(shown[:SHOW_ROWS])} more"
        if summary.unresolved > len(shown[:SHOW_ROWS])
        else ""
    )
    output.err.print(
        f"{summary.unresolved} rows are unresolved: {names or 'see the results'}{more}. "
        "Each create's answer was lost while another program was creating jobs in "
        f"{args.application_id}: its job may be one of the candidates in {args.output}, "
        "or none. Check them (writer-jobs get JOB_ID); to create those rows again "
        "(a row whose create did land then has two jobs):",
        highlight=False,
        markup=False,
    )
    output.err.print(
        f"  {again_command(args)} --create-unresolved",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
