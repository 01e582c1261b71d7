"""Every benchmark of bench/ runs at its smoke size (`python -m bench --smoke NAME`), as a
user runs it, and prints its figures: a change that breaks one fails here, not in `make bench`.
Nothing here looks at how fast anything went."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, IN_ALL

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
pytestmark = [pytest.mark.e2e]
# What each prints when it got to its end (a figure follows every one of these words).
FIGURES = {
    "routing": r"decision p50 [0-9.]+ us",
    "area": r"a call written .* with area_calls [0-9.]+ ms",
    "calls": r"(?m)^fastagi +[0-9]+ +[0-9]+ +[0-9.]+ms",
    "ingest": r"AMI ingest, PostgreSQL: [0-9]+ events",
    "idle": r"engine [0-9.]+ CPU s per minute",
    "dialer": r"(?m)^ratio +[0-9]+%",
    "occupancy": r"(?m)^  predictive +[0-9.]+%",
    "cluster": r"(?s)highest rate with 0 failed.*failover.*drain\s+[0-9]+",
}
# bench/soak.py's smoke run is tests/e2e/test_soak.py (60 calls through a kill and a cut link).
ELSEWHERE = {"soak"}
# The smoke runs of real calls, each in a file of its own (test_bench_NAME.py) so that
# pytest-xdist's workers run them side by side.
APART = {"calls", "dialer", "cluster"}


def test_every_benchmark_has_a_smoke_run_here() -> None:
    modules = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"__init__", "__main__", "pg"}
    assert modules == set(BENCHMARKS), "a benchmark module missing from bench/__main__.py"
    assert set(FIGURES) | ELSEWHERE == set(BENCHMARKS)
    assert set(IN_ALL) <= set(BENCHMARKS)
    apart = {p.stem.removeprefix("test_bench_") for p in HERE.glob("test_bench_*.py")}
    assert apart == APART


@pytest.mark.parametrize("name", sorted(set(FIGURES) - APART))
def test_benchmark_runs_at_smoke_size_and_prints_its_figures(
    name: str, asterisk_available: None
) -> None:
    smoke(name)


def smoke(name: str) -> None:
    """`python -m bench --smoke NAME` ends well and prints its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", name],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    shown = done.stdout + done.stderr
    assert done.returncode == 0, shown[-4000:]
    assert re.search(FIGURES[name], done.stdout), shown[-4000:]
