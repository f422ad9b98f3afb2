"""A bulk run whose service has never answered since it began (a closed port: a wrong
address, a service not running) is not an outage to wait out for max_unavailable: it
stops with ServiceUnavailableError (``answered`` False) naming the host it tried and
what to check, mentioning a journal only when the run keeps one. An outage is what
happens after the service has answered (tests/bulk/test_outage.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from writer_jobs import AsyncJobsClient, JobsClient, ServiceUnavailableError


@pytest.fixture
def closed_port() -> Iterator[str]:
    """A loopback address nothing listens on (bound, never listening: connections refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _check(error: ServiceUnavailableError, url: str, *, journal: bool) -> None:
    message = str(error)
    assert error.answered is False
    assert "127.0.0.1" in message and url in message, "names the host and the address"
    assert "has not answered since this run began" in message
    assert "Check the address" in message and "WRITER_BASE_URL" in message
    assert ("journal" in message) is journal, "a journal is mentioned only when there is one"
    assert error.reason == "ConnectError"


@pytest.mark.parametrize("journal", [False, True])
def test_sync_run_against_a_closed_port_stops_and_says_what_to_check(
    closed_port: str, tmp_path: Path, journal: bool
) -> None:
    path = tmp_path / "run.jsonl" if journal else None
    with (
        JobsClient("k", base_url=closed_port, max_retries=0) as client,
        pytest.raises(ServiceUnavailableError) as caught,
    ):
        # The bound a real outage gets: not what stops this run.
        client.retry_failed("my-app", journal=path, max_unavailable=3600)
    _check(caught.value, closed_port, journal=journal)


async def test_async_run_and_wait_many_against_a_closed_port_stop_too(closed_port: str) -> None:
    async with AsyncJobsClient("k", base_url=closed_port, max_retries=0) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.retry_failed("my-app", max_unavailable=None)
        _check(caught.value, closed_port, journal=False)
        with pytest.raises(ServiceUnavailableError) as waited:
            async for _ in client.wait_many(["182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"]):
                pass
        _check(waited.value, closed_port, journal=False)


def test_the_cli_stops_with_exit_75_naming_the_address(closed_port: str) -> None:
    """`writer-jobs retry-failed` against a closed port: exit 75 (EX_TEMPFAIL) with the
    address and what to check."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WRITER_")}
    environment |= {"WRITER_API_KEY": "k", "WRITER_BASE_URL": closed_port}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "writer-jobs"), "retry-failed", "my-app", "--yes"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 75, result.stderr
    stopped = result.stderr.splitlines()[-1]
    assert closed_port in stopped and "Check the address" in stopped
