"""The tests marked anyday pass on a Sunday morning (see fixed_dates.py)."""

from __future__ import annotations

from fixed_dates import run_marked_at


def test_the_date_reading_tests_pass_on_a_sunday_morning(postgres_server: str) -> None:
    run_marked_at("2027-01-03T09:15:00+01:00", postgres_server)
