"""One loopback rule, the run lock's (one lock for every spelling of this machine);
pacing has none (rate_limit="auto" knows Writer's limit on Writer's API only)."""

from __future__ import annotations

import uuid

import pytest

from writer_jobs import RunInProgressError
from writer_jobs._config import resolve_rate_limit
from writer_jobs.bulk._journal import RunLock

LOOPBACK = [
    "localhost",
    "LOCALHOST",
    "localhost.",
    "api.localhost",
    "127.0.0.1",
    "127.1",
    "127.0.0.2",
    "0x7f.1",
    "2130706433",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "0.0.0.0",
]
ELSEWHERE = [
    "api.writer.com",
    "example.com.",
    "localhost.example.com",
    "10.0.0.1",
    "128.0.0.1",
    "[2001:db8::1]",
    "[::ffff:10.0.0.1]",
]


@pytest.mark.parametrize("host", LOOPBACK + ELSEWHERE)
def test_the_run_lock_knows_every_loopback_spelling_and_pacing_none(host: str) -> None:
    """The run lock's loopback rule, for every spelling. Pacing has no loopback case:
    "auto" knows Writer's limit on Writer's API only; every other host starts
    unpaced and learns its limit from 429s."""
    app = f"loopback-rule-{uuid.uuid4()}"
    ceiling = resolve_rate_limit("auto", f"https://{host}:8443")
    held = RunLock("https://127.0.0.1:8443", app, None)
    try:
        try:
            RunLock(f"https://{host}:8443", app, None).release()
            same_lock = False
        except RunInProgressError:
            same_lock = True
    finally:
        held.release()
    assert same_lock == (host in LOOPBACK)
    assert ceiling == (400.0 if host == "api.writer.com" else None)
