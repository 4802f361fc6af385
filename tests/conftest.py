"""Shared fixtures: a real SQLite database in a temp dir, a fake clock, wired services."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import Phase
from hypothesis import settings as hypothesis_settings

from truck_pos.bootstrap import Services, build
from truck_pos.clock import FakeClock
from truck_pos.config import load_settings

# scripts/mutation runs pytest with --hypothesis-profile=mutation: a mutant is killed by the first failing example,
# so shrinking it only costs time (minutes per mutant on the detector's model test, which mutmut then reports as
# a timeout instead of a kill).
hypothesis_settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate], database=None)

OUTPUT_DIR = Path(os.environ.get("TRUCK_POS_TEST_OUTPUT", Path(__file__).resolve().parent.parent / "test-output"))


@pytest.fixture
def output_dir() -> Path:
    """Where tests leave artifacts for a person to inspect (screenshots, receipts, charts)."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture
def clock() -> FakeClock:
    """Noon in Chicago on a June Monday, as UTC."""
    return FakeClock(datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc))


@pytest.fixture
def settings_env(tmp_path: Path) -> dict[str, str]:
    """Environment for load_settings: a temp database, no network, no hardware."""
    return {"TRUCK_POS_STORE_PATH": str(tmp_path / "truck.db"), "TRUCK_POS_TRUCK_ID": "truck-test"}


@pytest.fixture
def settings(settings_env):
    return load_settings(env=settings_env)


@pytest.fixture
def services(settings, clock) -> Services:
    """The wired services on a fresh database with the demo menu."""
    svc = build(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def manager_pin(services) -> str:
    services.staff.add("Maria", "9999", "manager")
    return "9999"


@pytest.fixture
def staff_pin(services) -> str:
    services.staff.add("Sam", "1234", "staff")
    return "1234"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failure: every real part (broker, PostgreSQL, Xvfb, Chromium, gcc)
    is installed by scripts/test, so a skip there means a test did not run that should have."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (every real part must be installed by scripts/test): {reason}"
