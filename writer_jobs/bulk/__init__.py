"""The bulk layer, above the core: retry every failed job of an application
(``retry_failed``), watch many jobs finish (``wait_many``) and run a job per input row
(``batch``).

A run is planned once (``_plan``: listing passes, work, watch rounds) and carried out by
a thread driver (``_sync``, ``JobsClient``) or a task driver (``_async``,
``AsyncJobsClient``), each running the engine's flows through the core client it
extends. ``_hold``: bulk work's policy through 429s and outages (``_availability``:
whether the service answers), the one object the core is handed. ``_run`` holds one
run's state, ``_job`` one job's retry, ``_journal`` the journal and the run lock,
``_watcher`` the list-page rounds, ``_selection`` and ``_outcome`` what a run is given
and what it reports. A batch (``_batch``: a job per input row) is a run of the same
engine that starts at the create step, with its rows and results (``_rows``), journal
(``_batch_journal``) and lost-create proof (``_batch_proof``). The core never imports
this package (``make lint``).
"""

from ._async import AsyncJobsClient
from ._batch import BatchProgress, BatchSummary
from ._hold import DEFAULT_MAX_UNAVAILABLE
from ._outcome import BulkProgress, BulkSummary, JobOutcome, Outcome
from ._plan import RetryFailedOptions
from ._rows import RowResult
from ._selection import Selection
from ._sync import JobsClient

__all__ = [
    "DEFAULT_MAX_UNAVAILABLE",
    "AsyncJobsClient",
    "BatchProgress",
    "BatchSummary",
    "BulkProgress",
    "BulkSummary",
    "JobOutcome",
    "JobsClient",
    "Outcome",
    "RetryFailedOptions",
    "RowResult",
    "Selection",
]
