"""Testing helpers: a fake Writer jobs API served on 127.0.0.1.

Needs the ``server`` extra (from a clone: ``pip install '.[server]'``).

    from writer_jobs import JobsClient
    from writer_jobs.testing import FakeWriterAPI

    with FakeWriterAPI(seed_failed=10) as api, JobsClient(api.api_key, base_url=api.base_url) as c:
        summary = c.retry_failed(api.application_id)

With pytest, the ``fake_writer`` fixture gives a running one per test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The fake's names, loaded on first use: `writer-jobs serve` registers itself
#: (``_serve``) without the ``server`` extra, which only running the fake needs.
_LAZY = {
    "LogEntry": "._app",
    "OtherConsumer": "._conditions",
    "OtherCreator": "._conditions",
    "Outage": "._conditions",
    "Faults": "._faults",
    "DEFAULT_KEY": "._server",
    "FakeWriterAPI": "._server",
    "FakeJob": "._store",
    "JobStore": "._store",
    "StoreError": "._store",
}

__all__ = [  # noqa: PLE0604 - names resolved on first use
    *_LAZY
]


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'writer_jobs.testing' has no attribute {name!r}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError(
            "writer_jobs.testing needs the 'server' extra: from a clone of writer-jobs, "
            "pip install '.[server]'"
        ) from exc
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:
    from ._app import LogEntry as LogEntry
    from ._conditions import OtherConsumer as OtherConsumer
    from ._conditions import OtherCreator as OtherCreator
    from ._conditions import Outage as Outage
    from ._faults import Faults as Faults
    from ._server import DEFAULT_KEY as DEFAULT_KEY
    from ._server import FakeWriterAPI as FakeWriterAPI
    from ._store import FakeJob as FakeJob
    from ._store import JobStore as JobStore
    from ._store import StoreError as StoreError
