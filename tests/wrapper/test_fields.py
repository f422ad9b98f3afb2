"""or_none() and result_text(): a job's optional fields read plainly."""

from __future__ import annotations

from writer_jobs import UNSET, JobDetails, or_none, result_text

BASE = {
    "id": "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e",
    "application_id": "a",
    "created_at": "2025-01-02T03:04:05Z",
}


def test_a_completed_job_without_an_error_field_reads_none_not_unset() -> None:
    done = JobDetails.from_dict(
        {**BASE, "status": "completed", "data": {"suggestion": "Hello", "title": "t"}}
    )
    assert done.error is UNSET and or_none(done.error) is None
    assert result_text(done) == "Hello"


def test_a_failed_job_reads_its_error_and_no_result() -> None:
    failed = JobDetails.from_dict({**BASE, "status": "failed", "error": "boom"})
    assert or_none(failed.error) == "boom" and result_text(failed) is None
    sent_null = JobDetails.from_dict({**BASE, "status": "failed", "error": None})
    assert sent_null.error is None and or_none(sent_null.error) is None
