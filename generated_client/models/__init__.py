"""Contains all the data models used in inputs/outputs"""

from .create_job_request import CreateJobRequest
from .error_body import ErrorBody
from .error_body_extras import ErrorBodyExtras
from .error_detail import ErrorDetail
from .error_detail_extras import ErrorDetailExtras
from .job import Job
from .job_details import JobDetails
from .job_input import JobInput
from .job_list import JobList
from .job_list_pagination import JobListPagination
from .job_result import JobResult
from .job_status import JobStatus

__all__ = (
    "CreateJobRequest",
    "ErrorBody",
    "ErrorBodyExtras",
    "ErrorDetail",
    "ErrorDetailExtras",
    "Job",
    "JobDetails",
    "JobInput",
    "JobList",
    "JobListPagination",
    "JobResult",
    "JobStatus",
)
