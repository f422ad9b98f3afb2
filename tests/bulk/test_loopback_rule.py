"""One loopback rule: rate_limit="auto" (no pacing for this machine) and the run lock
(one lock for every spelling of this machine) give the same answer for every host."""

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
def test_pacing_and_the_run_lock_agree_on_every_spelling(host: str) -> None:
    app = f"loopback-rule-{uuid.uuid4()}"
    not_paced = resolve_rate_limit("auto", f"https://{host}:8443") is None
    held = RunLock("https://127.0.0.1:8443", app, None)
    try:
        try:
            RunLock(f"https://{host}:8443", app, None).release()
            same_lock = False
        except RunInProgressError:
            same_lock = True
    finally:
        held.release()
    assert not_paced == same_lock == (host in LOOPBACK)
