"""Check a JobList body (get_async_application_jobs_response in openapi.yaml). Generated: do not edit."""

VERSION = "2.22.3"
from . import JsonSchemaValueException

NoneType = type(None)


def validate(data, custom_formats={}, name_prefix=None):
    if not isinstance(data, (dict)):
        raise JsonSchemaValueException(
            "" + (name_prefix or "data") + " must be object",
            value=data,
            name="" + (name_prefix or "data") + "",
            definition={
                "required": ["result"],
                "type": "object",
                "properties": {
                    "result": {
                        "type": "array",
                        "items": {
                            "required": [
                                "id",
                                "status",
                                "application_id",
                                "created_at",
                            ],
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "format": "uuid"},
                                "status": {"type": "string"},
                                "application_id": {"type": "string"},
                                "created_at": {"type": "string", "format": "date-time"},
                                "updated_at": {"type": "string", "format": "date-time"},
                                "completed_at": {
                                    "type": "string",
                                    "format": "date-time",
                                },
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
                    },
                    "totalCount": {"type": "integer"},
                    "pagination": {
                        "type": "object",
                        "properties": {
                            "offset": {"type": "integer"},
                            "limit": {"type": "integer"},
                        },
                    },
                },
            },
            rule="type",
        )
    data_is_dict = isinstance(data, dict)
    if data_is_dict:
        data__missing_keys = set(["result"]) - data.keys()
        if data__missing_keys:
            raise JsonSchemaValueException(
                ""
                + (name_prefix or "data")
                + " must contain "
                + (str(sorted(data__missing_keys)) + " properties"),
                value=data,
                name="" + (name_prefix or "data") + "",
                definition={
                    "required": ["result"],
                    "type": "object",
                    "properties": {
                        "result": {
                            "type": "array",
                            "items": {
                                "required": [
                                    "id",
                                    "status",
                                    "application_id",
                                    "created_at",
                                ],
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "format": "uuid"},
                                    "status": {"type": "string"},
                                    "application_id": {"type": "string"},
                                    "created_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    "updated_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    "completed_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
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
                        },
                        "totalCount": {"type": "integer"},
                        "pagination": {
                            "type": "object",
                            "properties": {
                                "offset": {"type": "integer"},
                                "limit": {"type": "integer"},
                            },
                        },
                    },
                },
                rule="required",
            )
        data_keys = set(data.keys())
        if "result" in data_keys:
            data_keys.remove("result")
            data__result = data["result"]
            if not isinstance(data__result, (list, tuple)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".result must be array",
                    value=data__result,
                    name="" + (name_prefix or "data") + ".result",
                    definition={
                        "type": "array",
                        "items": {
                            "required": [
                                "id",
                                "status",
                                "application_id",
                                "created_at",
                            ],
                            "type": "object",
                            "properties": {
                                "id": {"type": "string", "format": "uuid"},
                                "status": {"type": "string"},
                                "application_id": {"type": "string"},
                                "created_at": {"type": "string", "format": "date-time"},
                                "updated_at": {"type": "string", "format": "date-time"},
                                "completed_at": {
                                    "type": "string",
                                    "format": "date-time",
                                },
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
                    },
                    rule="type",
                )
            data__result_is_list = isinstance(data__result, (list, tuple))
            if data__result_is_list:
                data__result_len = len(data__result)
                for data__result_x, data__result_item in enumerate(data__result):
                    if not isinstance(data__result_item, (dict)):
                        raise JsonSchemaValueException(
                            ""
                            + (name_prefix or "data")
                            + ".result[{data__result_x}]".format(**locals())
                            + " must be object",
                            value=data__result_item,
                            name=""
                            + (name_prefix or "data")
                            + ".result[{data__result_x}]".format(**locals())
                            + "",
                            definition={
                                "required": [
                                    "id",
                                    "status",
                                    "application_id",
                                    "created_at",
                                ],
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "format": "uuid"},
                                    "status": {"type": "string"},
                                    "application_id": {"type": "string"},
                                    "created_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    "updated_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    "completed_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
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
                    data__result_item_is_dict = isinstance(data__result_item, dict)
                    if data__result_item_is_dict:
                        data__result_item__missing_keys = (
                            set(["id", "status", "application_id", "created_at"])
                            - data__result_item.keys()
                        )
                        if data__result_item__missing_keys:
                            raise JsonSchemaValueException(
                                ""
                                + (name_prefix or "data")
                                + ".result[{data__result_x}]".format(**locals())
                                + " must contain "
                                + (
                                    str(sorted(data__result_item__missing_keys))
                                    + " properties"
                                ),
                                value=data__result_item,
                                name=""
                                + (name_prefix or "data")
                                + ".result[{data__result_x}]".format(**locals())
                                + "",
                                definition={
                                    "required": [
                                        "id",
                                        "status",
                                        "application_id",
                                        "created_at",
                                    ],
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string", "format": "uuid"},
                                        "status": {"type": "string"},
                                        "application_id": {"type": "string"},
                                        "created_at": {
                                            "type": "string",
                                            "format": "date-time",
                                        },
                                        "updated_at": {
                                            "type": "string",
                                            "format": "date-time",
                                        },
                                        "completed_at": {
                                            "type": "string",
                                            "format": "date-time",
                                        },
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
                        data__result_item_keys = set(data__result_item.keys())
                        if "id" in data__result_item_keys:
                            data__result_item_keys.remove("id")
                            data__result_item__id = data__result_item["id"]
                            if not isinstance(data__result_item__id, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].id".format(**locals())
                                    + " must be string",
                                    value=data__result_item__id,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].id".format(**locals())
                                    + "",
                                    definition={"type": "string", "format": "uuid"},
                                    rule="type",
                                )
                        if "status" in data__result_item_keys:
                            data__result_item_keys.remove("status")
                            data__result_item__status = data__result_item["status"]
                            if not isinstance(data__result_item__status, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].status".format(
                                        **locals()
                                    )
                                    + " must be string",
                                    value=data__result_item__status,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].status".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={"type": "string"},
                                    rule="type",
                                )
                        if "application_id" in data__result_item_keys:
                            data__result_item_keys.remove("application_id")
                            data__result_item__applicationid = data__result_item[
                                "application_id"
                            ]
                            if not isinstance(data__result_item__applicationid, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].application_id".format(
                                        **locals()
                                    )
                                    + " must be string",
                                    value=data__result_item__applicationid,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].application_id".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={"type": "string"},
                                    rule="type",
                                )
                        if "created_at" in data__result_item_keys:
                            data__result_item_keys.remove("created_at")
                            data__result_item__createdat = data__result_item[
                                "created_at"
                            ]
                            if not isinstance(data__result_item__createdat, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].created_at".format(
                                        **locals()
                                    )
                                    + " must be string",
                                    value=data__result_item__createdat,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].created_at".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    rule="type",
                                )
                        if "updated_at" in data__result_item_keys:
                            data__result_item_keys.remove("updated_at")
                            data__result_item__updatedat = data__result_item[
                                "updated_at"
                            ]
                            if not isinstance(data__result_item__updatedat, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].updated_at".format(
                                        **locals()
                                    )
                                    + " must be string",
                                    value=data__result_item__updatedat,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].updated_at".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    rule="type",
                                )
                        if "completed_at" in data__result_item_keys:
                            data__result_item_keys.remove("completed_at")
                            data__result_item__completedat = data__result_item[
                                "completed_at"
                            ]
                            if not isinstance(data__result_item__completedat, (str)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].completed_at".format(
                                        **locals()
                                    )
                                    + " must be string",
                                    value=data__result_item__completedat,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].completed_at".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                    rule="type",
                                )
                        if "data" in data__result_item_keys:
                            data__result_item_keys.remove("data")
                            data__result_item__data = data__result_item["data"]
                            if not isinstance(data__result_item__data, (dict)):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].data".format(
                                        **locals()
                                    )
                                    + " must be object",
                                    value=data__result_item__data,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].data".format(
                                        **locals()
                                    )
                                    + "",
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
                            data__result_item__data_is_dict = isinstance(
                                data__result_item__data, dict
                            )
                            if data__result_item__data_is_dict:
                                data__result_item__data__missing_keys = (
                                    set(["suggestion"]) - data__result_item__data.keys()
                                )
                                if data__result_item__data__missing_keys:
                                    raise JsonSchemaValueException(
                                        ""
                                        + (name_prefix or "data")
                                        + ".result[{data__result_x}].data".format(
                                            **locals()
                                        )
                                        + " must contain "
                                        + (
                                            str(
                                                sorted(
                                                    data__result_item__data__missing_keys
                                                )
                                            )
                                            + " properties"
                                        ),
                                        value=data__result_item__data,
                                        name=""
                                        + (name_prefix or "data")
                                        + ".result[{data__result_x}].data".format(
                                            **locals()
                                        )
                                        + "",
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
                                data__result_item__data_keys = set(
                                    data__result_item__data.keys()
                                )
                                if "title" in data__result_item__data_keys:
                                    data__result_item__data_keys.remove("title")
                                    data__result_item__data__title = (
                                        data__result_item__data["title"]
                                    )
                                    if not isinstance(
                                        data__result_item__data__title, (str)
                                    ):
                                        raise JsonSchemaValueException(
                                            ""
                                            + (name_prefix or "data")
                                            + ".result[{data__result_x}].data.title".format(
                                                **locals()
                                            )
                                            + " must be string",
                                            value=data__result_item__data__title,
                                            name=""
                                            + (name_prefix or "data")
                                            + ".result[{data__result_x}].data.title".format(
                                                **locals()
                                            )
                                            + "",
                                            definition={"type": "string"},
                                            rule="type",
                                        )
                                if "suggestion" in data__result_item__data_keys:
                                    data__result_item__data_keys.remove("suggestion")
                                    data__result_item__data__suggestion = (
                                        data__result_item__data["suggestion"]
                                    )
                                    if not isinstance(
                                        data__result_item__data__suggestion, (str)
                                    ):
                                        raise JsonSchemaValueException(
                                            ""
                                            + (name_prefix or "data")
                                            + ".result[{data__result_x}].data.suggestion".format(
                                                **locals()
                                            )
                                            + " must be string",
                                            value=data__result_item__data__suggestion,
                                            name=""
                                            + (name_prefix or "data")
                                            + ".result[{data__result_x}].data.suggestion".format(
                                                **locals()
                                            )
                                            + "",
                                            definition={"type": "string"},
                                            rule="type",
                                        )
                        if "error" in data__result_item_keys:
                            data__result_item_keys.remove("error")
                            data__result_item__error = data__result_item["error"]
                            if not isinstance(
                                data__result_item__error, (str, NoneType)
                            ):
                                raise JsonSchemaValueException(
                                    ""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].error".format(
                                        **locals()
                                    )
                                    + " must be string or null",
                                    value=data__result_item__error,
                                    name=""
                                    + (name_prefix or "data")
                                    + ".result[{data__result_x}].error".format(
                                        **locals()
                                    )
                                    + "",
                                    definition={"type": ["string", "null"]},
                                    rule="type",
                                )
        if "totalCount" in data_keys:
            data_keys.remove("totalCount")
            data__totalCount = data["totalCount"]
            if (
                not isinstance(data__totalCount, (int))
                and not (
                    isinstance(data__totalCount, float)
                    and data__totalCount.is_integer()
                )
                or isinstance(data__totalCount, bool)
            ):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".totalCount must be integer",
                    value=data__totalCount,
                    name="" + (name_prefix or "data") + ".totalCount",
                    definition={"type": "integer"},
                    rule="type",
                )
        if "pagination" in data_keys:
            data_keys.remove("pagination")
            data__pagination = data["pagination"]
            if not isinstance(data__pagination, (dict)):
                raise JsonSchemaValueException(
                    "" + (name_prefix or "data") + ".pagination must be object",
                    value=data__pagination,
                    name="" + (name_prefix or "data") + ".pagination",
                    definition={
                        "type": "object",
                        "properties": {
                            "offset": {"type": "integer"},
                            "limit": {"type": "integer"},
                        },
                    },
                    rule="type",
                )
            data__pagination_is_dict = isinstance(data__pagination, dict)
            if data__pagination_is_dict:
                data__pagination_keys = set(data__pagination.keys())
                if "offset" in data__pagination_keys:
                    data__pagination_keys.remove("offset")
                    data__pagination__offset = data__pagination["offset"]
                    if (
                        not isinstance(data__pagination__offset, (int))
                        and not (
                            isinstance(data__pagination__offset, float)
                            and data__pagination__offset.is_integer()
                        )
                        or isinstance(data__pagination__offset, bool)
                    ):
                        raise JsonSchemaValueException(
                            ""
                            + (name_prefix or "data")
                            + ".pagination.offset must be integer",
                            value=data__pagination__offset,
                            name="" + (name_prefix or "data") + ".pagination.offset",
                            definition={"type": "integer"},
                            rule="type",
                        )
                if "limit" in data__pagination_keys:
                    data__pagination_keys.remove("limit")
                    data__pagination__limit = data__pagination["limit"]
                    if (
                        not isinstance(data__pagination__limit, (int))
                        and not (
                            isinstance(data__pagination__limit, float)
                            and data__pagination__limit.is_integer()
                        )
                        or isinstance(data__pagination__limit, bool)
                    ):
                        raise JsonSchemaValueException(
                            ""
                            + (name_prefix or "data")
                            + ".pagination.limit must be integer",
                            value=data__pagination__limit,
                            name="" + (name_prefix or "data") + ".pagination.limit",
                            definition={"type": "integer"},
                            rule="type",
                        )
    return data
