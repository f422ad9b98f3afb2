"""A batch started again: at the account's pace (its journal's ``sent`` lines), and the
run lock that refuses a second run on the application, naming the kind of each run."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from writer_jobs import BatchProgress, BulkProgress, JobsClient, RunInProgressError
from writer_jobs._budget import Budget
from writer_jobs.testing import FakeWriterAPI

# The account at a tenth of Writer's time: a 6 s window admitting 60 requests. The
# client is told a ceiling its token bucket keeps under that window when it runs
# without a stop (a burst of 20, then 34 a window: 54), as Writer's 400 a minute is.
WINDOW = 6.0
LIMIT = 60
CEILING = 360.0
#: The first run stops once the server answered this many of its requests: within its
#: first window, so that window still holds them all when the second run starts.
STOP_AFTER = 35


class Stop(Exception):
    """The first run is stopped here (as Ctrl-C stops it)."""


def _answered(api: FakeWriterAPI) -> int:
    return sum(1 for e in api.log if e.status is not None and e.status != 429)


def _paced(client: JobsClient) -> JobsClient:
    client._budget = Budget(CEILING, window=WINDOW)
    return client


def _sent_lines(journal: Path) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    return [e for e in entries if e.get("event") == "sent"]


def test_a_batch_started_again_at_once_keeps_to_the_accounts_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    results = tmp_path / "results.jsonl"
    rows = [{"product": f"row-{n}"} for n in range(1, 81)]
    with FakeWriterAPI(delay=0.05, newest_first=True, rate_limit=LIMIT, rate_window=WINDOW) as api:

        def stop_after(_: BatchProgress) -> None:
            if _answered(api) >= STOP_AFTER:
                raise Stop

        with (
            _paced(JobsClient(api.api_key, base_url=api.base_url)) as client,
            pytest.raises(Stop),
        ):
            client.batch(api.application_id, rows, results=results, on_progress=stop_after)
        first = _answered(api)
        stopped_at = max(e.at for e in api.log)
        assert stopped_at - min(e.at for e in api.log) < WINDOW, "stopped in its first window"
        journal = Path(str(results) + ".journal")
        assert sum(e["requests"] for e in _sent_lines(journal)) == first
        with (
            caplog.at_level("INFO", logger="writer_jobs"),
            _paced(JobsClient(api.api_key, base_url=api.base_url)) as client,
        ):
            summary = client.batch(api.application_id, rows, results=results)
        (said,) = [r for r in caplog.records if hasattr(r, "resuming")]
    assert said.resuming["recalled_requests"] == first
    assert summary.completed == len(rows)
    # The server counts the window: a 429 is a request past it.
    assert api.rate_limited == 0 and summary.rate_limited == 0, "no 429: within the window"


@contextlib.contextmanager
def _held(start: Callable[[Callable[[Any], None]], Any]) -> Iterator[None]:
    """Run ``start(on_progress)`` in a thread, held at its first progress (the run lock
    taken, nothing sent for any job yet) until the block ends."""
    holding, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def on_progress(_: Any) -> None:
        holding.set()
        release.wait()

    def run() -> None:
        try:
            start(on_progress)
        except BaseException as exc:
            failure.append(exc)
            holding.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert holding.wait(30), "the held run never started"
        assert not failure, failure
        yield
    finally:
        release.set()
        thread.join()
    assert not failure, failure


def test_a_retry_failed_refused_while_a_batch_runs_names_both_kinds(tmp_path: Path) -> None:
    rows = [{"product": "kettle"}]
    with FakeWriterAPI(seed_failed=2) as api, JobsClient(api.api_key, base_url=api.base_url) as c:
        batch = lambda told: c.batch(  # noqa: E731
            api.application_id, rows, results=tmp_path / "r.jsonl", on_progress=told
        )
        with _held(batch), pytest.raises(RunInProgressError) as refused:
            c.retry_failed(api.application_id)
    message = str(refused.value)
    assert message.startswith(f"another batch run is working on application {api.application_id!r}")
    assert "then run this retry-failed again" in message
    assert refused.value.holder["kind"] == "batch"
    assert refused.value.holder["journal"] == str((tmp_path / "r.jsonl.journal").resolve())


def test_a_batch_refused_while_a_retry_failed_runs_names_both_kinds(tmp_path: Path) -> None:
    rows = [{"product": "kettle"}]
    with FakeWriterAPI(seed_failed=2) as api, JobsClient(api.api_key, base_url=api.base_url) as c:

        def retry(told: Callable[[BulkProgress], None]) -> Any:
            return c.retry_failed(api.application_id, on_progress=told)

        with _held(retry), pytest.raises(RunInProgressError) as refused:
            c.batch(api.application_id, rows, results=tmp_path / "r.jsonl")
    message = str(refused.value)
    assert message.startswith(
        f"another retry-failed run is working on application {api.application_id!r}"
    )
    assert "then run this batch again" in message
    assert refused.value.holder["kind"] == "retry-failed"
