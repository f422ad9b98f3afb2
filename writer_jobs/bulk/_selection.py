"""Which failed jobs a run retries, chosen before any POST and kept by its resumes."""

from __future__ import annotations

import datetime
import re
from typing import Any

import attrs

from generated_client.models import JobDetails

from .._exceptions import InvalidArgumentError
from .._parse import as_utc, epoch


@attrs.frozen
class Selection:
    """Which failed jobs a run retries: failed (``updated_at``) at or after
    ``failed_since`` and before ``failed_before``, with an error matching the regular
    expression ``error_matches`` (searched), at most ``limit`` of them (counting the
    jobs an earlier run of the same journal took). A job whose listing lacks what a
    criterion needs is not selected. Recorded in the journal: a resume keeps it."""

    failed_since: datetime.datetime | None = None
    failed_before: datetime.datetime | None = None
    error_matches: str | None = None
    limit: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.error_matches is not None:
            try:
                re.compile(self.error_matches)
            except re.error as exc:
                raise InvalidArgumentError(
                    f"error_matches is not a regular expression ({exc}), "
                    f"received {self.error_matches!r}"
                ) from None
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise InvalidArgumentError(f"limit must be >= 1, received {self.limit!r}")
        for name in ("failed_since", "failed_before"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, datetime.datetime):
                raise InvalidArgumentError(
                    f"{name} must be a datetime, received {type(value).__name__}: {value!r}"
                )

    def matches(self, job: JobDetails) -> bool:
        updated = epoch(job.updated_at)
        for bound, after in ((self.failed_since, True), (self.failed_before, False)):
            if bound is not None:
                limit = epoch(bound)
                if updated is None or limit is None or (updated < limit) == after:
                    return False
        if self.error_matches is None:
            return True
        return isinstance(job.error, str) and re.search(self.error_matches, job.error) is not None

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self, value_serializer=_iso_value)
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Selection | None:
        if not data:
            return None
        times = {
            k: datetime.datetime.fromisoformat(data[k])
            for k in ("failed_since", "failed_before")
            if data.get(k)
        }
        return cls(**{**data, **times})


def _iso_value(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return as_utc(value).isoformat()
    return value
