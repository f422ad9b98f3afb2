"""The ``fake_writer`` pytest fixture, registered when writer-jobs is installed.

It lives outside ``writer_jobs.testing`` so that loading the plugin imports nothing
heavy: Starlette and uvicorn (the ``server`` extra) are loaded only by a test that
uses the fixture, and a project without that extra still runs pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import FakeWriterAPI


@pytest.fixture
def fake_writer() -> Iterator[FakeWriterAPI]:
    """A running FakeWriterAPI (no failed jobs, jobs finish after 0.2 s); use
    ``fake_writer.seed_failed(n)``, ``fake_writer.fail_next(...)`` and
    ``fake_writer.log`` in the test."""
    from .testing import FakeWriterAPI

    with FakeWriterAPI(delay=0.2) as api:
        yield api
