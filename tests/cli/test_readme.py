"""The README's Python examples, run against the fake (WRITER_BASE_URL points there):
each block in a fresh namespace and folder, with the few names the prose assumes."""

from __future__ import annotations

import asyncio
import datetime
import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from writer_jobs import JobsClient
from writer_jobs.testing import FakeWriterAPI

from ..conftest import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_a_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[index]
    with FakeWriterAPI(application_id="my-app", seed_failed=5, delay=0.2) as api:
        monkeypatch.setenv("WRITER_API_KEY", api.api_key)
        monkeypatch.setenv("WRITER_BASE_URL", api.base_url)
        monkeypatch.chdir(tmp_path)
        # The first example names a job id literally: the fake's first failed job.
        code = code.replace("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e", str(api.seeded[0]))
        namespace: dict[str, Any] = {
            "httpx": httpx,
            "job_id": api.seeded[1],
            "job_ids": api.seeded[2:],
            "an_hour_ago": datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1),
            "log_request": lambda request: None,
        }
        from writer_jobs import JobStatus

        # What the first example imported, as a reader reading on would have.
        namespace |= {"JobStatus": JobStatus, "JobsClient": JobsClient}
        with JobsClient() as client:
            namespace["client"] = client
            if "await " in code or "async " in code:
                body = textwrap.indent(code, "    ")
                exec(f"async def _example():\n{body}", namespace)  # noqa: S102 - the README
                asyncio.run(namespace["_example"]())
            else:
                exec(code, namespace)  # noqa: S102 - the README's own example
