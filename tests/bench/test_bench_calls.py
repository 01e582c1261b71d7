"""The calls benchmark (calls through Asterisk) at its smoke size: see test_bench.py."""

from __future__ import annotations

import pytest
from test_bench import smoke

pytestmark = [pytest.mark.e2e]


def test_the_calls_benchmark_runs_at_smoke_size_and_prints_its_figures(
    asterisk_available: None,
) -> None:
    smoke("calls")
