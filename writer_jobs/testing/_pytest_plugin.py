"""The ``fake_writer`` pytest fixture, registered when writer-jobs is installed.

Imports nothing heavy at collection time: Starlette and uvicorn (the ``server``
extra) are loaded only by a test that uses the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ._server import FakeWriterAPI


@pytest.fixture
def fake_writer() -> Iterator[FakeWriterAPI]:
    """A running FakeWriterAPI (no failed jobs, jobs finish after 0.2 s); use
    ``fake_writer.seed_failed(n)``, ``fake_writer.fail_next(...)`` and
    ``fake_writer.log`` in the test."""
    from ._server import FakeWriterAPI

    with FakeWriterAPI(delay=0.2) as api:
        yield api
