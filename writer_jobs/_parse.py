"""Turning responses into generated models or typed errors (no I/O).

Parsing is the generated ``from_dict``; on top of it only what the generated
code does not check: that every field has the type the spec gives it. A body
that breaks the spec becomes a ResponseValidationError naming the field and
the value received, never a bare KeyError/ValueError.
"""

from __future__ import annotations

import datetime
import email.utils
import enum
import functools
import json
import linecache
import math
import re
import time
import types
import typing
import uuid
from typing import Any, Protocol, TypeVar

import attrs
import httpx

import generated_client.models as generated_models
from generated_client.models import ErrorBody
from generated_client.types import Unset

from ._exceptions import APIStatusError, ResponseValidationError, status_error_class
from ._validation import shorten


class Model(Protocol):
    """What every generated attrs model provides."""

    @classmethod
    def from_dict(cls, src_dict: typing.Mapping[str, Any]) -> Any: ...

    def to_dict(self) -> dict[str, Any]: ...


M = TypeVar("M")

_GENERATED_MODELS = "generated_client.models"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-writer-request-id")


def _location(method: str, url: str) -> str:
    return f"{method} {url}"


@attrs.frozen
class _Field:
    """One field of a generated model, compiled once for checking bodies quickly."""

    name: str
    keys: tuple[str, ...]  # its JSON name(s): the attribute name, or its camelCase
    declared: Any  # the annotation, for messages
    types: tuple[type, ...]  # what isinstance must accept (Unset excluded)
    optional: bool
    is_list: bool
    nested: Any  # the generated model it holds (itself or as list items), or None
    no_bool: bool  # an int field: bool is an int to isinstance, not to the spec


@functools.cache
def _checked(cls: Any) -> tuple[_Field, ...]:
    """The fields whose type from_dict does not already guarantee: it builds UUIDs,
    datetimes, enums and nested models itself, and passes everything else through."""
    built = (uuid.UUID, datetime.datetime, enum.Enum)
    return tuple(
        f
        for f in _plan(cls)
        if f.nested is not None
        or f.is_list
        or not all(isinstance(t, type) and issubclass(t, built) for t in f.types)
    )


@functools.cache
def _nullable(cls: Any) -> tuple[_Field, ...]:
    """The fields where a null may need dropping: optional ones and nested models."""
    return tuple(f for f in _plan(cls) if f.optional or f.nested is not None)


@functools.cache
def _plan(cls: Any) -> tuple[_Field, ...]:
    # Generated models import each other under TYPE_CHECKING: resolve names among them.
    hints = typing.get_type_hints(cls, localns=vars(generated_models))
    plan = []
    for f in attrs.fields(cls):
        if f.name == "additional_properties":
            continue
        declared = hints[f.name]
        args = (
            typing.get_args(declared)
            if typing.get_origin(declared) in (typing.Union, types.UnionType)
            else (declared,)
        )
        optional = Unset in args
        args = tuple(a for a in args if a is not Unset)
        is_list = any(typing.get_origin(a) is list for a in args)
        if is_list:
            args = tuple(typing.get_args(a)[0] if typing.get_origin(a) is list else a for a in args)
        accepted = tuple(typing.get_origin(a) or a for a in args)
        if float in accepted:
            accepted = (*accepted, int)
        nested = next((a for a in args if attrs.has(a)), None)
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name)
        plan.append(
            _Field(
                f.name,
                (f.name,) if camel == f.name else (f.name, camel),
                declared,
                tuple(a for a in accepted if isinstance(a, type)),
                optional,
                is_list,
                nested,
                int in accepted and bool not in accepted,
            )
        )
    return tuple(plan)


def _drop_null_optionals(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the nulls the spec does not allow on optional fields.

    Writer's own examples send ``"error": null``; the spec says "a string, or
    absent". Reading null as absent keeps such bodies usable; nulls on required
    fields are still reported.
    """
    out = data
    for field in _nullable(cls):
        key = next((k for k in field.keys if k in data), None)
        if key is None:
            continue
        value = data[key]
        if value is None and field.optional:
            if out is data:
                out = dict(data)
            del out[key]
            continue
        if field.nested is None:
            continue
        if isinstance(value, dict):
            cleaned: Any = _drop_null_optionals(field.nested, value)
        elif isinstance(value, list):
            cleaned = [
                _drop_null_optionals(field.nested, v) if isinstance(v, dict) else v for v in value
            ]
        else:
            continue
        if cleaned is not value and cleaned != value:
            if out is data:
                out = dict(data)
            out[key] = cleaned
    return out


def _value_ok(value: Any, field: _Field) -> bool:
    return isinstance(value, field.types) and not (field.no_bool and isinstance(value, bool))


def _check_types(obj: Any, path: str) -> tuple[str, Any, Any] | None:
    """First field whose value breaks its declared type, as (path, value, type)."""
    model: Any = type(obj)
    for field in _checked(model):
        value = getattr(obj, field.name)
        if field.optional and isinstance(value, Unset):
            continue
        items = value if field.is_list and isinstance(value, list) else None
        if field.is_list and items is None:
            return f"{path}{field.name}", value, field.declared
        for index, item in enumerate(items if items is not None else (value,)):
            if not _value_ok(item, field):
                where = f"{path}{field.name}" + (f"[{index}]" if items is not None else "")
                return where, item, field.declared
            if field.nested is not None:
                where = f"{path}{field.name}" + (f"[{index}]." if items is not None else ".")
                found = _check_types(item, where)
                if found:
                    return found
    return None


def _type_name(expected: Any) -> str:
    args = [a for a in typing.get_args(expected) if a is not Unset] or [expected]
    names = []
    for arg in args:
        if arg is datetime.datetime:
            names.append("date-time string")
        elif arg is uuid.UUID:
            names.append("UUID string")
        elif isinstance(arg, type) and issubclass(arg, enum.Enum):
            names.append("one of " + ", ".join(repr(m.value) for m in arg))
        else:
            names.append(getattr(arg, "__name__", str(arg)))
    return " or ".join(names)


def _diagnose(exc: BaseException) -> tuple[str | None, Any]:
    """Which field a generated from_dict failed on, read off the traceback.

    Each generated line that reads a field names it (``status = JobStatus(d.pop("status"))``);
    the innermost such frame, with the frames of the models around it, gives the path.
    """
    path: list[str] = []
    value: Any = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_globals.get("__name__", "").startswith(_GENERATED_MODELS):
            cls: Any = frame.f_locals.get("cls")
            line = linecache.getline(frame.f_code.co_filename, tb.tb_lineno)
            fields = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
            for token in _IDENT.findall(line):
                name = token.lstrip("_")
                match = next((f for f in fields if name == f or name.startswith(f + "_")), None)
                if match:
                    path.append(match)
                    src = frame.f_locals.get("src_dict")
                    value = src.get(match) if isinstance(src, typing.Mapping) else None
                    break
        tb = tb.tb_next
    return (".".join(path) or None), value


def _raw_text(response: httpx.Response, limit: int = 200) -> str:
    text = response.content[:limit].decode("utf-8", "replace")
    return shorten(text, limit + 20)


def parse_model(cls: type[M], response: httpx.Response, *, method: str, url: str) -> M:
    """A 2xx body as the generated model ``cls``, or ResponseValidationError."""
    where = _location(method, url)

    def invalid(
        problem: str, field: str | None = None, value: Any = None
    ) -> ResponseValidationError:
        return ResponseValidationError(
            f"{where} -> {response.status_code}: the response breaks the API spec: {problem}",
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
    model_cls: Any = cls
    try:
        obj = model_cls.from_dict(_drop_null_optionals(model_cls, data))
    except KeyError as exc:
        field, _ = _diagnose(exc)
        missing = field or str(exc.args[0] if exc.args else exc)
        raise invalid(f"required field {missing!r} is missing", missing) from None
    except (ValueError, TypeError, AttributeError) as exc:
        field, value = _diagnose(exc)
        if field is None:
            raise invalid(f"{type(exc).__name__}: {exc}") from None
        raise invalid(
            f"field {field!r} has an invalid value {shorten(value)} ({exc})", field, value
        ) from None
    found = _check_types(obj, "")
    if found:
        field, value, expected = found
        raise invalid(
            f"field {field!r} must be a {_type_name(expected)}, received "
            f"{type(value).__name__}: {shorten(value)}",
            field,
            value,
        )
    return typing.cast(M, obj)


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, else ``Retry-After``
    (seconds or an HTTP-date). None when absent or unreadable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
            if ms >= 0 and math.isfinite(ms):
                return ms / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
        return seconds if 0 <= seconds < float("inf") else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def request_id(headers: httpx.Headers) -> str | None:
    """The server's request id, under any of the usual header names."""
    for name in REQUEST_ID_HEADERS:
        value: str | None = headers.get(name)
        if value:
            return value
    return None


def status_error(
    response: httpx.Response, *, method: str, url: str, attempts: int, note: str = ""
) -> APIStatusError:
    """The typed error for a non-2xx response, with Writer's error body parsed when it has one."""
    status = response.status_code
    error_type = error_key = None
    descriptions: tuple[str, ...] = ()
    body: Any = None
    try:
        body = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
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
