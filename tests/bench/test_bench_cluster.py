"""The cluster benchmark (the Kamailio cluster) at its smoke size: see test_bench.py."""

from __future__ import annotations

import pytest
from test_bench import smoke

pytestmark = [pytest.mark.e2e]


def test_the_cluster_benchmark_runs_at_smoke_size_and_prints_its_figures(
    asterisk_available: None,
) -> None:
    smoke("cluster")
