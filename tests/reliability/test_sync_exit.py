"""A sync script Ctrl-C'd while its POSTs are out, then run again at once with its
journal: the first process must not end (releasing the run lock) before those POSTs
are answered, or the rerun checks the jobs before the server carries them out and
POSTs them again. Counts are what the fake processed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from writer_jobs import JobsClient
from writer_jobs.bulk._journal import RunLock
from writer_jobs.testing import FakeWriterAPI, Faults

from ..conftest import Processes, sigint_raises

# The two ways a script ends after Ctrl-C: leaving ``with JobsClient()`` (the
# KeyboardInterrupt caught inside), or the KeyboardInterrupt ending the script with
# the client never closed.
SCRIPT = """
import sys
from writer_jobs import JobsClient

base_url, api_key, app, journal, ending = sys.argv[1:]
if ending == "with":
    with JobsClient(api_key, base_url=base_url) as client:
        try:
            client.retry_failed(app, journal=journal, concurrency=8, rate_limit=None)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
else:
    client = JobsClient(api_key, base_url=base_url)
    client.retry_failed(app, journal=journal, concurrency=8, rate_limit=None)
"""

#: Seconds the fake waits after a POST arrives before carrying it out (and answering).
#: Longer than the stop's one-second wait plus a rerun's start-up.
LATE = 4.0


def _started_lines(journal: Path) -> int:
    return journal.read_text().count('"event":"started"') if journal.exists() else 0


def _late_posts() -> Faults:
    return Faults(rate=1.0, kinds=("latency",), latency=LATE, operations=frozenset({"retry_job"}))


@pytest.mark.parametrize("ending", ["with", "plain"])
def test_ctrl_c_then_an_immediate_rerun_triggers_no_job_twice(
    tmp_path: Path, processes: Processes, ending: str
) -> None:
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(
        seed_failed=8,
        fail_again_after=0.0,  # each job fails again as soon as its POST is carried out
        faults=_late_posts(),
    ) as api:
        argv = [
            sys.executable,
            "-c",
            SCRIPT,
            api.base_url,
            api.api_key,
            api.application_id,
            str(journal),
            ending,
        ]
        first = processes.start(argv, sigint=True, stdout=subprocess.PIPE, text=True)
        give_up = time.monotonic() + 30
        while _started_lines(journal) < 8:
            assert time.monotonic() < give_up, "the run did not get going"
            assert first.poll() is None, "the run ended before its POSTs went out"
            time.sleep(0.02)
        time.sleep(0.3)  # the 8 POSTs are out, none carried out yet
        assert api.processed("retry_job") == 0
        first.send_signal(signal.SIGINT)
        first.wait(60)
        rerun = processes.start(argv, stdout=subprocess.PIPE, text=True)
        assert rerun.wait(60) == 0
        per_job = api.retries_per_job()
    assert per_job == dict.fromkeys(api.seeded, 1), "each job processed once"


def test_leaving_the_client_after_ctrl_c_waits_for_the_posts_that_are_out(
    tmp_path: Path,
) -> None:
    """In one process: Ctrl-C while 8 POSTs are out; retry_failed raises within about
    a second, its workers still waiting for answers. Leaving ``with JobsClient()``
    returns only once they are answered (carried out by the server) and the run lock
    is free: whatever the program does next, its jobs are settled on the server."""
    journal = tmp_path / "run.jsonl"
    with FakeWriterAPI(seed_failed=8, fail_again_after=0.0, faults=_late_posts()) as api:

        def interrupt_when_posts_are_out() -> None:
            while _started_lines(journal) < 8:
                time.sleep(0.02)
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Thread(target=interrupt_when_posts_are_out, daemon=True)
        with JobsClient(api.api_key, base_url=api.base_url) as client:
            timer.start()
            with sigint_raises(), pytest.raises(KeyboardInterrupt):
                client.retry_failed(
                    api.application_id, journal=journal, concurrency=8, rate_limit=None
                )
            assert api.processed("retry_job") == 0, "the POSTs were still out"
        timer.join(30)
        assert api.retries_per_job() == dict.fromkeys(api.seeded, 1), "all answered"
        RunLock(api.base_url, api.application_id, None).release()  # free: no error
