"""The Python examples of the README and of the guide (docs/*.md), run against the fake
(WRITER_BASE_URL points there): each block in a fresh namespace and folder, with the few
names the prose assumes."""

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

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = {
    f"{page.name}-{number}": code
    for page in PAGES
    for number, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
}


def test_the_readme_and_the_guide_have_examples() -> None:
    assert sum(name.startswith("README.md") for name in BLOCKS) >= 2
    assert len(BLOCKS) >= 13


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_an_example_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = BLOCKS[name]
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
