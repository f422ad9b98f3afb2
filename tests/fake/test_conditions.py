"""Conditions the real Writer API produces, reproduced by the fake over a real socket."""

from __future__ import annotations

import datetime
import email.utils
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from writer_jobs import JobStatus
from writer_jobs.testing import FakeWriterAPI, JobStore, StoreError

SECOND = datetime.timedelta(seconds=1)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _get(http: httpx.Client, api: FakeWriterAPI, path: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.api_key}"}
    return http.get(api.base_url + path, headers=headers, params=params)


def _retry(http: httpx.Client, api: FakeWriterAPI, job_id: uuid.UUID) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.api_key}"}
    return http.post(f"{api.base_url}/v1/applications/jobs/{job_id}/retry", headers=headers)


def _job(http: httpx.Client, api: FakeWriterAPI, job_id: uuid.UUID) -> dict[str, Any]:
    response = _get(http, api, f"/v1/applications/jobs/{job_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _list(http: httpx.Client, api: FakeWriterAPI, **params: Any) -> dict[str, Any]:
    response = _get(http, api, f"/v1/applications/{api.application_id}/jobs", **params)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _at(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_clock_offset_shifts_timestamps_and_the_date_header_on_every_response(
    http: httpx.Client,
) -> None:
    with FakeWriterAPI(seed_failed=1, clock_offset=-10, delay=30) as api:
        job_id = api.seeded[0]
        assert _retry(http, api, job_id).status_code == 202
        ok = _get(http, api, f"/v1/applications/jobs/{job_id}")
        missing = _get(http, api, f"/v1/applications/jobs/{uuid.uuid4()}")
        api.fail_next("get_job", "429")
        limited = _get(http, api, f"/v1/applications/jobs/{job_id}")
        unauthorized = http.get(f"{api.base_url}/v1/applications/jobs/{job_id}")
        behind = _utcnow() - 10 * SECOND
    assert [r.status_code for r in (ok, missing, limited, unauthorized)] == [200, 404, 429, 401]
    for response in (ok, missing, limited, unauthorized):
        dates = response.headers.get_list("date")
        assert len(dates) == 1  # ours only: uvicorn's own is off
        assert abs(email.utils.parsedate_to_datetime(dates[0]) - behind) < 2 * SECOND
    body = ok.json()
    for field in ("created_at", "updated_at"):
        assert abs(_at(body[field]) - behind) < 2 * SECOND


def test_the_date_header_is_whole_seconds_truncated_down(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=1, clock_offset=0.0) as api:
        for _ in range(5):
            before = _utcnow()
            response = _get(http, api, f"/v1/applications/jobs/{api.seeded[0]}")
            date = email.utils.parsedate_to_datetime(response.headers["date"])
            # Truncated: never later than the moment the request was answered.
            assert before.replace(microsecond=0) <= date <= _utcnow()
            time.sleep(0.11)


def test_send_date_header_false_sends_no_date(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=1, send_date_header=False) as api:
        ok = _get(http, api, f"/v1/applications/jobs/{api.seeded[0]}")
        missing = _get(http, api, f"/v1/applications/jobs/{uuid.uuid4()}")
    assert ok.status_code == 200 and missing.status_code == 404
    assert "date" not in ok.headers and "date" not in missing.headers


def test_fail_again_after_fails_every_retried_job_again(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=1, delay=30, fail_again_after=0.05) as api:
        job_id = api.seeded[0]
        for _ in range(2):  # every retry, not just the first
            before = _utcnow()
            retried = _retry(http, api, job_id)
            assert retried.status_code == 202 and retried.json()["status"] == "in_progress"
            time.sleep(0.1)
            body = _job(http, api, job_id)
            assert body["status"] == "failed" and body["error"]
            # updated_at is the moment it failed: fail_again_after after the retry.
            failed_at = _at(body["updated_at"])
            assert before + datetime.timedelta(seconds=0.05) <= failed_at <= _utcnow()
            assert body["completed_at"] == body["updated_at"]
        created = http.post(
            f"{api.base_url}/v1/applications/app-2/jobs",
            headers={"Authorization": f"Bearer {api.api_key}"},
            json={"inputs": [{"id": "topic", "value": ["cats"]}]},
        )
        time.sleep(0.1)
        # A created job keeps delay (30 s): still running.
        assert _job(http, api, uuid.UUID(created.json()["id"]))["status"] == "in_progress"
    assert api.retries_per_job() == {job_id: 2}


def test_fail_again_after_zero_fails_at_once_but_later_than_the_retry(
    http: httpx.Client,
) -> None:
    with FakeWriterAPI(seed_failed=1, delay=30, fail_again_after=0.0) as api:
        job_id = api.seeded[0]
        seeded_at = _at(_job(http, api, job_id)["updated_at"])
        assert _retry(http, api, job_id).status_code == 202
        body = _job(http, api, job_id)
    assert body["status"] == "failed" and _at(body["updated_at"]) > seeded_at
    # The retry's own moment, held still by a frozen clock: failing comes strictly after.
    store = JobStore(delay=30, fail_again_after=0.0, clock=lambda: 100.0)
    (stored_id,) = store.seed_failed("app", 1)
    retried_at = store.retry(stored_id).updated_at
    again = store.job(stored_id)
    assert again.status is JobStatus.FAILED and again.updated_at > retried_at


@pytest.mark.parametrize(
    ("mode", "reported"), [("effective", 50), ("requested", 100), ("omitted", None)]
)
def test_max_page_size_caps_pages_and_pagination_says_what_it_is_told(
    http: httpx.Client, mode: str, reported: int | None
) -> None:
    with FakeWriterAPI(seed_failed=120, max_page_size=50, pagination_mode=mode) as api:
        pages = [_list(http, api, status="failed", offset=o, limit=100) for o in (0, 50, 100)]
    assert [len(p["result"]) for p in pages] == [50, 50, 20]
    assert {uuid.UUID(j["id"]) for p in pages for j in p["result"]} == set(api.seeded)
    assert all(p["totalCount"] == 120 for p in pages)
    for offset, page in zip((0, 50, 100), pages, strict=True):
        if reported is None:
            assert "pagination" not in page
        else:
            assert page["pagination"] == {"offset": offset, "limit": reported}


def test_send_total_count_false_leaves_total_count_out(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=3, send_total_count=False) as api:
        body = _list(http, api, status="failed")
    assert "totalCount" not in body and len(body["result"]) == 3


@pytest.mark.parametrize("omitted", ["list_jobs", "get_job"])
def test_omit_updated_at_per_operation(http: httpx.Client, omitted: str) -> None:
    with FakeWriterAPI(seed_failed=2, omit_updated_at=frozenset({omitted})) as api:
        listed = _list(http, api)["result"]
        got = _job(http, api, api.seeded[0])
    list_has = {"updated_at" in job for job in listed}
    assert list_has == {omitted != "list_jobs"}
    assert ("updated_at" in got) is (omitted != "get_job")
    assert "created_at" in got and all("created_at" in job for job in listed)


def test_on_list_hook_runs_before_each_page_is_computed(http: httpx.Client) -> None:
    calls: list[tuple[str, JobStatus | None, int, int]] = []

    def hook(
        api: FakeWriterAPI, application_id: str, status: JobStatus | None, offset: int, limit: int
    ) -> None:
        calls.append((application_id, status, offset, limit))
        if offset == 2:  # between the pages, another client retries a job still to come
            api.retry_as_other(api.seeded[4])

    with FakeWriterAPI(seed_failed=6, delay=30) as api:
        api.on_list = hook
        first = _list(http, api, status="failed", offset=0, limit=2)
        second = _list(http, api, status="failed", offset=2, limit=2)
        third = _list(http, api, status="failed", offset=4, limit=2)
        everything = _list(http, api)
    app = api.application_id
    assert calls == [
        (app, JobStatus.FAILED, 0, 2),
        (app, JobStatus.FAILED, 2, 2),
        (app, JobStatus.FAILED, 4, 2),
        (app, None, 0, 50),
    ]
    # The second page already reflects the hook's change.
    assert first["totalCount"] == 6 and second["totalCount"] == 5
    seen = [uuid.UUID(j["id"]) for p in (first, second, third) for j in p["result"]]
    assert api.seeded[4] not in seen and len(seen) == 5
    assert everything["totalCount"] == 6


def test_retry_as_other_is_processed_and_counted_apart(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=2, delay=30) as api:
        mine, theirs = api.seeded
        job = api.retry_as_other(theirs)
        assert job.status is JobStatus.IN_PROGRESS
        assert _job(http, api, theirs)["status"] == "in_progress"
        assert _retry(http, api, mine).status_code == 202
        assert _retry(http, api, theirs).status_code == 409  # already running
        with pytest.raises(StoreError) as info:
            api.retry_as_other(theirs)
    assert info.value.status == 409
    assert api.retries_per_job() == {mine: 1, theirs: 1}
    assert api.retries_per_job(include_other=True) == {mine: 1, theirs: 1}
    assert api.retries_per_job(include_other=False) == {mine: 1}
    others = [e for e in api.log if e.by_other]
    assert [(e.operation, e.job_id, e.processed, e.status) for e in others] == [
        ("retry_job", theirs, True, 202),
        ("retry_job", theirs, False, 409),
    ]


def test_log_at_shows_whether_a_post_was_processed_after_a_moment(http: httpx.Client) -> None:
    with FakeWriterAPI(seed_failed=2, delay=30) as api:
        assert _retry(http, api, api.seeded[0]).status_code == 202
        t = time.monotonic()
        _job(http, api, api.seeded[0])

        def posts_after(moment: float) -> int:
            return sum(1 for e in api.log if e.method == "POST" and e.processed and e.at > moment)

        assert posts_after(t) == 0
        assert _retry(http, api, api.seeded[1]).status_code == 202
        assert posts_after(t) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"pagination_mode": "sometimes"},
        {"omit_updated_at": frozenset({"create_job"})},
        {"max_page_size": 0},
        {"fail_again_after": -1.0},
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FakeWriterAPI(**options)
