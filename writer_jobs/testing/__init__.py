"""Testing helpers: a fake Writer jobs API served on 127.0.0.1.

Needs the ``server`` extra (``pip install 'writer-jobs[server]'``).

    from writer_jobs import JobsClient
    from writer_jobs.testing import FakeWriterAPI

    with FakeWriterAPI(seed_failed=10) as api, JobsClient(api.api_key, base_url=api.base_url) as c:
        summary = c.retry_failed(api.application_id)

With pytest, the ``fake_writer`` fixture gives a running one per test.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        "writer_jobs.testing needs the 'server' extra: pip install 'writer-jobs[server]'"
    ) from exc

from ._app import LogEntry
from ._conditions import OtherConsumer, OtherCreator, Outage
from ._faults import Faults
from ._server import DEFAULT_KEY, FakeWriterAPI
from ._store import FakeJob, JobStore, StoreError

__all__ = [
    "DEFAULT_KEY",
    "FakeJob",
    "FakeWriterAPI",
    "Faults",
    "JobStore",
    "LogEntry",
    "OtherConsumer",
    "OtherCreator",
    "Outage",
    "StoreError",
]
