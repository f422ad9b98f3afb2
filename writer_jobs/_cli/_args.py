"""The command line's words: argument types and validators, the global options every
command takes, the client settings they make, and a parsed command written back as
a command line."""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import InvalidArgumentError
from .._config import API_KEY_ENV, BASE_URL_ENV
from .._validation import job_id as parse_job_id
from ._exit import UsageError

APP_ID_HELP = "the id of the application the jobs belong to (demo-app on writer-jobs serve)"
JOB_IDS_HELP = "job ids (UUIDs); - reads them from stdin, one a line or --json lines"
#: The option that carries a secret: never written back into a command line.
SECRET = "api_key"  # noqa: S105 - the name of an option, not a key


def job_id_arg(value: str) -> str:
    if value == "-":
        return value  # ids from stdin, read by job_ids
    try:
        return str(parse_job_id(value))
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def job_ids(values: Sequence[str]) -> list[str]:
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
    return list(dict.fromkeys(ids))  # an id given twice is handled once; empty: a normal day


def non_negative(value: str) -> float:
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


def moment(value: str) -> datetime.datetime:
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
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO time (2026-11-28T09:00) or an age (90s, 30m, 2h, 1d), "
            f"received {value!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, received {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, received {value!r}")
    return number


def input_arg(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE, received {value!r}")
    return name, text


def global_options() -> argparse.ArgumentParser:
    """The options every API command takes, before or after its name (a parent parser;
    SUPPRESS: given after the command, they do not reset what came before it)."""
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
        type=non_negative,
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
    return common


Handler = Callable[[argparse.Namespace, Any], int]


def add_command(
    subparsers: Any, name: str, help_text: str, run: Handler, *, api: bool = True
) -> argparse.ArgumentParser:
    """A command's parser, with the global options when it talks to the API; ``run``
    (``run(args, output) -> exit code``) is what main() calls."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        parents=[global_options()] if api else [],
        help=help_text,
        description=help_text,
    )
    parser.set_defaults(run=run, command_parser=parser)
    return parser


def wait_timeout_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--wait-timeout",
        type=non_negative,
        default=None,
        metavar="SECONDS",
        help=f"{help_text} (exit 124 if jobs are still running then)",
    )


def client_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The client keywords the global options give (those not given: the defaults)."""
    names = {
        "api_key": "api_key",
        "base_url": "base_url",
        "request_timeout": "timeout",
        "max_retries": "max_retries",
    }
    return {
        keyword: getattr(args, dest)
        for dest, keyword in names.items()
        if getattr(args, dest, None) is not None
    }


def _word(value: Any) -> str:
    """A parsed value as the command line spells it."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, tuple):  # NAME=VALUE, as input_arg read it
        return "=".join(map(str, value))
    return str(value)


def command_line(
    args: argparse.Namespace,
    *,
    drop: Iterable[str] = (),
    replace: dict[str, Any] | None = None,
) -> list[str]:
    """The command ``args`` was parsed from, rebuilt from its parser: every option the
    person gave (a value other than its default), with the values in ``replace`` (by
    dest), without the options in ``drop`` (by dest) nor the secret one."""
    parser: argparse.ArgumentParser = args.command_parser
    skipped = {SECRET, "help", "version", *drop}
    replace = replace or {}
    words = [parser.prog.split()[0], parser.prog.split()[-1]]  # writer-jobs COMMAND
    options: list[str] = []
    for action in parser._actions:
        if action.dest in skipped or not hasattr(args, action.dest):
            continue
        value = replace.get(action.dest, getattr(args, action.dest))
        if not action.option_strings:  # a positional
            words += [_word(v) for v in value] if isinstance(value, list) else [_word(value)]
            continue
        if value is None or (value == action.default and action.dest not in replace):
            continue
        flag = max(action.option_strings, key=len)  # the long spelling
        if isinstance(action, argparse._CountAction):
            options += [flag] * int(value)
        elif isinstance(action, argparse._StoreTrueAction):
            options += [flag] if value else []
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                options += [flag, _word(item)]
        else:
            options += [flag, _word(value)]
    return words + options


def shell_line(words: Sequence[str]) -> str:
    return shlex.join(words)
