"""The tests marked anyday pass on 29 February 2028 (see fixed_dates.py)."""

from __future__ import annotations

from fixed_dates import run_marked_at


def test_the_date_reading_tests_pass_on_29_february_2028(postgres_server: str) -> None:
    run_marked_at("2028-02-29T12:00:00+01:00", postgres_server)
