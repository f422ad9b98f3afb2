"""The fake's outages: a window of time in which the service answers 503 to
everything, or closes every connection before answering; scheduled from the
server's start, or from now while it runs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from writer_jobs.testing import FakeWriterAPI, Outage


@pytest.fixture
def api() -> Iterator[FakeWriterAPI]:
    with FakeWriterAPI(seed_failed=3) as fake:
        yield fake


def _until(api: FakeWriterAPI, elapsed: float) -> None:
    """Sleep until the fake's clock reads ``elapsed`` (outages last 3 s: a loaded machine
    still sends a test's few requests inside one)."""
    while api.elapsed() < elapsed:
        time.sleep(0.02)


def _client(api: FakeWriterAPI) -> httpx.Client:
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {api.api_key}"})


def test_a_503_outage_answers_everything_then_ends(api: FakeWriterAPI) -> None:
    job = api.seeded[0]
    outage_end = api.elapsed() + 3.05
    api.schedule(Outage(start=api.elapsed(), duration=3.0, kind="503"))
    with _client(api) as http:
        during = [
            http.get(f"/v1/applications/jobs/{job}").status_code,
            http.post(f"/v1/applications/jobs/{job}/retry").status_code,
            http.get(f"/v1/applications/{api.application_id}/jobs").status_code,
            http.get("/v1/applications/jobs/not-a-uuid").status_code,
        ]
        assert during == [503] * 4
        assert api.processed("retry_job") == 0 and api.unavailable == 4
        _until(api, outage_end)
        assert http.post(f"/v1/applications/jobs/{job}/retry").status_code == 202
    assert api.processed("retry_job") == 1 and api.unavailable == 4


def test_a_closed_outage_answers_nothing_and_carries_nothing_out(api: FakeWriterAPI) -> None:
    job = api.seeded[0]
    outage_end = api.elapsed() + 3.05
    api.schedule(Outage(start=api.elapsed(), duration=3.0, kind="close"))
    with _client(api) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"/v1/applications/jobs/{job}/retry")
        assert api.processed("retry_job") == 0
        _until(api, outage_end)
        assert http.get(f"/v1/applications/jobs/{job}").json()["status"] == "failed"


def test_a_closed_outage_can_lose_the_answers_of_requests_it_carried_out() -> None:
    with FakeWriterAPI(seed_failed=1, delay=30) as api:  # still running after the outage
        job = api.seeded[0]
        outage_end = api.elapsed() + 3.05
        api.schedule(Outage(start=api.elapsed(), duration=3.0, kind="close", processed=True))
        with _client(api) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                http.post(f"/v1/applications/jobs/{job}/retry")
            assert api.processed("retry_job", job) == 1, "carried out, its answer lost"
            _until(api, outage_end)
            assert http.get(f"/v1/applications/jobs/{job}").json()["status"] == "in_progress"


def test_an_outage_scheduled_at_construction_starts_after_its_delay() -> None:
    with (
        FakeWriterAPI(conditions=[Outage(start=3.0, duration=60)]) as api,
        _client(api) as http,
    ):
        path = f"/v1/applications/{api.application_id}/jobs"
        before = http.get(path).status_code
        _until(api, 3.1)
        assert (before, http.get(path).status_code) == (200, 503)


def test_outages_refuse_what_they_cannot_be() -> None:
    with pytest.raises(
        ValueError, match="outage kind must be '503', 'close' or 'stall', received 'x'"
    ):
        Outage(start=0, duration=1, kind="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration must be a number >= 0, received -1"):
        Outage(start=0, duration=-1)
    with FakeWriterAPI() as api, pytest.raises(TypeError, match="received str"):
        api.schedule("503")  # type: ignore[arg-type]
