"""Commands on jobs one at a time: retry, get, list, create, wait."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from ... import JobsClient, WaitTimeoutError, WriterJobsError
from .._args import (
    APP_ID_HELP,
    JOB_IDS_HELP,
    add_command,
    client_settings,
    input_arg,
    job_id_arg,
    job_ids,
    positive_int,
    wait_timeout_option,
)
from .._exit import EXIT_API, EXIT_JOB_FAILED, EXIT_OK, EXIT_WAIT_TIMEOUT
from .._output import Output, cell, count, explain
from .._progress import Progress


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "retry",
        "Re-trigger failed jobs (safe to retry: never triggers a job twice).",
        retry,
    )
    p.add_argument("job_ids", nargs="+", type=job_id_arg, metavar="JOB_ID", help=JOB_IDS_HELP)
    p.add_argument("--wait", action="store_true", help="then wait for each job to finish")
    wait_timeout_option(p, "give up waiting after this long (default: no limit)")

    p = add_command(subparsers, "get", "Show one job.", get)
    p.add_argument("job_id", type=job_id_arg, metavar="JOB_ID", help="the job's id (a UUID)")

    p = add_command(subparsers, "list", "List an application's jobs.", list_jobs)
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--status",
        choices=["in_progress", "failed", "completed"],
        help="only jobs with this status (default: all)",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="show at most N jobs (default: all)",
    )

    p = add_command(subparsers, "create", "Start a job for an application.", create)
    p.add_argument("application_id", metavar="APP_ID", help=APP_ID_HELP)
    p.add_argument(
        "--input",
        dest="inputs",
        action="append",
        type=input_arg,
        required=True,
        metavar="NAME=VALUE",
        help="an input value; repeat a NAME for several values",
    )
    p.add_argument("--wait", action="store_true", help="then wait for the job to finish")
    wait_timeout_option(p, "give up waiting after this long (default: no limit)")

    p = add_command(
        subparsers,
        "wait",
        "Wait for jobs to finish, each printed as it ends (list pages per application, "
        "not a GET per job per poll).",
        wait,
    )
    p.add_argument("job_ids", nargs="+", type=job_id_arg, metavar="JOB_ID", help=JOB_IDS_HELP)
    wait_timeout_option(p, "give up waiting after this long (default: no limit)")


def ended(*statuses: Any) -> int:
    """Exit 3 when a job waited for ended failed, else 0."""
    return EXIT_JOB_FAILED if any(s == "failed" for s in statuses) else EXIT_OK


def _timed_out(output: Output, command: str, error: WaitTimeoutError) -> int:
    return output.fail(EXIT_WAIT_TIMEOUT, f"{command}: {explain(error)}")


def retry(args: argparse.Namespace, output: Output) -> int:
    """Each id in turn (one failure stops nothing), then one table of what happened:
    the same format for one id or many, with or without --wait."""
    ids = job_ids(args.job_ids)
    if not ids:
        output.say("nothing to retry: no job ids on stdin")
        return EXIT_OK
    rows: dict[str, tuple[str, Any, str]] = {}  # id -> (outcome, status, note)
    retried: list[Any] = []
    timed_out: WaitTimeoutError | None = None
    with (
        JobsClient(**client_settings(args)) as client,
        Progress(output, "retrying", sent=args.wait) as progress,
    ):
        progress.start()
        finished = 0  # not retried, or (with --wait) ended
        for sent, job_id in enumerate(ids, 1):
            try:
                job: Any = client.retry(job_id)
            except WriterJobsError as exc:
                rows[job_id] = ("not retried", None, _short(exc))
                if output.as_json:
                    output.json_line(
                        {
                            "event": "error",
                            "id": job_id,
                            "error_type": type(exc).__name__,
                            "message": explain(exc),
                        }
                    )
                finished += 1
            else:
                retried.append(job)
                rows[job_id] = ("retried", job.status, "")
                finished += 0 if args.wait else 1
                if output.as_json and not args.wait:
                    output.json_line(job.to_dict())
            progress.update(len(ids), sent, finished)
        if args.wait and retried:
            try:
                for job in client.wait_many([j.id for j in retried], deadline=args.wait_timeout):
                    rows[str(job.id)] = ("retried", job.status, cell(job.error))
                    finished += 1
                    progress.update(len(ids), len(ids), finished)
                    if output.as_json:
                        output.json_line(job.to_dict())
            except WaitTimeoutError as exc:  # the table still says what happened
                timed_out = exc
    if not output.as_json:
        table = Table(title=f"retry: {count(len(ids), 'job')}", title_justify="left")
        table.add_column("id", no_wrap=True, min_width=36)
        table.add_column("outcome", no_wrap=True)
        table.add_column("status", no_wrap=True)
        for job_id, (outcome, status, _) in rows.items():
            table.add_row(job_id, outcome, cell(status) or "-")
        output.table(table)
        for job_id, (_, _, note) in rows.items():  # why, under the table: read in full
            if note:
                output.line(f"{job_id}: {note}")
    failed = sum(1 for outcome, _, _ in rows.values() if outcome == "not retried")
    if failed:
        output.say(f"writer-jobs: {failed} of {count(len(ids), 'job')} could not be retried")
        return EXIT_API
    if timed_out is not None:
        return _timed_out(output, "retry", timed_out)
    return ended(*(status for _, status, _ in rows.values())) if args.wait else EXIT_OK


def _short(exc: WriterJobsError) -> str:
    """An error in a table cell: its kind and the server's own words when it sent some
    (not the request line and status around them)."""
    descriptions = getattr(exc, "error_descriptions", None)
    if descriptions:
        return f"{type(exc).__name__}: {' '.join(descriptions)}"
    return f"{type(exc).__name__}: {explain(exc)}"


def get(args: argparse.Namespace, output: Output) -> int:
    with JobsClient(**client_settings(args)) as client:
        output.job(client.get(args.job_id))
    return EXIT_OK


def list_jobs(args: argparse.Namespace, output: Output) -> int:
    with JobsClient(**client_settings(args)) as client:
        jobs = []
        for job in client.list(args.application_id, status=args.status):
            jobs.append(job)
            if output.as_json:
                output.json_line(job.to_dict())
            if args.limit is not None and len(jobs) >= args.limit:
                break
    if not output.as_json:
        status = f"{args.status} " if args.status else ""
        output.jobs(jobs, title=f"{count(len(jobs), status + 'job')} of {args.application_id}")
    return EXIT_OK


def create(args: argparse.Namespace, output: Output) -> int:
    inputs: dict[str, list[str]] = {}
    for name, value in args.inputs:
        inputs.setdefault(name, []).append(value)
    with JobsClient(**client_settings(args)) as client:
        job: Any = client.create(args.application_id, inputs)
        if not args.wait:
            output.job(job)
            return EXIT_OK
        try:
            job = client.wait(job.id, deadline=args.wait_timeout)
        except WaitTimeoutError as exc:  # the job exists: its id is the next step's
            output.job(exc.last_job or job)
            return _timed_out(output, "create", exc)
    output.job(job)
    return ended(job.status)


def wait(args: argparse.Namespace, output: Output) -> int:
    ids = job_ids(args.job_ids)
    if not ids:
        output.say("nothing to wait for: no job ids on stdin")
        return EXIT_OK
    jobs = []
    timed_out: WaitTimeoutError | None = None
    with (
        JobsClient(**client_settings(args)) as client,
        Progress(output, "waiting", sent=False) as progress,
    ):
        progress.start()
        progress.update(len(ids), len(ids), 0)
        try:
            for job in client.wait_many(ids, deadline=args.wait_timeout):
                jobs.append(job)
                progress.update(len(ids), len(ids), len(jobs))
                if output.as_json:
                    output.json_line(job.to_dict())
        except WaitTimeoutError as exc:  # those that ended are shown
            timed_out = exc
    if not output.as_json and (jobs or timed_out is None):
        output.jobs(jobs, title=f"{count(len(jobs), 'job')} ended")
    if timed_out is not None:
        return _timed_out(output, "wait", timed_out)
    return ended(*(job.status for job in jobs))
