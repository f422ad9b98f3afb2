"""Turning responses into generated models or typed errors (no I/O).

A 2xx body is checked by the validator compiled from openapi.yaml
(generated_client/response_checks, made by generate.sh), then read by the
generated ``from_dict``. A body that breaks the spec becomes a
ResponseValidationError naming the JSON path and the value received, never a
bare KeyError/ValueError. Enums are open and unknown fields are kept.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import math
import time
from typing import Any, TypeVar

import httpx

from writer_jobs._generated.models import ErrorBody
from writer_jobs._generated.response_checks import CHECKS, JsonSchemaValueException
from writer_jobs._generated.types import Unset

from ._exceptions import APIStatusError, ResponseValidationError, status_error_class
from ._validation import shorten

M = TypeVar("M")

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-writer-request-id")
_JSON_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
_JSON_TYPES |= {"object": "JSON object", "array": "list", "null": "null"}


def _raw_text(response: httpx.Response, limit: int = 200) -> str:
    text = response.content[:limit].decode("utf-8", "replace")
    return shorten(text, limit + 20)


def _problem(exc: JsonSchemaValueException) -> tuple[str, str, Any]:
    """(message, JSON path, value) for what a compiled check refused."""
    path = (exc.name or "data").removeprefix("data").lstrip(".")
    value, rule, wanted = exc.value, exc.rule, exc.rule_definition
    if rule == "required" and isinstance(value, dict):
        missing = next((k for k in wanted if k not in value), "?")
        field = f"{path}.{missing}" if path else missing
        return f"required field {field!r} is missing", field, None
    if rule == "type":
        wanted = wanted if isinstance(wanted, list) else [wanted]
        names = [_JSON_TYPES.get(t, str(t)) for t in wanted]
        got = type(value).__name__
        return (
            f"field {path!r} must be a {' or '.join(names)}, received {got}: {shorten(value)}",
            path,
            value,
        )
    if rule == "format":
        return f"field {path!r} must be a {wanted} string, received {shorten(value)}", path, value
    return f"field {path!r} is invalid ({exc.message}), received {shorten(value)}", path, value


def parse_model(cls: type[M], response: httpx.Response, *, method: str, url: str) -> M:
    """A 2xx body as the generated model ``cls``, or ResponseValidationError."""

    def invalid(
        problem: str, field: str | None = None, value: Any = None
    ) -> ResponseValidationError:
        return ResponseValidationError(
            f"{method} {url} -> {response.status_code}: the response breaks the spec: {problem}",
            method=method,
            url=url,
            response=response,
            field=field,
            value=value,
        )

    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        content_type = response.headers.get("content-type", "no content-type")
        if not response.content:
            raise invalid(f"the body is empty ({content_type})") from None
        raise invalid(
            f"the body is not JSON ({content_type}), received {_raw_text(response)}"
        ) from None
    if not isinstance(data, dict):
        raise invalid(f"expected a JSON object, received {type(data).__name__}: {shorten(data)}")
    check, check_formats = CHECKS[cls.__name__]
    try:
        check(data)
        return cls.from_dict(data)  # type: ignore[attr-defined,no-any-return]
    except JsonSchemaValueException as exc:
        raise invalid(*_problem(exc)) from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:  # a bad uuid/date-time
        try:
            check_formats(data)
        except JsonSchemaValueException as named:
            raise invalid(*_problem(named)) from None
        raise invalid(f"{type(exc).__name__}: {exc}") from None


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``Retry-After``
    (seconds or an HTTP-date). None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        with contextlib.suppress(ValueError):
            ms = float(raw_ms)
            if ms >= 0 and math.isfinite(ms):
                return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(raw)
        return seconds if 0 <= seconds < float("inf") else None
    when = http_date(raw)
    return None if when is None else max(0.0, when - time.time())


def http_date(raw: str | None) -> float | None:
    """An HTTP-date (epoch seconds); None if absent or unreadable (a year past 9999)."""
    if not raw:
        return None
    try:
        # The asctime form ("Sun Nov 29 05:00:00 2026") has no zone: GMT by RFC 9110.
        return as_utc(email.utils.parsedate_to_datetime(raw)).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def as_utc(moment: datetime.datetime) -> datetime.datetime:
    """A datetime with its zone; a naive one (a server's, a user's) is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def epoch(value: datetime.datetime | Unset | None) -> float | None:
    """A server timestamp as epoch seconds (a naive one is read as UTC); None if absent."""
    return as_utc(value).timestamp() if isinstance(value, datetime.datetime) else None


def request_id(headers: httpx.Headers) -> str | None:
    """The server's request id, under any of the usual header names."""
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


#: What stands in an error's text for the API key a server echoed back.
REDACTED = "[redacted API key]"


def _sent_key(response: httpx.Response) -> str | None:
    """The key the request went with (None: none, or too short to find safely)."""
    try:
        auth: str = response.request.headers.get("authorization", "")
    except RuntimeError:  # a response built without its request
        return None
    key = auth.removeprefix("Bearer ").strip()
    return key if len(key) >= 8 else None


def _redacted(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return value.replace(key, REDACTED)
    if isinstance(value, dict):
        return {k: _redacted(v, key) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, key) for v in value]
    return value


def status_error(
    response: httpx.Response, *, method: str, url: str, attempts: int, note: str = ""
) -> APIStatusError:
    """The typed error for a non-2xx response, with Writer's error body parsed when it has one."""
    status = response.status_code
    error_type = error_key = None
    descriptions: tuple[str, ...] = ()
    body: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = json.loads(response.content) if response.content else None
    if isinstance(body, dict):
        try:
            parsed = ErrorBody.from_dict(body)
            error_type = parsed.tpe if isinstance(parsed.tpe, str) else None
            details = parsed.errors if isinstance(parsed.errors, list) else []
            keys = [d.key for d in details if isinstance(d.key, str)]
            error_key = keys[0] if keys else None
            descriptions = tuple(d.description for d in details if isinstance(d.description, str))
        except (KeyError, ValueError, TypeError, AttributeError):
            tpe = body.get("tpe")
            error_type = tpe if isinstance(tpe, str) else None
    summary = error_type or response.reason_phrase or "error"
    text = f"{method} {url} -> {status} {summary}"
    if error_key:
        text += f" ({error_key})"
    if descriptions:
        text += ": " + "; ".join(descriptions)
    elif body is None and response.content:
        text += f": {_raw_text(response)}"
    if 300 <= status < 400:
        location = response.headers.get("location", "no Location header")
        text += f": redirect to {shorten(location)} not followed (redirects are never followed)"
    rid = request_id(response.headers)
    if rid:
        text += f" [request id {rid}]"
    retry_after = parse_retry_after(response.headers) if status in (429, 503) else None
    if retry_after is not None:
        text += f" (server asked to retry after {retry_after:.3g} s)"
    if attempts > 1:
        text += f" (after {attempts} attempts)"
    if note:
        text += f"; {note}"
    key = _sent_key(response)
    if key is not None:  # a gateway echoing the request back must not print the key
        text = text.replace(key, REDACTED)
        error_type = None if error_type is None else error_type.replace(key, REDACTED)
        descriptions = tuple(d.replace(key, REDACTED) for d in descriptions)
        body = _redacted(body, key)
    return status_error_class(status)(
        text,
        method=method,
        url=url,
        response=response,
        error_type=error_type,
        error_key=error_key,
        error_descriptions=descriptions,
        error_body=body,
        request_id=rid,
        retry_after=retry_after,
        attempts=attempts,
    )
