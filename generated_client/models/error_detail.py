from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_detail_extras import ErrorDetailExtras


T = TypeVar("T", bound="ErrorDetail")


@_attrs_define
class ErrorDetail:
    """
    Attributes:
        description (str): A human-readable description of the error.
        key (str): A machine-readable key, e.g. fail.notFound.resource.
        extras (ErrorDetailExtras | Unset):
    """

    description: str
    key: str
    extras: ErrorDetailExtras | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        key = self.key

        extras: dict[str, Any] | Unset = UNSET
        if not isinstance(self.extras, Unset):
            extras = self.extras.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "key": key,
            }
        )
        if extras is not UNSET:
            field_dict["extras"] = extras

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_detail_extras import ErrorDetailExtras  # noqa: PLC0415

        d = dict(src_dict)
        description = d.pop("description")

        key = d.pop("key")

        _extras = d.pop("extras", UNSET)
        extras: ErrorDetailExtras | Unset
        if isinstance(_extras, Unset):
            extras = UNSET
        else:
            extras = ErrorDetailExtras.from_dict(_extras)

        error_detail = cls(
            description=description,
            key=key,
            extras=extras,
        )

        error_detail.additional_properties = d
        return error_detail

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
