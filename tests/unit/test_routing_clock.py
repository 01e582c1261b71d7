"""Property tests for the clock: DST in Europe/Rome, spans past midnight, foreign zones."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.routing import CallInfo, Rules, evaluate, load_rules
from ivr.routing.clock import MINUTES_PER_DAY, MINUTES_PER_WEEK, Schedule, parse_days

ROME = ZoneInfo("Europe/Rome")
TOKYO = ZoneInfo("Asia/Tokyo")

SHARED = """\
fallback_group: fallback
operators: {op1: {name: Anna}}
groups: {fallback: {members: [op1]}}
"""

CLIENTS = {
    # 02:00-03:00 does not exist on the last Sunday of March, and happens twice in October.
    "dst": ("0611111111", 'daily: ["01:30-02:30", "02:45-03:15"]'),
    "night": ("0611111112", 'mon-fri: ["22:00-06:00"]'),
    "tokyo": ("0611111113", 'mon-fri: ["09:00-18:00"]'),
}


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Rules:
    root: Path = tmp_path_factory.mktemp("clock")
    (root / "shared.yaml").write_text(SHARED)
    (root / "clients").mkdir()
    for name, (number, hours) in CLIENTS.items():
        zone = "Asia/Tokyo" if name == "tokyo" else "Europe/Rome"
        (root / "clients" / f"{name}.yaml").write_text(
            f'name: {name}\nnumbers: ["{number}"]\ntimezone: {zone}\nhours:\n  {hours}\n'
            "rules:\n  - {when: {open: true}, to: fallback}\n  - to: message\n"
        )
    return load_rules(root)


def local_minute(instant: datetime, zone: ZoneInfo) -> tuple[int, int]:
    local = instant.astimezone(zone)
    return local.weekday(), local.hour * 60 + local.minute


def is_open(rules: Rules, number: str, instant: datetime) -> bool:
    return evaluate(rules, CallInfo(number, "333"), instant).open


# The weekend of the spring change (2025-03-30) and of the autumn change (2025-10-26).
DST_WEEKENDS = st.one_of(
    st.datetimes(datetime(2025, 3, 29, 20), datetime(2025, 3, 30, 6), timezones=st.just(UTC)),
    st.datetimes(datetime(2025, 10, 25, 20), datetime(2025, 10, 26, 6), timezones=st.just(UTC)),
)


@settings(max_examples=300, deadline=None)
@given(instant=DST_WEEKENDS)
def test_dst_open_follows_the_wall_clock(rules, instant):
    _, minute = local_minute(instant, ROME)
    expected = 90 <= minute < 150 or 165 <= minute < 195
    assert is_open(rules, "0611111111", instant) == expected


def test_spring_forward_skips_the_missing_hour(rules):
    # 00:59 UTC is 01:59 CET; one minute later it is 03:00 CEST: the 02:00-02:30 part never
    # happens that night, and 03:00-03:15 opens straight away.
    assert is_open(rules, "0611111111", datetime(2025, 3, 30, 0, 59, tzinfo=UTC))
    assert is_open(rules, "0611111111", datetime(2025, 3, 30, 1, 0, tzinfo=UTC))
    assert not is_open(rules, "0611111111", datetime(2025, 3, 30, 1, 15, tzinfo=UTC))


def test_fall_back_repeats_the_hour_with_the_same_decision(rules):
    first = datetime(2025, 10, 26, 2, 10, tzinfo=ROME)  # fold=0: CEST, 00:10 UTC
    second = first.replace(fold=1)  # CET, 01:10 UTC
    assert first.astimezone(UTC) + timedelta(hours=1) == second.astimezone(UTC)
    a = evaluate(rules, CallInfo("0611111111", "333"), first)
    b = evaluate(rules, CallInfo("0611111111", "333"), second)
    assert a.open and b.open and a == b


@settings(max_examples=300, deadline=None)
@given(instant=st.datetimes(datetime(2024, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)))
def test_night_shift_belongs_to_the_day_it_starts(rules, instant):
    weekday, minute = local_minute(instant, ROME)
    evening = weekday < 5 and minute >= 22 * 60  # Monday..Friday 22:00 onwards
    morning = (weekday - 1) % 7 < 5 and minute < 6 * 60  # ... until 06:00 the next day
    assert is_open(rules, "0611111112", instant) == (evening or morning)


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(datetime(2024, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    server=st.sampled_from([UTC, ROME, TOKYO, ZoneInfo("America/Los_Angeles")]),
)
def test_the_clients_zone_decides_not_the_servers(rules, instant, server):
    weekday, minute = local_minute(instant, TOKYO)
    expected = weekday < 5 and 9 * 60 <= minute < 18 * 60
    seen_by_server = instant.astimezone(server)  # the same instant, another zone
    decision = evaluate(rules, CallInfo("0611111113", "333"), seen_by_server)
    assert decision.open == expected


RANGE = st.tuples(st.integers(0, 23 * 60 + 59), st.integers(1, 24 * 60)).filter(
    lambda r: r[0] != r[1] % MINUTES_PER_DAY
)


@settings(max_examples=300, deadline=None)
@given(
    per_day=st.dictionaries(st.integers(0, 6), st.lists(RANGE, max_size=3), max_size=7),
    minute=st.integers(0, MINUTES_PER_WEEK - 1),
)
def test_schedule_matches_a_minute_by_minute_reference(per_day, minute):
    schedule = Schedule.from_ranges(per_day)
    covered = set()
    for day, ranges in per_day.items():
        for first, last in ranges:
            length = (last - first) % MINUTES_PER_DAY or MINUTES_PER_DAY
            start = day * MINUTES_PER_DAY + first
            covered.update((start + i) % MINUTES_PER_WEEK for i in range(length))
    assert (schedule.find(minute) is not None) == (minute in covered)


def test_days_parse():
    assert parse_days("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_days("fri-mon") == (0, 4, 5, 6)
    assert parse_days("sat, sun") == (5, 6)
    assert parse_days("daily") == tuple(range(7))
