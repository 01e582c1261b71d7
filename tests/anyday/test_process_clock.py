"""`pytest --at ISO` moves this process's clock (tests/conftest.py: suite_clock)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest


@pytest.mark.anyday
def test_the_process_clock_is_where_at_puts_it(request: pytest.FixtureRequest) -> None:
    """Under --at, datetime.now, date.today and time.time start at that moment and tick on."""
    at = request.config.getoption("--at")
    expected = datetime.fromisoformat(at) if at else datetime.now(UTC)
    assert timedelta(0) <= datetime.now(UTC) - expected < timedelta(minutes=30)
    assert 0 <= time.time() - expected.timestamp() < 1800
    local = expected.astimezone()
    assert date.today() in (local.date(), (local + timedelta(minutes=30)).date())
