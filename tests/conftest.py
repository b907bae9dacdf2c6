"""Fixtures and hooks shared by the test modules.

KVICK_REQUIRE_ALL=1 (set by .ci/run) turns every skip into a failure: a test that cannot run
there (missing shared data, P4Runtime stubs, p4runtime-shell, QEMU...) must not pass silently.
Strict xfails are not skips and stay as they are.
"""

from __future__ import annotations

import os

import pytest
from netns import TestBed, leftovers

REQUIRE_ALL = os.environ.get("KVICK_REQUIRE_ALL") == "1"
STUBS_MISSING = "stubs are missing"  # runtime_server.proto's and gnmi_proto's ImportError


@pytest.fixture
def bed():  # noqa: ANN201
    """Network namespaces and veth pairs for one test; nothing may be left behind."""
    with TestBed() as b:
        yield b
    assert leftovers() == []


def _skip_reason(longrepr: object) -> str:
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but KVICK_REQUIRE_ALL=1: {_skip_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    # A module that needs the generated P4Runtime/gNMI messages is skipped when they were never
    # generated (kvick's build generates them), unless CI requires all.
    if report.failed and STUBS_MISSING in str(report.longrepr):
        reason = "generated P4Runtime/gNMI messages are missing: build kvick (bash tools/install.sh)"
        if REQUIRE_ALL:
            report.longrepr = f"{reason} (KVICK_REQUIRE_ALL=1)"
        else:
            report.outcome = "skipped"
            report.longrepr = (str(collector.path), 0, reason)
    elif REQUIRE_ALL and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but KVICK_REQUIRE_ALL=1: {_skip_reason(report.longrepr)}"
