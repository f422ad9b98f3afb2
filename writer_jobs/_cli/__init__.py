"""The writer-jobs command line (the ``cli`` extra): retry, watch, list and create jobs,
bulk-retry an application's failed jobs, and serve the fake API.

A package, as httpie's and pip's are: ``_parser`` builds the parser from each command
module's ``register(subparsers)`` (``commands/``, and the fake's ``serve`` beside the
fake); ``_args`` holds the argument types and the global options, ``_output`` what is
printed (tables or --json lines) and ``_progress`` what is said while a command works.
Each command's handler, ``run(args, output) -> exit code``, is set on its parser.

Exit codes: 0 success, 1 API or network error, 2 usage error, 3 a job waited for
ended failed, 75 the API stayed unavailable past --max-unavailable, 124 --wait-timeout
passed with jobs still running, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import httpx

from .. import (
    ConfigurationError,
    InvalidArgumentError,
    ServiceUnavailableError,
    WaitTimeoutError,
    WriterJobsError,
)
from .._config import BASE_URL_ENV, DEFAULT_BASE_URL
from ._exit import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    EXIT_WAIT_TIMEOUT,
    UsageError,
)
from ._output import Output, explain
from ._parser import build_parser
from ._progress import setup_logging

__all__ = ["build_parser", "entrypoint", "main"]


def _api_host(base_url: str | None) -> str | None:
    """host:port of the API the command talks to, for messages (None: not a URL)."""
    try:
        url = httpx.URL(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    except (httpx.InvalidURL, TypeError):
        return None
    return url.netloc.decode() or None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    output = Output(as_json=bool(getattr(args, "json", False)))
    output.api = _api_host(getattr(args, "base_url", None))
    setup_logging(getattr(args, "verbose", 0) or 0, output)
    try:
        code: int = args.run(args, output)
    except UsageError as exc:
        return output.fail(EXIT_USAGE, str(exc))
    except (InvalidArgumentError, ConfigurationError) as exc:
        return output.fail(EXIT_USAGE, explain(exc))
    except ServiceUnavailableError as exc:  # wait, retry --wait: the bound of wait_many
        return output.fail(EXIT_UNAVAILABLE, f"{args.command} failed: {explain(exc)}")
    except WaitTimeoutError as exc:
        return output.fail(EXIT_WAIT_TIMEOUT, f"{args.command}: {explain(exc)}")
    except WriterJobsError as exc:
        return output.fail(EXIT_API, f"{args.command} failed: {explain(exc)}")
    except KeyboardInterrupt:
        return output.fail(EXIT_INTERRUPTED, "interrupted")
    return code


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
