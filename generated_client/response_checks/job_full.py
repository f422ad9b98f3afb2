"""Check a Job body (generate_application_async_response in openapi.yaml, formats too). Generated: do not edit."""

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
                "required": ["id", "status", "created_at"],
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "status": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
            rule="type",
        )
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(["id", "status", "created_at"]) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException(
                ""
                + (name_prefix or "data")
                + " must contain "
                + (str(sorted(data__missing_keys)) + " properties"),
                value=data,
                name="" + (name_prefix or "data") + "",
                definition={
                    "required": ["id", "status", "created_at"],
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
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
    return data
