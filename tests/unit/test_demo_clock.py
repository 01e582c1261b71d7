"""The demo's moment comes from the example rules: on every day of 2026-2028, whatever the
hour, the demo finds the next moment its clients are open by their own calendars and hours."""

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.campaigns.load import load_campaigns
from ivr.harness.campaign_demo import CAMPAIGN_FILE, demo_clock_for
from ivr.harness.demo import DEMO_SPAN, PUT_CALLER, demo_clock, demo_plan_at, put_through_client
from ivr.routing import CallInfo, Rules, evaluate, load_rules

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
ROME = ZoneInfo("Europe/Rome")
DAYS = [
    date(2026, 1, 1) + timedelta(days=n) for n in range((date(2029, 1, 1) - date(2026, 1, 1)).days)
]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(RULES)


def starts(day: date) -> datetime:
    """A different hour and minute on each day, so that every part of the day is tried."""
    n = day.toordinal()
    return datetime(day.year, day.month, day.day, n % 24, n * 7 % 60, tzinfo=ROME)


def open_to(rules: Rules, number: str, caller: str, at: datetime) -> bool:
    return evaluate(rules, CallInfo(called=number, caller=caller), at).open


def test_every_day_of_2026_to_2028_has_a_demo_moment_with_its_clients_open(rules: Rules) -> None:
    puts = put_through_client(rules)
    assert puts is not None
    waits = []
    for day in DAYS:
        now = starts(day)
        at = demo_clock(rules, now)
        assert now <= at < now + timedelta(days=5), now
        assert at == now or at.timestamp() % 900 == 0, (now, at)  # now, or a quarter hour
        for moment in (at, at + DEMO_SPAN / 2, at + DEMO_SPAN):
            plan = demo_plan_at(rules, moment)
            assert plan is not None, (now, moment)
            for number, caller, *_ in plan.calls:
                assert open_to(rules, number, caller, moment), (now, moment, number)
            assert open_to(rules, puts.numbers[0], PUT_CALLER[0], moment), (now, moment)
        waits.append(at - now)
    assert timedelta(0) in waits  # some days the demo runs in real time
    assert max(waits) > timedelta(days=2)  # and some it waits over a long holiday


def test_today_the_demo_waits_past_two_holidays_and_on_an_open_day_runs_now(
    rules: Rules,
) -> None:
    # Monday 7 December 2026: the Milan agency is closed (Sant'Ambrogio), the 8th is a
    # national holiday: the demo's moment is the 9th when the agency opens.
    at = demo_clock(rules, datetime(2026, 12, 7, 10, 37, tzinfo=ROME))
    assert at == datetime(2026, 12, 9, 9, 0, tzinfo=ROME)
    now = datetime(2026, 12, 9, 10, 37, tzinfo=ROME)
    assert demo_clock(rules, now) == now  # open now: the real time


def test_the_campaign_demo_moment_is_inside_the_campaign_window_every_day(
    rules: Rules, tmp_path: Path
) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    (folder / "campaigns" / "demo-solleciti.yaml").write_text(CAMPAIGN_FILE)
    campaign = load_campaigns(folder, load_rules(folder)).by_id["demo-solleciti"]
    for day in DAYS:
        now = starts(day)
        at = demo_clock_for(folder, campaign, now)
        assert now <= at < now + timedelta(days=5), now
        for moment in (at, at + DEMO_SPAN):
            assert campaign.window.is_open(moment, campaign.zone, campaign.holidays), moment
            assert open_to(rules, "0611111111", "0612345678", moment), moment
