"""The argument parser: the global options, then each command module's parsers."""

from __future__ import annotations

import argparse

from .. import __version__
from ..testing import _serve
from ._args import global_options
from ._exit import EXIT_CODES
from .commands import batch, jobs, retry_failed


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (global options go before or after the command)."""
    parser = argparse.ArgumentParser(
        prog="writer-jobs",
        parents=[global_options()],
        description="Retry, watch, list and create Writer async jobs; run a job per input row.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"writer-jobs {__version__}")
    try:
        import shtab  # the cli extra: `writer-jobs --print-completion bash > ...`
    except ImportError:  # pragma: no cover - the extra is missing
        pass
    else:
        shtab.add_argument_to(parser, ["--print-completion"])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (jobs, retry_failed, batch, _serve):
        command.register(subparsers)
    return parser
