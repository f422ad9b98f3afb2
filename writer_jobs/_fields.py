"""Reading a job's optional fields plainly.

A generated model keeps what the server said apart: ``UNSET`` (the field was not sent,
e.g. ``error`` on a completed job), ``None`` (it was sent as ``null``) and a value.
Most reads do not care which of the first two it was; these say "no value" as None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from writer_jobs._generated.types import Unset

if TYPE_CHECKING:
    from writer_jobs._generated.models import JobDetails

T = TypeVar("T")


def or_none(value: T | Unset | None) -> T | None:
    """``value``, or None when the server did not send the field (``UNSET``) or sent null.

    >>> or_none(done.error)        # a completed job: None, not UNSET
    """
    return None if isinstance(value, Unset) else value


def result_text(job: JobDetails) -> str | None:
    """The text a completed job produced (``job.data.suggestion``); None while the job
    has no result (not completed, or the server sent none)."""
    data = or_none(job.data)
    return None if data is None else data.suggestion
