"""The two tiers of the suite. `make check` runs `pytest -m "not slow"` (lint first): the
tests that start no subprocess, no Prism, build no package and wait on no wall clock, in
about a minute. `make test` and CI run everything.

A test is marked ``slow`` here, by its file, its fixtures or its name, not in the test
files: one place to read and change. A test left quick that starts a process fails,
saying to list it here, so the quick tier stays quick as tests are added."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

# Files whose every test is slow (a prefix of the path from the repository root).
SLOW_FILES: dict[str, str] = {
    "tests/bench/": "runs the benchmark",
    "tests/packaging/test_wheel.py": "builds and installs the wheel",
    "tests/cli/test_cli.py": "runs the CLI as a subprocess",
    "tests/cli/test_cli_day.py": "runs the CLI as a subprocess",
    "tests/cli/test_cli_exactly_once.py": "runs the CLI as a subprocess",
    "tests/cli/test_cli_person.py": "drives the CLI in a pseudo-terminal",
    "tests/cli/test_terminal.py": "drives the CLI in a pseudo-terminal",
    "tests/cli/test_matrix.py": "runs every CLI command as a subprocess, some in a pty",
    "tests/packaging/test_import_contracts.py": "runs lint-imports on copies of the package",
    "tests/cli/test_demo.py": "runs scripts/demo.sh",
    "tests/cli/test_readme.py": "runs every code block of the docs, servers included",
    "tests/cli/test_batch_cli.py": "runs the CLI's batch as a subprocess",
    "tests/cli/test_batch_terminal.py": "drives the CLI's batch in a pseudo-terminal",
    "tests/contract/test_prism.py": "starts Prism",
    "tests/contract/test_drift.py": "runs generate.sh",
    "tests/contract/test_update_spec.py": "runs make update-spec on copies of the project",
    "tests/reliability/test_sync_exit.py": "runs interpreters as subprocesses",
    # Bulk runs against the fake server, whose jobs take real time to finish.
    "tests/bulk/test_outage.py": "runs the CLI as a subprocess through an outage",
    "tests/bulk/test_outage_resume.py": "waits through an outage in real time",
    "tests/bulk/test_rate_budget.py": "runs budgeted traffic for tens of seconds",
    "tests/bulk/test_async_stop_pool.py": "waits seconds for stalled requests",
    "tests/bulk/test_exactly_once.py": "bulk runs and resumes in real time",
    "tests/bulk/test_exactly_once_adversary.py": "bulk runs against shifting lists in real time",
    "tests/bulk/test_exactly_once_stateful.py": "a stateful search over real runs (30 s)",
    "tests/bulk/test_offset_repeats.py": "waits for jobs to finish in real time",
    "tests/bulk/test_retry_failed.py": "bulk runs of up to a thousand jobs",
    "tests/bulk/test_selection.py": "bulk runs and the CLI's dry run",
    "tests/bulk/test_watch.py": "waits for jobs to finish in real time",
    "tests/bulk/test_batch_promises.py": "lost creates proved after the settle bound, in real time",
    "tests/bulk/test_batch_stateful.py": "a stateful search over real batch runs (minutes)",
    "tests/fake/test_outage.py": "scheduled outages in real time",
    "tests/bulk/test_late_retry.py": "waits out a retry applied seconds late",
    "tests/bulk/test_watch_ends.py": "watches jobs end in real time (settle rounds, 429s)",
    "tests/bulk/test_watch_rounds.py": "watches jobs end in real time (shifting lists, 404s)",
    "tests/reliability/test_adversarial.py": "property searches against a real server",
    "tests/reliability/test_bulk_faults.py": "two thousand jobs through faults",
    "tests/reliability/test_concurrency.py": "thousands of calls from threads and tasks",
    "tests/reliability/test_deadline.py": "waits for deadlines against a slow server",
    "tests/reliability/test_fault_matrix.py": "321 fault cases against a real server",
}

# Fixtures that make a test slow wherever it is.
SLOW_FIXTURES: dict[str, str] = {
    "processes": "starts processes",
    "prism_url": "starts Prism",
}

# Single tests in otherwise quick files: "real time" (they wait on the wall clock: job
# delays, rate windows, Retry-After, deadlines), "search" (hypothesis or schemathesis
# for seconds), "subprocess". By file: "name" for every parametrization, "name[id]" for one.
SLOW_TESTS: dict[str, dict[str, str]] = {
    "tests/bulk/test_batch.py": {
        "test_rows_are_read_as_they_are_sent_and_every_row_is_reported": "real time",
    },
    "tests/bulk/test_batch_resume.py": {
        "test_a_batch_started_again_at_once_keeps_to_the_accounts_window": "real time",
    },
    "tests/bulk/test_never_answered.py": {
        "test_the_cli_stops_with_exit_75_naming_the_address": "subprocess",
    },
    "tests/contract/test_changelog.py": {
        "test_update_spec_on_a_copy_reports_every_change": "subprocess",
    },
    "tests/contract/test_roundtrip.py": {
        "test_instances_parse_and_round_trip": "search",
    },
    "tests/fake/test_conditions.py": {
        "test_max_page_size_caps_pages_and_pagination_says_what_it_is_told": "real time",
    },
    "tests/fake/test_conformance.py": {
        "test_fake_conforms_to_the_spec": "search",
    },
    "tests/fake/test_fake_server.py": {
        "test_the_pytest_plugin_loads_nothing_heavy": "subprocess",
        "test_random_faults_are_reproducible_with_a_seed": "real time",
        "test_create_runs_then_completes": "real time",
    },
    "tests/fake/test_rate_limit.py": {
        "test_another_program_spends_its_part_of_the_same_window": "real time",
        "test_the_other_program_stops_and_the_window_frees_up": "real time",
        "test_the_window_admits_the_limit_then_429s_without_retry_after": "real time",
        "test_the_window_slides_rather_than_resets": "real time",
    },
    "tests/reliability/test_http_stack.py": {
        "test_environment_proxy_is_used_and_no_proxy_honoured": "real time",
        "test_explicit_proxy_is_used": "real time",
    },
    "tests/reliability/test_newer_server.py": {
        "test_cli_shows_the_unknown_status_and_fields": "real time",
        "test_wait_on_an_unknown_status_polls_until_its_deadline": "real time",
        "test_wait_treats_an_unknown_status_as_not_terminal": "real time",
    },
    "tests/reliability/test_secrets_transport.py": {
        "test_the_key_is_in_no_log_record_repr_error_traceback_or_journal": "real time",
    },
    "tests/wrapper/test_config.py": {
        "test_public_names_all_resolve_and_import_is_lazy": "subprocess",
    },
    "tests/wrapper/test_budget.py": {
        "test_never_exceeds_the_ceiling_whatever_the_other_program_does": "real time",
    },
    "tests/wrapper/test_retries.py": {
        "test_create_is_repeated_when_certainly_unprocessed[429]": "real time",
    },
    "tests/wrapper/test_sockets.py": {
        "test_connections_are_reused": "real time",
        "test_retry_after_is_honoured_on_the_wire": "real time",
    },
}

SPAWNERS: list[tuple[Any, str]] = [
    (subprocess.Popen, "_execute_child"),
    (os, "fork"),
    (os, "forkpty"),
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (pty, "fork"),
]


def slow_reason(item: pytest.Item, root: str) -> str | None:
    path = os.path.relpath(str(item.path), root).replace(os.sep, "/")
    for prefix, reason in SLOW_FILES.items():
        if path.startswith(prefix):
            return reason
    fixtures = getattr(item, "fixturenames", ())
    for name, reason in SLOW_FIXTURES.items():
        if name in fixtures:
            return reason
    names = SLOW_TESTS.get(path, {})
    return names.get(item.name) or names.get(item.name.split("[", 1)[0])


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = slow_reason(item, str(config.rootpath))
        if reason is not None:
            item.add_marker(pytest.mark.slow(reason=reason))


@pytest.fixture(autouse=True)
def quick_tests_start_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """In a test not marked slow, starting a process fails the test: list it above."""
    if request.node.get_closest_marker("slow") is not None:
        yield
        return
    started: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        started.append(repr(args[:2])[:200])
        raise RuntimeError(
            f"{request.node.nodeid} starts a process but is in the quick tier: "
            "add it to SLOW_FILES, SLOW_FIXTURES or SLOW_TESTS in tests/_tiers.py"
        )

    for owner, name in SPAWNERS:
        if hasattr(owner, name):
            monkeypatch.setattr(owner, name, refuse)
    yield
    # Reported once: here only when the code under test swallowed the refusal.
    assert not started or request.node.stash.get(_CALL_FAILED, False), (
        f"{request.node.nodeid} started a process ({started[0]}) but is in the quick tier: "
        "add it to SLOW_FILES, SLOW_FIXTURES or SLOW_TESTS in tests/_tiers.py"
    )
