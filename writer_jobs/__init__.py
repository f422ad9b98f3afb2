"""writer-jobs: a typed, retry-safe client for the Writer async jobs API.

    from writer_jobs import JobsClient, JobStatus

    with JobsClient() as client:          # WRITER_API_KEY, WRITER_BASE_URL
        job = client.retry("182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e")
        done = client.wait(job.id, deadline=600)
        print(done.status, result_text(done))   # or_none(done.error) for a failed one

``Job``, ``JobDetails`` and ``JobStatus`` are the classes generated from
openapi.yaml, under readable names. Every error is a ``WriterJobsError`` (the tree
is in ``writer_jobs._exceptions``, which imports nothing heavy).

The clients and models are loaded on first use (PEP 562): ``import writer_jobs``
costs almost nothing, and a script or CLI pays for httpx only when it makes a client.

Three layers (README, "How it is built"), each importing only those below it. The
core, single calls and what every call needs: _exceptions -> _validation -> _config ->
_parse -> _budget -> _engine (calls, retries, polling, paging; no I/O) ->
_exactly_once (the timestamp proof) -> _transports (httpx) -> _base (settings, the
budget's queue, the one admission path) -> _client, _async_client; _fields (reading
optional fields) stands apart. Above it, bulk/ (retry_failed, wait_many, their policy
through 429s and outages, the journal and the run lock; JobsClient and AsyncJobsClient
are defined there, the single-call clients plus those two methods). Above both, the
CLI and the fake server (testing/).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _exceptions
from ._exceptions import *  # noqa: F403 - the exception tree, named once, in its module
from ._version import __version__

_LAZY = {
    **dict.fromkeys(
        (
            "JobsClient",
            "AsyncJobsClient",
            "BulkSummary",
            "BulkProgress",
            "JobOutcome",
            "Outcome",
            "Selection",
            "BatchSummary",
            "BatchProgress",
            "RowResult",
        ),
        "writer_jobs.bulk",
    ),
    **dict.fromkeys(
        ("Job", "JobDetails", "JobInput", "JobResult", "JobStatus"), "writer_jobs._generated.models"
    ),
    # Optional fields the server did not send are UNSET: narrow with isinstance(x, Unset),
    # or read them with or_none() (UNSET and null both as None).
    **dict.fromkeys(("UNSET", "Unset"), "writer_jobs._generated.types"),
    **dict.fromkeys(("or_none", "result_text"), "writer_jobs._fields"),
}

__all__ = ["__version__", *_LAZY]  # noqa: PLE0604 - names resolved on first use
__all__ += _exceptions.__all__


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'writer_jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)


if TYPE_CHECKING:  # what type checkers see of the lazy names (re-exported: "as")
    from writer_jobs._generated.models import Job as Job
    from writer_jobs._generated.models import JobDetails as JobDetails
    from writer_jobs._generated.models import JobInput as JobInput
    from writer_jobs._generated.models import JobResult as JobResult
    from writer_jobs._generated.models import JobStatus as JobStatus
    from writer_jobs._generated.types import UNSET as UNSET
    from writer_jobs._generated.types import Unset as Unset

    from ._fields import or_none as or_none
    from ._fields import result_text as result_text
    from .bulk import AsyncJobsClient as AsyncJobsClient
    from .bulk import BatchProgress as BatchProgress
    from .bulk import BatchSummary as BatchSummary
    from .bulk import BulkProgress as BulkProgress
    from .bulk import BulkSummary as BulkSummary
    from .bulk import JobOutcome as JobOutcome
    from .bulk import JobsClient as JobsClient
    from .bulk import Outcome as Outcome
    from .bulk import RowResult as RowResult
    from .bulk import Selection as Selection
