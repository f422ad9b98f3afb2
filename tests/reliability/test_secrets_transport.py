"""The key leaks nowhere; transport security is on by default."""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import trustme

from writer_jobs import (
    APIConnectionError,
    AsyncJobsClient,
    ConfigurationError,
    JobsClient,
    JobStatus,
    WriterJobsError,
)
from writer_jobs.testing import FakeWriterAPI, Faults

from ..jobserver import JOB_ID, JobServer
from ..loopback import LoopbackServer, Reply, Request

SENTINEL = "sk-SENTINEL-secrets-7f3a"
SCRIPT = str(Path(sys.executable).parent / "writer-jobs")


def test_the_key_is_in_no_log_record_repr_error_traceback_or_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    journal = tmp_path / "j.jsonl"
    texts: list[str] = []
    faults = Faults(
        # No malformed bodies: a malformed list page ends a bulk run (which request gets
        # which fault depends on how many the run makes), and this test needs it whole.
        rate=0.3,
        kinds=("429", "503", "drop_after"),
        seed=2,
        retry_after=0.01,
    )
    with FakeWriterAPI(api_key=SENTINEL, seed_failed=30, delay=0.05, faults=faults) as api:
        with JobsClient(SENTINEL, base_url=api.base_url, backoff_initial=0.01) as client:
            texts += [
                repr(client),
                str(client),
                repr(client.generated),
                repr(client.http_client),
                repr(client.http_client.headers),
                repr(client._config),
            ]
            summary = client.retry_failed(
                api.application_id, rate_limit=None, journal=journal, wait=True
            )
            for bad in ("nope", "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"):
                try:
                    client.get(bad)
                except WriterJobsError as exc:
                    texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        with JobsClient("wrong-" + SENTINEL, base_url=api.base_url) as client:
            try:
                client.get(api.seeded[0])
            except WriterJobsError as exc:
                texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        cli = subprocess.run(
            [
                SCRIPT,
                "-vv",
                "--api-key",
                SENTINEL,
                "--base-url",
                api.base_url,
                "list",
                api.application_id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert summary.total == 30
    texts += [caplog.text, journal.read_text(), cli.stdout, cli.stderr]
    texts += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    assert cli.returncode in (0, 1)
    for text in texts:
        assert SENTINEL not in text


def test_missing_or_malformed_key_errors_do_not_echo_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        JobsClient(SENTINEL + "\nX-Injected: 1")
    assert SENTINEL not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://api.writer.com", "http://192.168.1.10", "http://[fe80::1]"]
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unencrypted"):
        JobsClient(SENTINEL, base_url=url)
    with pytest.raises(ConfigurationError):
        AsyncJobsClient(SENTINEL, base_url=url)


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def _tls_server(ca: trustme.CA) -> LoopbackServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return LoopbackServer(JobServer(), tls=context)


def test_tls_is_verified_by_default(tls_ca: trustme.CA) -> None:
    with (
        _tls_server(tls_ca) as server,
        JobsClient(SENTINEL, base_url=server.url, max_retries=0) as client,
    ):
        with pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(JOB_ID)
        assert server.requests == [], "no request, so no key, went to the unverified server"


def test_tls_with_the_servers_ca_is_accepted(tls_ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(ca_file))
    with _tls_server(tls_ca) as server:
        with JobsClient(SENTINEL, base_url=server.url, verify=str(ca_file)) as client:
            assert client.get(JOB_ID).status is JobStatus.FAILED
        context = ssl.create_default_context()
        tls_ca.configure_trust(context)
        with JobsClient(SENTINEL, base_url=server.url, verify=context) as client:
            assert client.retry(JOB_ID).status is JobStatus.IN_PROGRESS
    assert server.requests[0].headers["authorization"] == f"Bearer {SENTINEL}"


def test_authorization_goes_only_where_the_request_goes() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Reply:
        seen.append(request)
        return Reply(302, b"", {"Location": "https://elsewhere.test/x"})

    with LoopbackServer(handler) as server:
        client = JobsClient(SENTINEL, base_url=server.url)
        with client, pytest.raises(WriterJobsError, match="not followed"):
            client.get(JOB_ID)
    assert len(seen) == 1


def test_a_bad_ca_bundle_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PEM CA bundle"):
        JobsClient(SENTINEL, verify=str(tmp_path / "missing.pem"))


async def test_async_client_verifies_tls_too(tls_ca: trustme.CA) -> None:
    with _tls_server(tls_ca) as server:
        async with AsyncJobsClient(SENTINEL, base_url=server.url, max_retries=0) as client:
            with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
                await client.get(JOB_ID)
        assert server.requests == []
        context = ssl.create_default_context()
        tls_ca.configure_trust(context)
        async with AsyncJobsClient(SENTINEL, base_url=server.url, verify=context) as client:
            assert (await client.get(JOB_ID)).status is JobStatus.FAILED
