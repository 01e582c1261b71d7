"""The suite passes on any day: the tests marked `anyday` (those that read the date, and run
in this process: no real Asterisk, whose own clock cannot be moved) run again with the
process's clock started at awkward moments (`pytest --at`, time-machine), as `make test` runs.
Each moment is a test file of its own (test_at_*.py), so pytest-xdist's workers share them.

The real Asterisk tests take their moments from their rules or the engine's clock setting
(`IVR_CLOCK_START`), and the demo's moment from the example rules for every day of 2026-2028
(tests/unit/test_demo_clock.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = "pytest.mark." + "anyday"


def marked() -> list[str]:
    """The test files with tests marked anyday: the runs collect only these."""
    found = [p for p in sorted((ROOT / "tests").rglob("test_*.py")) if MARK in p.read_text()]
    return [str(p.relative_to(ROOT)) for p in found]


def run_marked_at(at: str, postgres_server: str) -> None:
    """Every test marked anyday, in a pytest of its own whose clock starts at `at`; on this
    session's PostgreSQL server (each test makes a database of its own there)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IVR_TEST_POSTGRES_URL": postgres_server}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "anyday", "--at", at, "-q", "-p", "no:xdist",
         "-p", "no:cacheprovider", "-x", *marked()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert done.returncode == 0, shown[-6000:]
    passed = re.search(r"([0-9]+) passed", done.stdout)
    assert passed and int(passed.group(1)) > 150, shown[-2000:]
