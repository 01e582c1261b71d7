"""The tests marked anyday pass at 31 December 23:59 in Rome (see fixed_dates.py)."""

from __future__ import annotations

from fixed_dates import run_marked_at


def test_the_date_reading_tests_pass_at_new_years_eve_2359(postgres_server: str) -> None:
    run_marked_at("2026-12-31T23:59:00+01:00", postgres_server)
