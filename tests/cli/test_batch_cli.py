"""``writer-jobs batch``: the real console script, in a subprocess, against the fake."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from writer_jobs.testing import FakeWriterAPI, Faults, OtherCreator

from .test_cli import SCRIPT, SENTINEL, lines, no_key, run


def write_csv(path: Path, count: int) -> Path:
    """``count`` rows: a key column, a product, and a repeated (multi-value) column."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "product", "feature", "feature"])
        for n in range(1, count + 1):
            writer.writerow([f"SKU-{n}", f"product {n}", "light", "red" if n % 2 else ""])
    return path


def jobs_per_sku(api: FakeWriterAPI) -> Counter[str]:
    """The jobs the fake made, by the row they were made from (another program's left out)."""
    others = set(api.other_created)
    return Counter(
        job.inputs[0]["value"][0] for job in api.store._jobs.values() if job.id not in others
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_joined(api: FakeWriterAPI, results: list[dict[str, Any]]) -> None:
    """Each result's job was made from that row's own inputs."""
    for record in results:
        if record["job_id"] is not None:
            job = api.store._jobs[uuid.UUID(record["job_id"])]
            number = int(record["key"].split("-")[1])
            assert job.inputs[0]["value"] == [f"product {number}"], record


def test_batch_writes_one_result_per_row_and_the_same_command_resumes(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "products.csv", 25)
    results = tmp_path / "results.csv"
    with FakeWriterAPI(
        api_key=SENTINEL, delay=0.2, failure_ratio=0.3, newest_first=True, seed=4
    ) as api:
        args = ["batch", api.application_id, str(source), "--output", str(results)]
        first = run(api, *args, "--key", "sku", "--yes")
        assert first.returncode in (0, 3), first.stderr
        made = api.processed("create_job")
        with results.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert sorted(int(r["row"]) for r in rows) == list(range(1, 26))
        assert {r["key"] for r in rows} == {f"SKU-{n}" for n in range(1, 26)}
        assert all(r["status"] in {"completed", "failed"} and r["job_id"] for r in rows)
        first_text = results.read_text()
        again = run(api, *args, "--key", "sku", "--yes")
        assert again.returncode == first.returncode
        assert api.processed("create_job") == made == 25, "no row created again"
        assert results.read_text() == first_text
        assert "done by an earlier run" in again.stdout
        # The repeated column is one input with its values; the key is not sent.
        job = api.store._jobs[uuid.UUID(rows[0]["job_id"])]
        assert {i["id"] for i in job.inputs} == {"product", "feature"}
        no_key(first)
        no_key(again)


def test_bad_rows_are_listed_with_their_lines_and_nothing_is_sent(tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"product": "a"}\n{"product": 3}\nnot json\n\n{"product": ["b", "c"]}\n{}\n')
    results = tmp_path / "results.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, delay=0.1) as api:
        args = ["batch", api.application_id, str(source), "-o", str(results), "--yes"]
        refused = run(api, *args)
        assert refused.returncode == 2
        for needle in ("3 rows cannot be sent", "line 2:", "line 3: not a JSON object", "line 6:"):
            assert needle in " ".join(refused.stderr.split()), refused.stderr
        assert api.log == [], "nothing sent"
        skipped = run(api, *args, "--skip-invalid", "--json")
        assert skipped.returncode == 3, skipped.stderr
        out = lines(skipped.stdout)
        summary = out[-1]
        assert summary["event"] == "summary" and summary["statuses"] == {
            "completed": 2,
            "invalid": 3,
        }
        saved = {r["row"]: r for r in records(results)}
        assert sorted(saved) == [1, 2, 3, 4, 5]
        assert saved[2]["status"] == "invalid" and "'product'" in saved[2]["error"]
        assert saved[4]["inputs"] == {"product": ["b", "c"]}
        assert api.processed("create_job") == 2


def test_rows_that_keep_failing_exit_3_after_max_attempts(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", 4)
    results = tmp_path / "out.jsonl"
    with FakeWriterAPI(api_key=SENTINEL, delay=0.05, failure_ratio=1.0, newest_first=True) as api:
        result = run(
            api, "batch", api.application_id, str(source), "-o", str(results), "--key", "sku",
            "--max-attempts", "2", "--yes",
        )  # fmt: skip
        assert result.returncode == 3, result.stderr
        saved = records(results)
        assert {r["status"] for r in saved} == {"failed"} and len(saved) == 4
        assert all(r["attempts"] == 2 and "fake failure" in r["error"] for r in saved)
        assert sorted(api.retries_per_job().values()) == [1, 1, 1, 1], "one retry per attempt"


def test_dry_run_counts_and_sends_nothing(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", 7)
    with FakeWriterAPI(api_key=SENTINEL) as api:
        result = run(api, "batch", api.application_id, str(source), "-o", "x.jsonl", "--dry-run")
        assert result.returncode == 0, result.stderr
        assert "7 of 7 rows" in result.stdout and "nothing was sent" in result.stdout
        assert api.log == []


def test_lost_answers_and_another_creator_never_give_a_row_another_rows_job(
    tmp_path: Path,
) -> None:
    source = write_csv(tmp_path / "in.csv", 30)
    results = tmp_path / "out.jsonl"
    with FakeWriterAPI(
        api_key=SENTINEL,
        delay=0.1,
        newest_first=True,
        faults=Faults(lose_creates=0.3, seed=2),
        conditions=[OtherCreator(300)],
    ) as api:
        # A short request timeout: each lost answer is proved 10 s (the settle bound) after.
        result = run(
            api, "batch", api.application_id, str(source), "-o", str(results), "--key", "sku",
            "--yes", "--timeout", "2", timeout=240,
        )  # fmt: skip
        saved = records(results)
        assert sorted(r["row"] for r in saved) == list(range(1, 31))
        assert max(jobs_per_sku(api).values()) == 1
        check_joined(api, saved)
        unresolved = [r for r in saved if r["status"] == "unresolved"]
        assert result.returncode == (3 if unresolved else 0)
        if unresolved:
            text = " ".join(result.stderr.split())
            assert "--create-unresolved" in text and "candidates" in text
            assert all(r["candidates"] for r in unresolved)


def test_sigkill_mid_run_then_the_same_command_gives_every_row_once(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", 40)
    results = tmp_path / "out.jsonl"
    journal = Path(str(results) + ".journal")
    with FakeWriterAPI(
        api_key=SENTINEL,
        delay=(0.5, 1.5),
        failure_ratio=0.2,
        newest_first=True,
        faults=Faults(lose_creates=0.1, seed=5),
    ) as api:
        args = ["batch", api.application_id, str(source), "-o", str(results), "--key", "sku"]
        args += ["--timeout", "2"]  # each lost answer is proved 10 s (the settle bound) after
        env = {"WRITER_API_KEY": api.api_key, "WRITER_BASE_URL": api.base_url}
        child = subprocess.Popen(
            [SCRIPT, *args, "--yes"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Killed while rows are in every state: some done, some created, some not.
            while not (results.exists() and len(results.read_text().splitlines()) >= 5):
                assert child.poll() is None, "the run ended before it could be killed"
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
        assert "creating" in journal.read_text()
        # What the killed run sent (but its last second's): the resume's own, in the window.
        killed_sent = sum(e["requests"] for e in _whole_lines(journal) if e["event"] == "sent")
        assert killed_sent > 0
        again = run(api, *args, "--yes", timeout=240)
        assert again.returncode in (0, 3), again.stderr
        said = again.stderr.splitlines()[0]
        assert said.startswith(f"writer-jobs: resuming from {journal}"), again.stderr
        assert f"its {killed_sent} requests of the last minute count in the account's" in said
        saved = records(results)
        assert sorted(r["row"] for r in saved) == list(range(1, 41)), "every row, once"
        assert max(jobs_per_sku(api).values()) == 1, "nothing created twice"
        unresolved = sum(1 for r in saved if r["status"] == "unresolved")
        assert 40 - unresolved <= sum(jobs_per_sku(api).values()) <= 40
        check_joined(api, saved)
        # Nobody else creating: unresolved only for a create sent before any answer gave
        # the job clock (the Date header's clock cannot bound its window).
        no_job_clock = {
            entry["row"]
            for entry in map(json.loads, journal.read_text().splitlines())
            if entry.get("event") == "creating" and entry.get("job_clock") is False
        }
        for r in saved:
            assert r["status"] in {"completed", "failed"} or (
                r["status"] == "unresolved" and r["row"] in no_job_clock
            ), r


def _whole_lines(path: Path) -> list[dict[str, Any]]:
    """A journal's whole lines (a line cut by the kill is left out, as the run does)."""
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
