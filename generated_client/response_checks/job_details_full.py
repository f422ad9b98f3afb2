"""Check a JobDetails body (get_async_application_job_response in openapi.yaml, formats too). Generated: do not edit."""

VERSION = "2.22.3"
import re

from . import JsonSchemaValueException

REGEX_PATTERNS = {
    "uuid_re_pattern": re.compile(
        "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\\Z"
    ),
    "date-time_re_pattern": re.compile(
        "^(?:\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))|(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:[+-](?:[01]\\d|2[0-3]):?[0-5]\\d|Z)\\Z"
    ),
}

NoneType = type(None)


def validate(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException(
            "" + (name_prefix or "data") + " must be object",
            value=data,
            name="" + (name_prefix or "data") + "",
            definition={
                "required": ["id", "status", "application_id", "created_at"],
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"type": "string"},
                    "application_id": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                    "completed_at": {"type": "string", "format": "date-time"},
                    "data": {
                        "required": ["suggestion"],
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "suggestion": {"type": "string"},
                        },
                    },
                    "error": {"type": ["string", "null"]},
                },
            },
            rule="type",
        )
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = (
            set(["id", "status", "application_id", "created_at"]) - data.keys()
        )
        if data__missing_keys:
            raise JsonSchemaValueException(
                ""
                + (name_prefix or "data")
                + " must contain "
                + (str(sorted(data__missing_keys)) + " properties"),
                value=data,
                name="" + (name_prefix or "data") + "",
                definition={
                    "required": ["id", "status", "application_id", "created_at"],
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"type": "string"},
                        "application_id": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"},
                        "completed_at": {"type": "string", "format": "date-time"},
                        "data": {
                            "required": ["suggestion"],
                            "type": "object",
                            "properties": {
                                "title": {"type": "string"},
                                "suggestion": {"type": "string"},
                            },
                        },
                        "error": {"type": ["string", "null"]},
                    },
                },
                rule="required",
            )
        data_keys = set(data.keys())
        if "id" in data_keys:
            data_keys.remove("id")
            data__id = data["id"]
            if not isinstance(data__id, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".id must be string",
                    value=data__id,
                    name="" + (name_prefix or "data") + ".id",
                    definition={"type": "string", "format": "uuid"},
                    rule="type",
                )
            if isinstance(data__id, str):
                if not REGEX_PATTERNS["uuid_re_pattern"].match(data__id):
                    raise JsonSchemaValueException(
                        "" + (name_prefix or "data") + ".id must be uuid",
                        value=data__id,
                        name="" + (name_prefix or "data") + ".id",
                        definition={"type": "string", "format": "uuid"},
                        rule="format",
                    )
        if "status" in data_keys:
            data_keys.remove("status")
            data__status = data["status"]
            if not isinstance(data__status, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".status must be string",
                    value=data__status,
                    name="" + (name_prefix or "data") + ".status",
                    definition={"type": "string"},
                    rule="type",
                )
        if "application_id" in data_keys:
            data_keys.remove("application_id")
            data__applicationid = data["application_id"]
            if not isinstance(data__applicationid, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".application_id must be string",
                    value=data__applicationid,
                    name="" + (name_prefix or "data") + ".application_id",
                    definition={"type": "string"},
                    rule="type",
                )
        if "created_at" in data_keys:
            data_keys.remove("created_at")
            data__createdat = data["created_at"]
            if not isinstance(data__createdat, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".created_at must be string",
                    value=data__createdat,
                    name="" + (name_prefix or "data") + ".created_at",
                    definition={"type": "string", "format": "date-time"},
                    rule="type",
                )
            if isinstance(data__createdat, str):
                if not REGEX_PATTERNS["date-time_re_pattern"].match(data__createdat):
                    raise JsonSchemaValueException(
                        "" + (name_prefix or "data") + ".created_at must be date-time",
                        value=data__createdat,
                        name="" + (name_prefix or "data") + ".created_at",
                        definition={"type": "string", "format": "date-time"},
                        rule="format",
                    )
        if "updated_at" in data_keys:
            data_keys.remove("updated_at")
            data__updatedat = data["updated_at"]
            if not isinstance(data__updatedat, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".updated_at must be string",
                    value=data__updatedat,
                    name="" + (name_prefix or "data") + ".updated_at",
                    definition={"type": "string", "format": "date-time"},
                    rule="type",
                )
            if isinstance(data__updatedat, str):
                if not REGEX_PATTERNS["date-time_re_pattern"].match(data__updatedat):
                    raise JsonSchemaValueException(
                        "" + (name_prefix or "data") + ".updated_at must be date-time",
                        value=data__updatedat,
                        name="" + (name_prefix or "data") + ".updated_at",
                        definition={"type": "string", "format": "date-time"},
                        rule="format",
                    )
        if "completed_at" in data_keys:
            data_keys.remove("completed_at")
            data__completedat = data["completed_at"]
            if not isinstance(data__completedat, (str)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".completed_at must be string",
                    value=data__completedat,
                    name="" + (name_prefix or "data") + ".completed_at",
                    definition={"type": "string", "format": "date-time"},
                    rule="type",
                )
            if isinstance(data__completedat, str):
                if not REGEX_PATTERNS["date-time_re_pattern"].match(data__completedat):
                    raise JsonSchemaValueException(
                        ""
                        + (name_prefix or "data")
                        + ".completed_at must be date-time",
                        value=data__completedat,
                        name="" + (name_prefix or "data") + ".completed_at",
                        definition={"type": "string", "format": "date-time"},
                        rule="format",
                    )
        if "data" in data_keys:
            data_keys.remove("data")
            data__data = data["data"]
            if not isinstance(data__data, (dict)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".data must be object",
                    value=data__data,
                    name="" + (name_prefix or "data") + ".data",
                    definition={
                        "required": ["suggestion"],
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "suggestion": {"type": "string"},
                        },
                    },
                    rule="type",
                )
            data__data_is_dict = isinstance(data__data, dict)
            if data__data_is_dict:
                data__data__missing_keys = set(["suggestion"]) - data__data.keys()
                if data__data__missing_keys:
                    raise JsonSchemaValueException(
                        ""
                        + (name_prefix or "data")
                        + ".data must contain "
                        + (str(sorted(data__data__missing_keys)) + " properties"),
                        value=data__data,
                        name="" + (name_prefix or "data") + ".data",
                        definition={
                            "required": ["suggestion"],
                            "type": "object",
                            "properties": {
                                "title": {"type": "string"},
                                "suggestion": {"type": "string"},
                            },
                        },
                        rule="required",
                    )
                data__data_keys = set(data__data.keys())
                if "title" in data__data_keys:
                    data__data_keys.remove("title")
                    data__data__title = data__data["title"]
                    if not isinstance(data__data__title, (str)):
                        raise JsonSchemaValueException(
                            "" + (name_prefix or "data") + ".data.title must be string",
                            value=data__data__title,
                            name="" + (name_prefix or "data") + ".data.title",
                            definition={"type": "string"},
                            rule="type",
                        )
                if "suggestion" in data__data_keys:
                    data__data_keys.remove("suggestion")
                    data__data__suggestion = data__data["suggestion"]
                    if not isinstance(data__data__suggestion, (str)):
                        raise JsonSchemaValueException(
                            ""
                            + (name_prefix or "data")
                            + ".data.suggestion must be string",
                            value=data__data__suggestion,
                            name="" + (name_prefix or "data") + ".data.suggestion",
                            definition={"type": "string"},
                            rule="type",
                        )
        if "error" in data_keys:
            data_keys.remove("error")
            data__error = data["error"]
            if not isinstance(data__error, (str, NoneType)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".error must be string or null",
                    value=data__error,
                    name="" + (name_prefix or "data") + ".error",
                    definition={"type": ["string", "null"]},
                    rule="type",
                )
    return data
