"""The tests marked anyday pass a minute before the clocks go forward in Rome (fixed_dates.py)."""

from __future__ import annotations

from fixed_dates import run_marked_at


def test_the_date_reading_tests_pass_a_minute_before_the_clocks_go_forward(
    postgres_server: str,
) -> None:
    run_marked_at("2027-03-28T01:59:00+01:00", postgres_server)
