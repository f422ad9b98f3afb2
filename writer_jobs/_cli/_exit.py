"""The CLI's exit codes, and the errors that end a command with one of them."""

from __future__ import annotations

EXIT_OK = 0
#: An API or network error, a job that could not be retried, a run declined.
EXIT_API = 1
#: A usage error (argparse's own code): nothing was sent.
EXIT_USAGE = 2
#: A job waited for ended failed.
EXIT_JOB_FAILED = 3
#: A bulk run stopped because the API was unavailable too long (sysexits' EX_TEMPFAIL:
#: try again later; the journal keeps the place).
EXIT_UNAVAILABLE = 75
#: A wait passed --wait-timeout with jobs still running (timeout(1)'s code).
EXIT_WAIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130

#: The exit codes as --help's epilog and the module docstring say them.
EXIT_CODES = (
    f"Exit codes: {EXIT_OK} ok (every job waited for completed), {EXIT_API} API or network "
    f"error, {EXIT_USAGE} usage error, {EXIT_JOB_FAILED} a job waited for ended failed, "
    f"{EXIT_UNAVAILABLE} the API stayed unavailable past --max-unavailable (rerun to "
    f"resume), {EXIT_WAIT_TIMEOUT} --wait-timeout passed with jobs still running, "
    f"{EXIT_INTERRUPTED} interrupted."
)


class UsageError(Exception):
    """A bad command line, reported like argparse's own errors (exit 2)."""


class Declined(Exception):
    """The person at the terminal said no: nothing is sent."""
