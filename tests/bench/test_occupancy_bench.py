"""`make bench` occupancy at a smoke size: the benchmark runs and prints its table."""

from __future__ import annotations

import pytest

from bench import occupancy


def test_occupancy_bench_runs_at_a_smoke_size(capsys: pytest.CaptureFixture[str]) -> None:
    occupancy.cli(["--operators", "6", "--seeds", "1", "--hours", "1"])
    out = capsys.readouterr().out
    for mode in ("inbound", "preview", "progressive", "ratio", "predictive"):
        assert f"  {mode} " in out
    assert "6 operators, a 1 h day" in out


def test_the_dialer_benchs_workload_simulated(capsys: pytest.CaptureFixture[str]) -> None:
    occupancy.cli(["--like-dialer-bench", "--seeds", "1"])
    assert "predictive" in capsys.readouterr().out
