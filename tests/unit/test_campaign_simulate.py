"""The center's day simulator: a short day at a small size, its figures consistent."""

from __future__ import annotations

from ivr.campaigns.simulate import MODES, Center, simulate

SHORT_DAY = Center(operators=6, profile=(1.0,))


def test_every_mode_runs_a_day_and_the_figures_hold_together() -> None:
    out = {mode: simulate(SHORT_DAY, mode, 3) for mode in MODES}
    assert out["inbound"].placed == 0
    for r in out.values():
        assert 0 < r.occupancy <= 1
        assert r.talking <= r.occupancy
        assert r.offered > 0
        assert r.answered + r.abandoned <= r.offered
        assert r.connects <= r.people
    for mode in ("preview", "progressive", "ratio", "predictive"):
        assert out[mode].connects > 0
        assert out[mode].occupancy > out["inbound"].occupancy


def test_a_seed_is_a_day() -> None:
    a = simulate(SHORT_DAY, "predictive", 5)
    b = simulate(SHORT_DAY, "predictive", 5)
    assert a == b
