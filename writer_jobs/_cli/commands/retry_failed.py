"""retry-failed: retry every failed job of an application, resumably; a preview with
--dry-run; after it, the command that retries what failed again."""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from rich.table import Table

from ... import (
    AsyncJobsClient,
    BulkProgress,
    BulkSummary,
    JobOutcome,
    Outcome,
    Selection,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from ..._config import API_KEY_ENV
from ...bulk import DEFAULT_MAX_UNAVAILABLE
from .._args import (
    APP_ID_HELP,
    SECRET,
    add_command,
    client_settings,
    command_line,
    moment,
    non_negative,
    positive_int,
    shell_line,
    wait_timeout_option,
)
from .._exit import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_WAIT_TIMEOUT,
    Declined,
)
from .._output import Output, count
from .._progress import Progress

#: Asks before retrying more jobs than this, when stdin is a terminal.
CONFIRM_ABOVE = 20
#: The ids of jobs that failed again printed at most, after a run.
SHOW_IDS = 20


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers, "retry-failed", "Retry every failed job of an application, resumably.", run
    )
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would be retried, and the errors they failed with; send no POST",
    )
    p.add_argument(
        "--failed-since",
        type=moment,
        metavar="WHEN",
        help="only jobs that failed at or after WHEN: an ISO time, or an age (30m, 2h, 1d)",
    )
    p.add_argument(
        "--failed-before",
        type=moment,
        metavar="WHEN",
        help="only jobs that failed before WHEN: an ISO time, or an age (30m, 2h, 1d)",
    )
    p.add_argument(
        "--error-matches", metavar="REGEX", help="only jobs whose error text matches REGEX"
    )
    p.add_argument(
        "--limit", type=positive_int, metavar="N", help="at most N jobs (counting a resume's)"
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help=f"do not ask before retrying more than {CONFIRM_ABOVE} jobs (asked at a terminal)",
    )
    p.add_argument(
        "--concurrency",
        type=positive_int,
        default=16,
        metavar="N",
        help="jobs handled at once (default 16)",
    )
    p.add_argument("--wait", action="store_true", help="wait for each retried job to finish")
    wait_timeout_option(p, "give up waiting for a job after this long")
    p.add_argument(
        "--journal",
        metavar="FILE",
        help="record each outcome here; rerun with the same FILE to resume",
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
        help="stop after the API was unavailable this long in a row (503s, connections "
        f"failing); the journal keeps the place (default {DEFAULT_MAX_UNAVAILABLE:g}); "
        f"exit {EXIT_UNAVAILABLE}",
    )


def run(args: argparse.Namespace, output: Output) -> int:
    output.journal = args.journal
    progress = Progress(output, f"retrying {args.application_id}", sent=args.wait)
    prompt_time = 0.0
    failed_again: list[str] = []
    timed_out: list[str] = []

    def on_outcome(outcome: JobOutcome) -> None:
        if outcome.outcome is Outcome.RETRIED and outcome.status == "failed":
            failed_again.append(str(outcome.job_id))
        if outcome.error_type == WaitTimeoutError.__name__:
            timed_out.append(str(outcome.job_id))
        if output.as_json:
            output.json_line(outcome.to_json())
        elif outcome.error_type:
            output.say(
                f"{outcome.job_id}: {outcome.outcome.value}: {outcome.message}", style="yellow"
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

    async def retry_failed() -> BulkSummary:
        async with AsyncJobsClient(**client_settings(args), rate_limit=budget) as client:
            return await client.retry_failed(
                args.application_id,
                concurrency=args.concurrency,
                wait=args.wait,
                wait_deadline=args.wait_timeout,
                journal=args.journal,
                on_outcome=report,
                on_progress=on_progress,
                select=select,
                dry_run=args.dry_run,
                max_unavailable=args.max_unavailable,
            )

    try:
        with progress:
            summary = asyncio.run(retry_failed())
    except ServiceUnavailableError as exc:
        if not exc.answered:  # never answered since the run began: no outage, an address
            output.say(f"writer-jobs: {exc}")
            return EXIT_UNAVAILABLE
        hint = (
            f"the journal {args.journal} keeps its place: rerun the same command to resume"
            if args.journal
            else "no journal was kept: rerun with --journal FILE next time to make runs resumable"
        )
        output.say(
            f"writer-jobs: the API was unavailable for {exc.unavailable_for:.0f} s in a row "
            f"({exc.reason}), longer than --max-unavailable {args.max_unavailable:g} s: "
            f"stopped; {hint}"
        )
        return EXIT_UNAVAILABLE
    except Declined:
        output.say("declined: nothing was sent")
        return EXIT_API
    except KeyboardInterrupt:
        where = f"the journal {args.journal} is intact" if args.journal else "no journal was kept"
        hint = (
            " rerun the same command to resume"
            if args.journal
            else " rerun with --journal FILE next time to make runs resumable"
        )
        output.say(f"writer-jobs: interrupted; {where};{hint}")
        return EXIT_INTERRUPTED
    # The run's clock went on while a person read the question: not the run's time.
    summary = attrs.evolve(summary, elapsed=max(summary.elapsed - prompt_time, 0.0))
    if args.dry_run:
        return _show_preview(output, summary, preview, args.application_id)
    _show_summary(output, summary, args.application_id)
    if not output.as_json and summary.failed_again:
        shown = " ".join(failed_again[:SHOW_IDS])
        more = len(failed_again) - SHOW_IDS
        if more > 0:
            shown += f" and {more} more (--json and the journal list them all)"
        key = (
            f" (the key: set {API_KEY_ENV} to the one you gave with --api-key, never printed)"
            if getattr(args, SECRET, None) is not None
            else ""
        )
        # Words wrap at the terminal's width (an id is never split); the command stays
        # one line, whole, to copy.
        output.say(
            f"{count(summary.failed_again, 'job')} failed again: {shown}\n"
            "A run never retries a job twice, nor does a rerun with its journal. To retry "
            f"every job failed now, in a new run{key}:"
        )
        output.err.print(f"  {again_command(args)}", highlight=False, markup=False, soft_wrap=True)
    if timed_out and not output.as_json:
        output.say(
            f"writer-jobs: {count(len(timed_out), 'job')} still running when --wait-timeout "
            f"{args.wait_timeout:g} s passed (re-triggered once; `writer-jobs wait` follows them)"
        )
    if not summary.listing_settled:
        output.say(
            "writer-jobs: the failed jobs kept moving while they were listed (another client "
            "retrying them?): a failed job may not have been seen; run again to pick it up"
        )
    if summary.errors or not summary.listing_settled:
        return EXIT_API
    if summary.failed_again:
        return EXIT_JOB_FAILED
    return EXIT_WAIT_TIMEOUT if timed_out else EXIT_OK


def next_journal(journal: str) -> str:
    """A new journal beside ``journal``: run.jsonl -> run.2.jsonl -> run.3.jsonl ..."""
    path = Path(journal)
    stem, suffix = path.stem, path.suffix
    base, dot, number = stem.rpartition(".")
    n = int(number) if dot and number.isdigit() else 1
    stem = base if dot and number.isdigit() else stem
    while True:
        n += 1
        candidate = path.with_name(f"{stem}.{n}{suffix}")
        if not candidate.exists():
            return str(candidate)


def again_command(args: argparse.Namespace) -> str:
    """The command that retries the jobs that failed again: this one, every option the
    person gave kept, in a new run (a new journal: the same journal is the same run,
    which never retries a job twice). The key is never part of it; --failed-before and
    --limit are left out (the jobs failed after them, and were counted)."""
    replace = {"journal": next_journal(args.journal)} if args.journal else {}
    words = command_line(args, drop=("failed_before", "limit", "dry_run"), replace=replace)
    return shell_line(words)


def _question(state: BulkProgress, args: argparse.Namespace) -> str:
    """The confirmation: how many jobs, telling the new ones from those resumed."""
    new = state.total - state.resumed
    if not state.resumed:
        return f"Retry {state.total} failed jobs of {args.application_id}? [y/N] "
    return (
        f"Retry {new} new failed jobs of {args.application_id}, and check {state.resumed} "
        f"resumed from {args.journal} (retried only if not yet sent)? [y/N] "
    )


def _show_summary(output: Output, summary: BulkSummary, application_id: str) -> None:
    if output.as_json:
        output.json_line(summary.to_json())
        return
    table = Table(title=f"retry-failed {application_id}", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("failed jobs found", str(summary.total))
    if summary.resumed:
        table.add_row("  resumed (checked first)", str(summary.resumed))
        table.add_row("  new", str(summary.total - summary.resumed - summary.skipped))
    table.add_row("skipped (final in the journal)", str(summary.skipped))
    for outcome, n in sorted(summary.outcomes.items()):
        table.add_row(f"outcome: {outcome}", str(n))
    for status, n in sorted(summary.statuses.items()):
        table.add_row(f"status now: {status}", str(n))
    table.add_row("failed again", str(summary.failed_again))
    table.add_row("requests sent", str(summary.requests))
    if summary.total:
        table.add_row("requests a job", f"{summary.requests / summary.total:.2f}")
    table.add_row("transient failures retried", str(summary.transient_failures))
    table.add_row("  of which 429 (paced down)", str(summary.rate_limited))
    if summary.unavailable_seconds >= 0.1:  # one 503 retried at once is not an outage
        table.add_row("API unavailable (waited)", f"{summary.unavailable_seconds:.1f} s")
    table.add_row("elapsed", f"{summary.elapsed:.1f} s")
    output.table(table)


def _show_preview(
    output: Output, summary: BulkSummary, preview: list[JobOutcome], application_id: str
) -> int:
    """A dry run: what would be retried, with the errors they failed with."""
    if output.as_json:
        output.json_line(summary.to_json())
        return EXIT_OK
    title = f"{count(len(preview), 'failed job')} of {application_id} would be retried"
    if preview:
        table = Table(title=title, title_justify="left")
        table.add_column("id", no_wrap=True, min_width=36)
        table.add_column("error", no_wrap=True, overflow="ellipsis")
        for outcome in preview:
            table.add_row(str(outcome.job_id), outcome.message or "")
        output.table(table)
    else:
        output.line(title)
    errors = collections.Counter(outcome.message or "(no error text)" for outcome in preview)
    for text, n in errors.most_common():
        output.line(f"{n:>6}  {text}")
    if summary.unselected:
        output.line(f"left out by the selection: {summary.unselected}")
    output.line("dry run: nothing was sent")
    return EXIT_OK
