"""Today's occupancy and each inbound queue's day (ivr/portal/occupancy.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from ivr.portal.board import Live
from ivr.portal.occupancy import Figures, QueueDays, Tally, per_queue

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)


def test_occupancy_counts_busy_time_over_logged_in_time() -> None:
    tally = Tally()
    op = Live("op1", sessions=1, phone="idle")
    t = MIDNIGHT + timedelta(hours=9)
    tally.observe(t, MIDNIGHT, {"op1": op})
    op.on_call = "call-1"
    tally.observe(t + timedelta(seconds=60), MIDNIGHT, {"op1": op})  # 60 s available
    op.on_call, op.wrap_up = None, True
    tally.observe(t + timedelta(seconds=180), MIDNIGHT, {"op1": op})  # 120 s talking
    op.wrap_up = False
    tally.observe(t + timedelta(seconds=240), MIDNIGHT, {"op1": op})  # 60 s writing up
    assert tally.today["op1"].logged_in == 240
    assert tally.today["op1"].occupancy == 180 / 240
    op.sessions = 0  # logged out: the time after counts for nothing
    tally.observe(t + timedelta(seconds=300), MIDNIGHT, {"op1": op})
    tally.observe(t + timedelta(seconds=900), MIDNIGHT, {"op1": op})
    assert tally.today["op1"].logged_in == 300


def test_a_new_day_starts_from_zero_and_the_totals_go_on() -> None:
    tally = Tally()
    op = Live("op1", sessions=1, phone="idle", on_call="x")
    tally.observe(MIDNIGHT - timedelta(seconds=30), MIDNIGHT - timedelta(days=1), {"op1": op})
    tally.observe(MIDNIGHT + timedelta(seconds=30), MIDNIGHT, {"op1": op})
    assert tally.today["op1"].logged_in == 30  # only today's part
    assert tally.total["op1"].busy == 30


def test_per_queue_service_level_asa_and_abandoned() -> None:
    facts = [
        ("join", "team", None), ("connect", "team", 5), ("join", "team", None),
        ("connect", "team", 25), ("join", "team", None), ("abandon", "team", 40),
        ("join", "cmp-x", None), ("connect", "cmp-x", 1),  # a campaign's queue: not inbound
    ]  # fmt: skip
    days = per_queue(facts, 20)
    assert list(days) == ["team"]
    team = days["team"]
    assert (team.offered, team.answered, team.within, team.abandoned) == (3, 2, 1, 1)
    assert team.asa == 15
    assert team.service_level == 1 / 3
    assert team.abandon_rate == 1 / 3


def test_metrics_show_the_day() -> None:
    tally, queues = Tally(), QueueDays(20)
    op = Live("op1", sessions=1, phone="idle", on_call="x")
    tally.observe(MIDNIGHT, MIDNIGHT, {"op1": op})
    tally.observe(MIDNIGHT + timedelta(seconds=10), MIDNIGHT, {"op1": op})
    queues.add("join", "team", None)
    queues.add("connect", "team", 3)
    registry = CollectorRegistry()
    registry.register(Figures(tally, queues, lambda: 4.0))  # 4 s of it on outbound calls
    text = generate_latest(registry).decode()
    assert 'ivr_occupancy_part_today{part="inbound"} 0.6' in text
    assert 'ivr_occupancy_part_today{part="outbound"} 0.4' in text
    assert 'ivr_queue_abandon_rate_today{queue="team"} 0.0' in text
    assert 'ivr_operator_seconds_total{operator="op1",state="busy"} 10.0' in text
    assert 'ivr_operator_occupancy_today{operator="all"} 1.0' in text
    assert 'ivr_queue_service_level_today{queue="team"} 1.0' in text
    assert 'ivr_queue_asa_today_seconds{queue="team"} 3.0' in text
