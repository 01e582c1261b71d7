"""The tests marked anyday pass on a national holiday, a Tuesday (see fixed_dates.py)."""

from __future__ import annotations

from fixed_dates import run_marked_at


def test_the_date_reading_tests_pass_on_a_national_holiday(postgres_server: str) -> None:
    run_marked_at("2026-12-08T10:30:00+01:00", postgres_server)
