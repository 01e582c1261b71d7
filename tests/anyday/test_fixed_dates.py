"""The suite passes on any day: the tests marked `anyday` (those that read the date, and run
in this process: no real Asterisk, whose own clock cannot be moved) run again here with the
process's clock started at awkward moments (`pytest --at`, time-machine), as `make test` runs.

The real Asterisk tests take their moments from their rules or the engine's clock setting
(`IVR_CLOCK_START`), and the demo's moment from the example rules for every day of 2026-2028
(tests/unit/test_demo_clock.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATES = {
    "a national holiday (Immacolata), a Tuesday": "2026-12-08T10:30:00+01:00",
    "a Sunday morning": "2027-01-03T09:15:00+01:00",
    "31 December 23:59, Rome": "2026-12-31T23:59:00+01:00",
    "one minute before the clocks go forward in Rome": "2027-03-28T01:59:00+01:00",
    "29 February 2028": "2028-02-29T12:00:00+01:00",
}


def marked() -> list[str]:
    """The test files with tests marked anyday: the runs below collect only these."""
    found = [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if MARK in p.read_text()]
    return [str(p.relative_to(ROOT)) for p in found]


MARK = "pytest.mark." + "anyday"


@pytest.mark.parametrize("at", DATES.values(), ids=DATES.keys())
def test_the_date_reading_tests_pass_at(at: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "anyday", "--at", at, "-q", "-p", "no:xdist",
         "-p", "no:cacheprovider", "-x", *marked()],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert done.returncode == 0, shown[-6000:]
    passed = re.search(r"([0-9]+) passed", done.stdout)
    assert passed and int(passed.group(1)) > 150, shown[-2000:]


@pytest.mark.anyday
def test_the_process_clock_is_where_at_puts_it(request: pytest.FixtureRequest) -> None:
    """Under --at, datetime.now, date.today and time.time start at that moment and tick on."""
    at = request.config.getoption("--at")
    expected = datetime.fromisoformat(at) if at else datetime.now(UTC)
    assert timedelta(0) <= datetime.now(UTC) - expected < timedelta(minutes=30)
    assert 0 <= time.time() - expected.timestamp() < 1800
    local = expected.astimezone()
    assert date.today() in (local.date(), (local + timedelta(minutes=30)).date())
