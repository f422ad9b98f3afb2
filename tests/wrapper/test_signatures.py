"""What a person at a prompt sees: the clients' constructors, retry_failed and wait_many
list their keywords with their defaults (help(), inspect.signature, an IDE's tip),
rather than ``**settings``."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from writer_jobs import AsyncJobsClient, JobsClient

CLIENT_KEYWORDS = {
    "api_key": None,
    "base_url": None,
    "deadline": 120.0,
    "max_retries": 5,
    "backoff_initial": 0.5,
    "backoff_max": 30.0,
    "max_retry_after": 60.0,
    "max_response_bytes": 4 * 1024 * 1024,
    "page_size": 100,
    "allow_insecure_http": False,
    "rate_limit": "auto",
    "verify": True,
    "proxy": None,
    "http_client": None,
    "http_backend": "httpx",
}
RETRY_FAILED_KEYWORDS = {
    "concurrency": 16,
    "wait": False,
    "wait_deadline": None,
    "journal": None,
    "rate_limit": None,
    "on_outcome": None,
    "on_progress": None,
    "select": None,
    "dry_run": False,
    "max_unavailable": 600.0,
}


def _defaults(function: Any) -> dict[str, Any]:
    parameters = inspect.signature(function).parameters.values()
    assert not [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD], "no **kwargs"
    return {p.name: p.default for p in parameters}


@pytest.mark.parametrize("client", [JobsClient, AsyncJobsClient])
def test_signatures_list_every_keyword_with_its_default(client: Any) -> None:
    constructor = _defaults(client)
    assert CLIENT_KEYWORDS.items() <= constructor.items()
    assert "timeout" in constructor
    retry_failed = _defaults(client.retry_failed)
    assert RETRY_FAILED_KEYWORDS.items() <= retry_failed.items()
    assert repr(retry_failed["timeout"]) == "<client default>"
    assert _defaults(client.wait_many) == {
        "self": inspect.Parameter.empty,
        "job_ids": inspect.Parameter.empty,
        "deadline": None,
        "max_unavailable": 600.0,
    }
    assert "max_unavailable: 'float | None' = 600.0" in str(inspect.signature(client.retry_failed))
