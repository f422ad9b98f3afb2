"""batch: ``writer-jobs batch APP_ID INPUT --output RESULTS``: a job per input row, each
row's result written once; the same command again resumes.

Exit codes: 0 every row completed; 3 some rows failed, unresolved, unfinished or
invalid; 75 the API was unavailable too long; 130 interrupted (the results and their
journal keep the place).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import attrs
from rich.table import Table

from ... import (
    BatchProgress,
    BatchSummary,
    InvalidArgumentError,
    JobsClient,
    RowResult,
    ServiceUnavailableError,
)
from ...bulk import DEFAULT_MAX_UNAVAILABLE
from .._args import (
    APP_ID_HELP,
    add_command,
    client_settings,
    command_line,
    non_negative,
    positive_int,
    shell_line,
)
from .._exit import EXIT_API, EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, EXIT_UNAVAILABLE, Declined
from .._output import Output, count

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
    "once, even after a crash or a lost answer. Run the same command again to resume. "
    f"Exit {EXIT_OK}: every row completed; {EXIT_JOB_FAILED}: some rows failed, "
    f"unresolved or invalid."
)


def register(subparsers: Any) -> None:
    p = add_command(subparsers, "batch", HELP, run)
    p.description = DESCRIPTION
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
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
        type=positive_int,
        default=3,
        metavar="N",
        help="runs of a row's job at most: the create, then retries while it fails (default 3)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="rows handled at once (default 16); creates go one at a time",
    )
    p.add_argument(
        "--rate-limit",
        type=non_negative,
        default=None,
        metavar="PER_MINUTE",
        help="the account's budget, requests a minute: a ceiling; the pace is learned from "
        "429s under it (default: Writer's 400 on Writer's API, none elsewhere; 0: none)",
    )
    p.add_argument(
        "--max-unavailable",
        type=non_negative,
        default=DEFAULT_MAX_UNAVAILABLE,
        metavar="SECONDS",
        help="wait out an unavailable API this long in a row, then stop (exit "
        f"{EXIT_UNAVAILABLE}; rerun to resume; default {DEFAULT_MAX_UNAVAILABLE:g})",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help=f"do not ask before sending more than {CONFIRM_ABOVE} rows (asked at a terminal)",
    )
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


class RowsProgress:
    """One line on stderr: a live bar at a terminal, a plain line every 5 s otherwise,
    nothing with --json. Rows done of the total, and rows sent, running and failed."""

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
        self.output.say(
            f"{self.label}: {s.done}{of} done, sent {s.sent}, running {s.running}, "
            f"failed {s.failed}, {self._last - self.started:.0f} s"
        )


def again_command(args: argparse.Namespace, **replace: Any) -> str:
    """The command that resumes this batch: the one given, every option the person gave
    kept (the key never part of it), with ``replace`` (by dest)."""
    return shell_line(command_line(args, drop=("dry_run",), replace=replace))


def run(args: argparse.Namespace, output: Output) -> int:
    """Carry out ``batch``; returns the exit code."""
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise InvalidArgumentError(
            f"--output {args.output!r} is the input: give the results their own file"
        )
    progress = RowsProgress(output, f"batch {args.application_id}")
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

    budget: Any = "auto" if args.rate_limit is None else (args.rate_limit or None)
    try:
        with JobsClient(**client_settings(args), rate_limit=budget) as client:
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
        output.say("declined: nothing was sent")
        return EXIT_API
    except ServiceUnavailableError as exc:
        if not exc.answered:  # never answered since the run began: no outage, an address
            output.say(f"writer-jobs: {exc}")
            return EXIT_UNAVAILABLE
        output.say(
            f"writer-jobs: the API was unavailable for {exc.unavailable_for:.0f} s in a row "
            f"({exc.reason}), longer than --max-unavailable {args.max_unavailable:g} s: "
            f"stopped; {args.output} and its journal keep the place; to resume:"
        )
        output.err.print(f"  {again_command(args)}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        output.say(
            f"writer-jobs: interrupted; {args.output} and its journal keep the place; "
            "to resume, run the same command again:"
        )
        output.err.print(f"  {again_command(args)}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    if args.dry_run:
        return _show_dry_run(output, summary, args)
    # The run's clock went on while a person read the question: not the run's time.
    summary = attrs.evolve(summary, elapsed=max(summary.elapsed - prompt_time, 0.0))
    _show_summary(output, summary, args)
    if summary.unresolved and not output.as_json:
        _show_unresolved(output, summary, unresolved, args)
    return EXIT_OK if summary.ok else EXIT_JOB_FAILED


def _show_dry_run(output: Output, summary: BatchSummary, args: argparse.Namespace) -> int:
    if output.as_json:
        output.json_line(summary.to_json())
    else:
        output.line(
            f"dry run: {summary.would_send} of {summary.rows} rows of {args.input} would be "
            f"sent to {args.application_id}; nothing was sent"
        )
    return EXIT_OK


def _show_summary(output: Output, summary: BatchSummary, args: argparse.Namespace) -> None:
    if output.as_json:
        output.json_line(summary.to_json())
        return
    table = Table(title=f"batch {args.application_id}: {summary.rows} rows", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    for status in ("completed", "failed", "unresolved", "unfinished", "invalid"):
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
    if summary.unavailable_seconds >= 0.1:  # one 503 retried at once is not an outage
        table.add_row("API unavailable (waited)", f"{summary.unavailable_seconds:.0f} s")
    table.add_row("elapsed", f"{summary.elapsed:.1f} s")
    output.table(table)
    output.line(f"results: {args.output}")


def _show_unresolved(
    output: Output, summary: BatchSummary, shown: list[RowResult], args: argparse.Namespace
) -> None:
    names = ", ".join((r.key if r.key is not None else f"row {r.row}") for r in shown[:SHOW_ROWS])
    more = (
        f" and {summary.unresolved - len(shown[:SHOW_ROWS])} more"
        if summary.unresolved > len(shown[:SHOW_ROWS])
        else ""
    )
    output.say(
        f"{count(summary.unresolved, 'row')} unresolved: {names or 'see the results'}{more}. "
        "Each create's answer was lost and the job list could not tie one job to it: its "
        f"job may be one of the candidates in {args.output}, or none. Check them "
        "(writer-jobs get JOB_ID); to create those rows again (a row whose create did land "
        "then has two jobs):"
    )
    output.err.print(
        f"  {again_command(args, create_unresolved=True)}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
