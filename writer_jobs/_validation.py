"""Checks on user input, done before any network I/O.

Every check raises InvalidArgumentError (a ValueError) saying what was wrong and
what was received (shortened with repr, so control characters stay visible).
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from writer_jobs._generated.models import JobInput, JobStatus

from ._exceptions import InvalidArgumentError

MAX_APPLICATION_ID_LENGTH = 256
MAX_INPUT_NAME_LENGTH = 256
T = TypeVar("T")


def shorten(value: Any, limit: int = 80) -> str:
    """repr() of a value, cut to ``limit`` characters for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def job_id(value: object, *, name: str = "job_id") -> uuid.UUID:
    """A job id: a UUID, or a string holding one (any form uuid.UUID reads)."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{name} must be a UUID or a str holding one, received {type(value).__name__}: "
            f"{shorten(value)}"
        )
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgumentError(
            f"{name} must be a UUID such as '182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e', "
            f"received {shorten(value)}"
        ) from None


def application_id(value: object) -> str:
    """An application id or alias: a non-empty path segment, never one that could
    climb or split the URL path."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"application_id must be a str, received {type(value).__name__}: {shorten(value)}"
        )
    problem = None
    if not value.strip():
        problem = "must not be empty or blank"
    elif len(value) > MAX_APPLICATION_ID_LENGTH:
        problem = f"is longer than {MAX_APPLICATION_ID_LENGTH} characters ({len(value)})"
    elif "/" in value or "\\" in value:
        problem = "must not contain '/' or '\\'"
    elif value in {".", ".."}:
        problem = "must not be '.' or '..'"
    elif any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in value):
        problem = "must not contain control or invisible format characters"
    if problem:
        raise InvalidArgumentError(f"application_id {problem}, received {shorten(value)}")
    return value


def number(value: object, *, name: str) -> float:
    """A finite number >= 0 (seconds, or a rate)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"{name} must be a number, received {type(value).__name__}: {shorten(value)}"
        )
    if not math.isfinite(value) or value < 0:
        raise InvalidArgumentError(f"{name} must be a finite number >= 0, received {value!r}")
    return float(value)


def timeout_seconds(value: object, *, name: str = "timeout") -> float | None:
    """A duration in seconds: None (no limit) or a finite number >= 0."""
    return None if value is None else number(value, name=f"{name} (seconds or None)")


def positive_int(value: object, *, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An int within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{name} must be an int, received {type(value).__name__}: {shorten(value)}"
        )
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and <= {maximum}" if maximum is not None else ""
        raise InvalidArgumentError(f"{name} must be >= {minimum}{upper}, received {value}")
    return value


def job_status(value: object) -> JobStatus:
    """A JobStatus the spec lists, or one of its string values: requests are closed
    (JobStatus itself is open, to read what a newer server sends)."""
    if isinstance(value, str) and value in JobStatus._value2member_map_:
        return JobStatus(value)
    allowed = ", ".join(s.value for s in JobStatus)
    raise InvalidArgumentError(f"status must be one of {allowed}, received {shorten(value)}")


def inputs(value: object) -> list[JobInput]:
    """``inputs`` for create: a mapping of input name to a str or a sequence of str."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            "inputs must be a mapping of input name to a str or a list of str, "
            f"received {type(value).__name__}: {shorten(value)}"
        )
    if not value:
        raise InvalidArgumentError("inputs must name at least one input, received {}")
    result: list[JobInput] = []
    for key, raw in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_INPUT_NAME_LENGTH:
            raise InvalidArgumentError(
                "each input name must be a non-empty str of at most "
                f"{MAX_INPUT_NAME_LENGTH} characters, received {shorten(key)}"
            )
        if isinstance(raw, str):
            values = [raw]
        elif isinstance(raw, Sequence) and not isinstance(raw, bytes | bytearray):
            values = list(raw)
        else:
            raise InvalidArgumentError(
                f"input {key!r} must be a str or a list of str, "
                f"received {type(raw).__name__}: {shorten(raw)}"
            )
        for item in values:
            if not isinstance(item, str):
                raise InvalidArgumentError(
                    f"input {key!r} must hold only str values, "
                    f"received {type(item).__name__}: {shorten(item)}"
                )
        result.append(JobInput(id=key, value=values))
    return result


def instance(value: T | None, cls: type[T], *, name: str) -> T | None:
    """None, or an instance of ``cls``."""
    if value is not None and not isinstance(value, cls):
        raise InvalidArgumentError(
            f"{name} must be a {cls.__name__} or None, received {type(value).__name__}"
        )
    return value
