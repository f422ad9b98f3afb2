"""`writer-jobs serve`: the fake Writer API from a terminal, beside the fake itself.

The CLI registers it (``register(subparsers)``); it imports the fake (the ``server``
extra) only when it runs, so the rest of the CLI works without that extra.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from .._exceptions import InvalidArgumentError


class _Output(Protocol):
    """What serve prints through (the CLI's Output)."""

    as_json: bool

    def json_line(self, data: dict[str, Any]) -> None: ...

    def say(self, text: str) -> None: ...


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, received {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, received {value!r}")
    return number


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


def _delay(value: str) -> float | tuple[float, float]:
    low, sep, high = value.partition("-")
    if not sep:
        return _non_negative(value)
    bounds = (_non_negative(low), _non_negative(high))
    if bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"a delay range is MIN-MAX, received {value!r}")
    return bounds


def _outage(value: str) -> tuple[float, float, str]:
    """START:DURATION[:503|close], seconds from the server's start."""
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


def register(subparsers: Any) -> None:
    """Add ``serve`` (with its own --api-key: the fake never takes $WRITER_API_KEY)."""
    help_text = "Serve the fake Writer API on 127.0.0.1 (the 'server' extra)."
    p = subparsers.add_parser("serve", help=help_text, description=help_text)
    p.set_defaults(run=run, command_parser=p)
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
        type=_outage,
        action="append",
        default=[],
        metavar="START:DURATION[:KIND]",
        help="the service goes away START seconds after it starts, for DURATION seconds: "
        "KIND 503 (default) answers 503, close closes connections unanswered; repeatable",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of faults, ids, failures (default 0)"
    )


def run(args: argparse.Namespace, output: _Output) -> int:
    try:
        from . import DEFAULT_KEY, FakeWriterAPI, Faults, OtherConsumer, OtherCreator, Outage
    except ImportError as exc:
        raise InvalidArgumentError(str(exc)) from None
    # The fake accepts --api-key when given, else a fixed fake key (never $WRITER_API_KEY,
    # so a real key is neither accepted nor printed).
    if args.other_consumer and args.rate_limit is None:
        raise InvalidArgumentError(
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
    try:  # Ctrl-C from the first moment on (even before the address is printed) ends it
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
            output.say(
                f"Fake Writer API on {api.base_url}  key: {shown_key}  app: {args.app}  "
                f"failed jobs: {len(api.seeded)}  (Ctrl-C to stop)"
            )
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
    return 0
