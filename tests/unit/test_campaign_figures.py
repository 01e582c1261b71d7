"""Each campaign's day as the supervisor and /metrics see it (ivr/campaigns/figures.py): known
attempt rows and a known tally in, exact figures out; the page's section escapes a name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from ivr.campaigns import figures
from ivr.campaigns.figures import AIM, CAP, OK, CampaignDay, CampaignFigures, Row
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import PREDICTIVE, PROGRESSIVE
from ivr.i18n import Templates
from ivr.portal.board import Live
from ivr.portal.occupancy import Split, Tally

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "routing_rules"


def _campaigns() -> tuple:
    from ivr.routing import load_rules

    base = load_campaigns(RULES, load_rules(RULES)).by_id["rossi-solleciti"]
    sales = replace(base, id="sales", name="Offerte", mode=PREDICTIVE, amd=True,
                    operators=("op1", "op2"), zone="Europe/Rome")  # fmt: skip
    reminders = replace(base, id="reminders", mode=PROGRESSIVE, amd=False, operators=("op3",))
    idle = replace(base, id="idle", mode=PROGRESSIVE, operators=("op3",))
    return sales, reminders, idle


SALES, REMINDERS, IDLE = _campaigns()
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # 15:00 in Rome
MIDNIGHT_ROME = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


ROWS: list[Row] = [
    # connected within 1 s of the answer: a connect
    ("sales", "cmp-1", at(60), at(59.9), "HUMAN", at(59.88), None, at(55)),
    # connected 4 s after the answer: a connect and a drop (late, as the authority counts)
    ("sales", "cmp-2", at(50), at(49.9), None, at(49.9) + timedelta(seconds=4), None, at(45)),
    # dropped by the dialer
    ("sales", "cmp-3", at(40), at(39.9), "HUMAN", None, at(39.85), at(39.8)),
    # a machine AMD hung up on: a drop, not an answer by a person
    ("sales", "cmp-4", at(30), at(29.9), "MACHINE", None, None, at(29.8)),
    # rang out
    ("sales", "cmp-5", at(20), None, None, None, None, at(19.5)),
    # ringing now
    ("sales", "cmp-6", at(0.2), None, None, None, None, None),
    # 22:30 UTC on 1 Dec is 23:30 in Rome: yesterday's, not today's
    ("sales", "cmp-0", MIDNIGHT_ROME - timedelta(minutes=30), MIDNIGHT_ROME - timedelta(minutes=29),
     "HUMAN", MIDNIGHT_ROME - timedelta(minutes=29), None, MIDNIGHT_ROME - timedelta(minutes=20)),
    ("reminders", "cmp-7", at(10), at(9.9), None, at(9.9), None, at(5)),
    ("gone", "cmp-8", at(10), at(9.9), None, at(9.9), None, at(5)),  # its file was removed
]  # fmt: skip
CALLS = {"cmp-1": 300.0, "cmp-2": 330.0, "cmp-7": 240.0, "cmp-8": 60.0, "in-1": 900.0, "": 30.0}
LOGGED_IN = {"op1": 3600.0, "op2": 3600.0, "op3": 1800.0}  # 9000 s in all


def test_each_campaign_s_day_from_known_rows() -> None:
    days = figures.days([SALES, REMINDERS, IDLE], ROWS, NOW, {"sales"}, CALLS, LOGGED_IN, 0.03)
    assert set(days) == {"sales", "reminders"}  # idle: not running, nothing placed today
    sales = days["sales"]
    assert (sales.placed, sales.answered, sales.connected, sales.dropped, sales.ringing) == (
        6, 3, 2, 3, 1,
    )  # fmt: skip
    assert sales.drop_rate == 3 / 3
    assert sales.aim == 0.02  # predictive with AMD: a point under the cap
    assert sales.level == CAP
    assert sales.busy == 630.0
    assert sales.share == 630 / 9000
    assert sales.connects_per_hour == 2 / 2  # 2 connects over its operators' 2 hours
    reminders = days["reminders"]
    assert (reminders.placed, reminders.connected, reminders.dropped) == (1, 1, 0)
    assert reminders.aim == 0.03 and reminders.level == OK and reminders.drop_rate == 0
    assert reminders.share == 240 / 9000
    assert reminders.connects_per_hour == 1 / 0.5
    # The outbound part counts every campaign's calls, the one whose file is gone too.
    assert figures.outbound_busy(ROWS, CALLS) == 630 + 240 + 60


def test_the_drop_rate_against_the_aim_and_the_cap() -> None:
    def level(dropped: int, answered: int, aim: float) -> str:
        return CampaignDay("c", PREDICTIVE, aim, answered=answered, dropped=dropped).level

    assert level(1, 100, 0.02) == OK
    assert level(2, 100, 0.02) == AIM  # at the aim
    assert level(3, 100, 0.02) == CAP  # at the legal cap
    assert level(0, 0, 0.02) == OK  # nothing answered: no rate
    assert figures.aim(SALES, 0.05) == 0.02  # a setting never widens the legal cap
    assert figures.aim(REMINDERS, 0.01) == 0.01  # ... and may narrow it


def test_the_parts_of_occupancy_add_up() -> None:
    tally = Tally()
    op1, op2 = Live("op1", sessions=1, phone="idle"), Live("op2", sessions=1, phone="idle")
    start = NOW.replace(hour=0) + timedelta(hours=9)
    midnight = NOW.replace(hour=0)
    ops = {"op1": op1, "op2": op2}
    tally.observe(start, midnight, ops)  # each look counts the time since in what it saw
    op1.on_call = op1.last_call = "in-1"  # inbound
    op2.on_call = op2.last_call = "cmp-1"  # a campaign's
    tally.observe(start + timedelta(seconds=100), midnight, ops)  # 100 s available each
    op1.on_call = None  # done, no wrap-up
    op2.on_call, op2.wrap_up = None, True  # writing up the campaign's call
    tally.observe(start + timedelta(seconds=160), midnight, ops)  # 60 s talking each
    op2.wrap_up = False
    tally.observe(start + timedelta(seconds=200), midnight, ops)  # op2 40 s writing up
    tally.observe(start + timedelta(seconds=300), midnight, ops)  # 100 s available each
    assert dict(tally.calls) == {"in-1": 60.0, "cmp-1": 100.0}
    overall = tally.overall()
    assert (overall.logged_in, overall.busy) == (600.0, 160.0)
    split = Split.of(overall, tally.calls["cmp-1"])
    assert (split.inbound, split.outbound) == (60 / 600, 100 / 600)
    assert split.inbound + split.outbound == overall.occupancy


def test_metrics_carry_each_campaign_s_day() -> None:
    tally = Tally()
    collector = CampaignFigures(0.03)
    collector.tally = tally
    collector.campaigns, collector.rows, collector.now = (SALES, REMINDERS), ROWS, NOW
    collector.running = frozenset({"sales"})
    tally.calls.update(CALLS)
    tally.today["op1"].logged_in = 3600.0
    tally.today["op2"].logged_in = 3600.0
    tally.today["op3"].logged_in = 1800.0
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    for line in (
        'ivr_campaign_placed_today{campaign="sales"} 6.0',
        'ivr_campaign_answered_today{campaign="sales"} 3.0',
        'ivr_campaign_connected_today{campaign="sales"} 2.0',
        'ivr_campaign_dropped_today{campaign="sales"} 3.0',
        'ivr_campaign_drop_rate_today{campaign="sales"} 1.0',
        'ivr_campaign_ringing{campaign="sales"} 1.0',
        'ivr_campaign_drop_aim{campaign="sales"} 0.02',
        f'ivr_campaign_occupancy_today{{campaign="sales"}} {630 / 9000}',
        'ivr_campaign_connects_per_operator_hour_today{campaign="sales"} 1.0',
        'ivr_campaign_occupancy_today{campaign="reminders"} 0.02666666666666667',
    ):
        assert line in text, line
    assert collector.busy() == 930.0


def test_the_section_escapes_a_campaign_name() -> None:
    hostile = replace(SALES, name='<script>alert("x")</script>')
    day = figures.days([hostile], ROWS, NOW, {"sales"}, CALLS, LOGGED_IN, 0.03)["sales"]
    templates = Templates(ROOT / "ivr" / "campaigns" / "templates")
    html = templates.render(
        "supervisor_campaigns.html", "it", root="/console", rows=[(hostile, day)],
        modes={PREDICTIVE: "predittiva"}, cap="3",
    )  # fmt: skip
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Per campagna" in html and "limite di legge 3 %" in html
    assert 'data-level="cap"' in html
