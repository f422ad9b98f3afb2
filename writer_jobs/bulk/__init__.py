"""The bulk layer, above the core: retry every failed job of an application
(``retry_failed``) and watch many jobs finish (``wait_many``).

A run is planned once (``_plan``: listing passes, work, watch rounds) and carried out by
a thread driver (``_sync``, ``JobsClient``) or a task driver (``_async``,
``AsyncJobsClient``), each running the engine's flows through the core client it
extends. ``_hold``: bulk work's policy through 429s and outages (``_availability``:
whether the service answers), the one object the core is handed. ``_run`` holds one
run's state, ``_job`` one job's retry, ``_journal`` the journal and the run lock,
``_watcher`` the list-page rounds, ``_selection`` and ``_outcome`` what a run is given
and what it reports. The core never imports this package (``make lint``).
"""

from ._async import AsyncJobsClient
from ._hold import DEFAULT_MAX_UNAVAILABLE
from ._outcome import BulkProgress, BulkSummary, JobOutcome, Outcome
from ._plan import RetryFailedOptions
from ._selection import Selection
from ._sync import JobsClient

__all__ = [
    "DEFAULT_MAX_UNAVAILABLE",
    "AsyncJobsClient",
    "BulkProgress",
    "BulkSummary",
    "JobOutcome",
    "JobsClient",
    "Outcome",
    "RetryFailedOptions",
    "Selection",
]
