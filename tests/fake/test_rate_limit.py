"""The fake's account constraints: a sliding-window rate limit, newest-first lists,
a long history of completed jobs."""

from __future__ import annotations

import time

import httpx
import pytest

from writer_jobs.testing import FakeWriterAPI, OtherConsumer


def _get(http: httpx.Client, api: FakeWriterAPI) -> httpx.Response:
    return http.get(f"/v1/applications/{api.application_id}/jobs", params={"limit": 1})


def test_the_window_admits_the_limit_then_429s_without_retry_after() -> None:
    with (
        FakeWriterAPI(rate_limit=5, rate_window=5.0) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        codes = [_get(http, api).status_code for _ in range(7)]
        refused = _get(http, api)
        assert codes == [200] * 5 + [429] * 2
        assert "retry-after" not in refused.headers
        assert api.rate_limited == 3
        assert [e.processed for e in api.log].count(True) == 5
        time.sleep(5.05)  # the window slides: the first five age out
        assert _get(http, api).status_code == 200


def test_the_window_slides_rather_than_resets() -> None:
    with (
        FakeWriterAPI(rate_limit=4, rate_window=5.0) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        assert [_get(http, api).status_code for _ in range(2)] == [200, 200]
        time.sleep(3.0)  # windows of 5 s: a loaded machine's slow requests fit in them
        assert [_get(http, api).status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(2.5)  # the first two aged out, the two after them not yet
        assert [_get(http, api).status_code for _ in range(3)] == [200, 200, 429]


def test_retry_after_when_asked() -> None:
    with (
        FakeWriterAPI(rate_limit=1, rate_window=3.0, rate_limit_retry_after=True) as api,
        (
            httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"})
        ) as http,
    ):
        _get(http, api)
        assert _get(http, api).headers["retry-after"] in {"2", "3"}


def test_newest_first_lists_a_retried_job_first() -> None:
    with (
        FakeWriterAPI(seed_failed=5, newest_first=True, delay=30) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        url = f"/v1/applications/{api.application_id}/jobs"
        failed = http.get(url, params={"status": "failed"}).json()["result"]
        assert [j["id"] for j in failed] == [str(j) for j in reversed(api.seeded)]
        api.store.retry(api.seeded[0])
        running = http.get(url, params={"status": "in_progress"}).json()["result"]
        assert [j["id"] for j in running] == [str(api.seeded[0])]


def test_history_of_completed_jobs_lies_in_the_past() -> None:
    with (
        FakeWriterAPI(seed_completed=50, newest_first=True) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        body = http.get(
            f"/v1/applications/{api.application_id}/jobs",
            params={"status": "completed", "limit": 100},
        ).json()
        stamps = [j["updated_at"] for j in body["result"]]
        assert body["totalCount"] == 50 and stamps == sorted(stamps, reverse=True)
        now = api.store.now().isoformat()
        assert all(s < now for s in stamps)
        assert api.requests_per_operation() == {"list_jobs": 1}


def test_newest_first_orders_the_list_without_a_status_too() -> None:
    with (
        FakeWriterAPI(seed_failed=5, seed_completed=5, newest_first=True, delay=30) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        api.store.retry(api.seeded[2])  # now the newest: first in every list it is in
        body = http.get(f"/v1/applications/{api.application_id}/jobs").json()
        stamps = [j["updated_at"] for j in body["result"]]
        assert len(stamps) == 10 and stamps == sorted(stamps, reverse=True)
        assert body["result"][0]["id"] == str(api.seeded[2])


def _burst(http: httpx.Client, api: FakeWriterAPI, count: int) -> list[int]:
    return [_get(http, api).status_code for _ in range(count)]


def test_another_program_spends_its_part_of_the_same_window() -> None:
    """20 a window of 2 s, the other program spending 300 a minute (10 a window):
    once its requests fill their part of the window, the client gets the rest."""
    with (
        FakeWriterAPI(
            rate_limit=20, rate_window=2.0, conditions=[OtherConsumer(per_minute=300)]
        ) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        time.sleep(2.2)  # a whole window of the other program's requests
        codes = _burst(http, api, 20)
        # 10 of the other program's in the window; while the burst runs (slowly on a
        # busy machine) some age out and the client may take their places first.
        assert 5 <= codes.count(200) <= 15 and 429 in codes, codes
        assert api.other_admitted >= 10
        assert api.rate_limited == 20 - codes.count(200)


def test_the_other_program_stops_and_the_window_frees_up() -> None:
    with (
        FakeWriterAPI(
            rate_limit=20,
            rate_window=1.0,
            conditions=[OtherConsumer(per_minute=6000, duration=0.5)],
        ) as api,
        httpx.Client(
            base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"}
        ) as http,
    ):
        time.sleep(0.3)
        assert _get(http, api).status_code == 429, "the other program fills the window"
        time.sleep(1.5)  # it stopped at 0.5 s; its requests aged out by 1.5 s
        assert _burst(http, api, 21) == [200] * 20 + [429]
        assert 20 <= api.other_admitted <= 40


def test_other_consumer_refuses_a_bad_spend() -> None:
    with pytest.raises(ValueError, match="per_minute must be a number >= 0, received -1"):
        OtherConsumer(per_minute=-1)
