from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_details import JobDetails
    from ..models.job_list_pagination import JobListPagination


T = TypeVar("T", bound="JobList")


@_attrs_define
class JobList:
    """
    Attributes:
        result (list[JobDetails]):
        total_count (int | Unset): The total number of jobs associated with the application.
        pagination (JobListPagination | Unset):
    """

    result: list[JobDetails]
    total_count: int | Unset = UNSET
    pagination: JobListPagination | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        result = []
        for result_item_data in self.result:
            result_item = result_item_data.to_dict()
            result.append(result_item)

        total_count = self.total_count

        pagination: dict[str, Any] | Unset = UNSET
        if not isinstance(self.pagination, Unset):
            pagination = self.pagination.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "result": result,
            }
        )
        if total_count is not UNSET:
            field_dict["totalCount"] = total_count
        if pagination is not UNSET:
            field_dict["pagination"] = pagination

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_details import JobDetails  # noqa: PLC0415
        from ..models.job_list_pagination import JobListPagination  # noqa: PLC0415

        d = dict(src_dict)
        result = []
        _result = d.pop("result")
        for result_item_data in _result:
            result_item = JobDetails.from_dict(result_item_data)

            result.append(result_item)

        total_count = d.pop("totalCount", UNSET)

        _pagination = d.pop("pagination", UNSET)
        pagination: JobListPagination | Unset
        if isinstance(_pagination, Unset):
            pagination = UNSET
        else:
            pagination = JobListPagination.from_dict(_pagination)

        job_list = cls(
            result=result,
            total_count=total_count,
            pagination=pagination,
        )

        job_list.additional_properties = d
        return job_list

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
