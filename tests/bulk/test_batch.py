"""``JobsClient.batch`` / ``AsyncJobsClient.batch`` against the fake: what the signature
shows, rows streamed, the callbacks, the results file across a crash, a changed input."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from writer_jobs import (
    AsyncJobsClient,
    BatchProgress,
    InvalidArgumentError,
    JobsClient,
    RowResult,
)
from writer_jobs.bulk._rows import ResultsFile
from writer_jobs.testing import FakeWriterAPI

KEYWORDS = [
    "results",
    "key",
    "max_attempts",
    "concurrency",
    "rate_limit",
    "max_unavailable",
    "skip_invalid",
    "create_unresolved",
    "dry_run",
    "on_result",
    "on_progress",
    "timeout",
]


@pytest.mark.parametrize("client", [JobsClient, AsyncJobsClient])
def test_the_signature_lists_every_keyword_with_its_default(
    client: type[JobsClient] | type[AsyncJobsClient],
) -> None:
    parameters = inspect.signature(client.batch).parameters
    assert list(parameters) == ["self", "application_id", "rows", *KEYWORDS]
    assert parameters["max_attempts"].default == 3
    assert parameters["concurrency"].default == 16
    assert all(parameters[k].kind is inspect.Parameter.KEYWORD_ONLY for k in KEYWORDS)


def test_rows_are_read_as_they_are_sent_and_every_row_is_reported(tmp_path: Path) -> None:
    results: list[RowResult] = []
    progress: list[BatchProgress] = []
    concurrency = 4
    with FakeWriterAPI(delay=0.1, newest_first=True) as api:
        pulled = 0

        def rows() -> Iterator[dict[str, str]]:
            nonlocal pulled
            for n in range(1, 61):
                # Streamed: no row is read more than the workers' worth ahead of what
                # was sent (memory does not grow with the input).
                assert pulled - api.processed("create_job") <= concurrency
                pulled += 1
                yield {"product": f"row {n}"}

        with JobsClient(api.api_key, base_url=api.base_url) as client:
            summary = client.batch(
                api.application_id,
                rows(),
                concurrency=concurrency,
                on_result=results.append,
                on_progress=progress.append,
            )
    assert summary.ok and summary.rows == 60 and summary.created == 60
    assert sorted(r.row for r in results) == list(range(1, 61))
    assert all(r.status == "completed" and r.job_id and r.suggestion for r in results)
    assert results[0].inputs == {"product": [f"row {results[0].row}"]}
    assert progress[-1].done == 60 and progress[-1].sent == 60 and progress[-1].running == 0


def test_the_async_client_runs_a_batch_to_a_csv_file(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    rows = [{"sku": f"K{n}", "product": f"row {n}"} for n in range(1, 9)]

    async def go(api: FakeWriterAPI) -> None:
        async with AsyncJobsClient(api.api_key, base_url=api.base_url) as client:
            summary = await client.batch(api.application_id, rows, results=out, key="sku")
            assert summary.ok and summary.rows == 8

    with FakeWriterAPI(delay=0.1, newest_first=True) as api:
        asyncio.run(go(api))
        sent = [job.inputs for job in api.store._jobs.values()]
    header, *lines = out.read_text().splitlines()
    assert header.startswith("row,key,inputs,job_id,status,attempts,title,suggestion")
    assert len(lines) == 8 and all(",completed," in line for line in lines)
    assert all(inputs == [{"id": "product", "value": inputs[0]["value"]}] for inputs in sent)


def test_a_results_record_cut_by_a_crash_is_dropped_and_written_again(tmp_path: Path) -> None:
    for name in ("out.jsonl", "out.csv"):
        path = tmp_path / name
        results = ResultsFile(path)
        results.write(RowResult(1, "completed", key="a", suggestion="two\nlines, quoted"))
        results.write(RowResult(2, "unresolved", key="b", error="lost"))
        results.close()
        with path.open("a") as f:
            f.write('3,c,,,completed,1,,"cut mid-' if name.endswith("csv") else '{"row": 3, "ke')
        again = ResultsFile(path)
        assert again.done == {1, 2} and again.statuses == {"completed": 1, "unresolved": 1}
        again.close()
        dropped = ResultsFile(path, drop_unresolved=True)
        assert dropped.done == {1} and dropped.unresolved == {2}
        dropped.write(RowResult(2, "completed", key="b"))
        dropped.close()
        assert ResultsFile(path).done == {1, 2}
        if name.endswith("jsonl"):
            assert [json.loads(line)["row"] for line in path.read_text().splitlines()] == [1, 2]


def test_a_resume_with_a_changed_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(f'{{"product": "row {n}"}}\n' for n in range(3)))
    out = tmp_path / "out.jsonl"
    with (
        FakeWriterAPI(delay=0.05, newest_first=True) as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        assert client.batch(api.application_id, source, results=out).ok
        source.write_text('{"product": "another row"}\n' + source.read_text())
        with pytest.raises(InvalidArgumentError, match="the input changed"):
            client.batch(api.application_id, source, results=out)
        assert api.processed("create_job") == 3


def test_bad_rows_of_a_file_raise_naming_their_lines_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("product,tags,tags\nlamp,a,b\ndesk\n,,\nchair,c,\n")
    with (
        FakeWriterAPI() as api,
        JobsClient(api.api_key, base_url=api.base_url) as client,
    ):
        with pytest.raises(
            InvalidArgumentError, match=r"line 3: the row has 1 cells, the header 3"
        ):
            client.batch(api.application_id, source)
        assert api.log == []
        preview = client.batch(api.application_id, source, dry_run=True, skip_invalid=True)
        assert preview.would_send == 2 and preview.rows == 3
        assert api.log == []
