"""Campaign files, calling windows, and who may be called: the pure parts."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.__main__ import main
from ivr.campaigns import eligibility as el
from ivr.campaigns import floor
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import CONNECTED, DROPPED, NO_ANSWER
from ivr.campaigns.windows import default_window, window_of
from ivr.config import Settings
from ivr.dialpolicy import DialPolicy
from ivr.routing import RulesError, load_rules
from ivr.routing.clock import Holiday, HolidayBook

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
ROME = ZoneInfo("Europe/Rome")
S = Settings()


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def italy() -> HolidayBook:
    book = HolidayBook()
    book.add_yearly(12, 25, Holiday("Natale"))
    book.add_yearly(8, 15, Holiday("Ferragosto"))
    book.add_yearly(12, 24, Holiday("Vigilia", until=13 * 60))
    return book


PROMO = default_window("promotion", S.campaign_hours_weekdays, S.campaign_hours_saturday,
                       S.campaign_hours_eve, S.reminder_hours_weekdays,
                       S.reminder_hours_saturday)  # fmt: skip
REMIND = default_window("reminder", S.campaign_hours_weekdays, S.campaign_hours_saturday,
                        S.campaign_hours_eve, S.reminder_hours_weekdays,
                        S.reminder_hours_saturday)  # fmt: skip


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (rome(2026, 12, 2, 9, 0), True),  # a Wednesday
        (rome(2026, 12, 2, 8, 59), False),
        (rome(2026, 12, 2, 19, 59), True),
        (rome(2026, 12, 2, 20, 0), False),
        (rome(2026, 12, 5, 10, 0), True),  # Saturday 10:00-19:00
        (rome(2026, 12, 5, 19, 1), False),  # Saturday 19:01
        (rome(2026, 12, 6, 12, 0), False),  # Sunday
        (rome(2026, 12, 25, 12, 0), False),  # Christmas
        (rome(2027, 8, 13, 19, 30), True),  # Friday 13 August: no holiday tomorrow
        (rome(2027, 8, 14, 19, 30), False),  # Saturday, the eve of Ferragosto
        (rome(2026, 8, 14, 9, 30), False),  # Friday, eve of Ferragosto: from 10:00
        (rome(2026, 8, 14, 19, 30), False),  # ... until 19:00
        (rome(2026, 8, 14, 18, 59), True),
        (rome(2026, 12, 24, 12, 59), True),  # a partial holiday: open until 13:00
        (rome(2026, 12, 24, 13, 0), False),
    ],
)
def test_the_default_promotion_window_in_rome(at: datetime, open_: bool) -> None:
    assert PROMO.is_open(at, "Europe/Rome", italy()) is open_


def test_the_window_is_the_contacts_own_time_zone() -> None:
    # 09:30 in Rome is 08:30 in London: closed for a contact there.
    at = rome(2026, 12, 2, 9, 30)
    assert PROMO.is_open(at, "Europe/Rome", HolidayBook())
    assert not PROMO.is_open(at, "Europe/London", HolidayBook())


def test_the_next_opening_skips_sunday_and_holidays() -> None:
    saturday_evening = rome(2026, 12, 5, 19, 1)
    assert PROMO.next_open(saturday_evening, "Europe/Rome", italy()) == rome(2026, 12, 7, 9, 0)
    christmas_eve = rome(2026, 12, 24, 13, 30)  # then Christmas, then Saturday 26th
    assert PROMO.next_open(christmas_eve, "Europe/Rome", italy()) == rome(2026, 12, 26, 10, 0)
    inside = rome(2026, 12, 2, 11, 0)
    assert PROMO.next_open(inside, "Europe/Rome", italy()) == inside


def test_reminders_have_their_own_window() -> None:
    assert REMIND.is_open(rome(2026, 12, 5, 9, 30), "Europe/Rome", italy())
    assert not REMIND.is_open(rome(2026, 12, 5, 13, 30), "Europe/Rome", italy())
    custom = window_of({"mon-fri": ("10:00-12:00",)})
    assert not custom.is_open(rome(2026, 12, 2, 12, 0), "Europe/Rome", italy())


def test_the_example_campaigns_load_and_ivr_check_reports_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = load_rules(RULES)
    campaigns = load_campaigns(RULES, rules)
    assert set(campaigns.by_id) == {"rossi-solleciti", "casa-bella-appuntamenti", "bianchi-promo",
                                    "casa-bella-appuntamenti-verify"}  # fmt: skip
    checking = campaigns.by_id["casa-bella-appuntamenti-verify"]  # made for its billing
    assert checking.kind == "verification" and checking.verifies == "casa-bella-appuntamenti"
    assert checking.recording and not checking.register_required and checking.mode == "progressive"
    reminder = campaigns.by_id["rossi-solleciti"]
    assert reminder.kind == "reminder" and not reminder.register_required
    assert campaigns.by_id["casa-bella-appuntamenti"].register_required
    assert not campaigns.by_id["bianchi-promo"].register_required  # own customers
    assert reminder.operators == ("op1", "op2") and reminder.queue == "cmp-rossi-solleciti"
    assert main(["check", str(RULES)]) == 0
    assert capsys.readouterr().out.endswith(", 3 campaigns\n")  # files (verification: made)


def test_a_broken_campaign_file_is_reported_as_file_line_column(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    bad = rules / "campaigns" / "bad.yaml"
    bad.write_text(
        "name: Bad\n"
        "client: nobody\n"
        "kind: appointment\n"
        "groups: [day, nightshift]\n"
        'caller_id: "0699"\n'
        "hours: {mon-fri: ['09:00-25:00']}\n"
        "pacing: {mode: turbo}\n"
    )
    with pytest.raises(RulesError) as caught:
        load_campaigns(rules, load_rules(rules))
    text = str(caught.value)
    assert f"{bad}:7:16: pacing.mode: expected one of preview, progressive, ratio" in text
    bad.write_text(
        "name: Bad\nclient: nobody\nkind: appointment\ngroups: [day, nightshift]\n"
        "caller_id: \"0699\"\nhours: {mon-fri: ['09:00-25:00']}\n"
    )
    with pytest.raises(RulesError) as caught:
        load_campaigns(rules, load_rules(rules))
    [line] = str(caught.value).splitlines()  # a value of the wrong shape: found as it is read
    assert line.startswith(f"{bad}:6:19: mon-fri '09:00-25:00': must match")
    bad.write_text(
        "name: Bad\nclient: nobody\nkind: appointment\ngroups: [day, nightshift]\n"
        "caller_id: \"0699\"\nhours: {mon-fri: ['09:00-18:00']}\n"
    )
    with pytest.raises(RulesError) as caught:
        load_campaigns(rules, load_rules(rules))
    lines = str(caught.value).splitlines()  # then every reference, all at once
    assert f"{bad}:2:9: unknown client 'nobody'" in lines[0]
    assert any(line.startswith(f"{bad}:4:15: unknown group 'nightshift'") for line in lines)
    assert any("needs its salespeople" in line for line in lines)


CAMPAIGN = load_campaigns(RULES, load_rules(RULES)).by_id["casa-bella-appuntamenti"]
NOW = rome(2026, 12, 2, 11, 0).astimezone(UTC)


def facts(**changes: object) -> el.ContactFacts:
    base = el.ContactFacts(
        number="+390612345678", zone=None, attempts=0, attempts_today=0,
        list_checked_on=date(2026, 11, 30), in_register=False,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_who_may_be_called_and_why_not() -> None:
    policy = DialPolicy()
    judge = lambda f: el.judge(CAMPAIGN, f, NOW, policy, 15)  # noqa: E731
    assert judge(facts()) is None
    assert judge(facts(number="+39899123456")).reason == el.POLICY
    assert judge(facts(do_not_call=frozenset({"*"}))).reason == el.DNC_CENTER
    client = judge(facts(do_not_call=frozenset({"casa-bella-immobiliare"})))
    assert client.reason == el.DNC_CLIENT and client.permanent
    assert judge(facts(in_register=True)).reason == el.REGISTER
    stale = judge(facts(list_checked_on=date(2026, 11, 16)))  # 16 days before
    assert stale.reason == el.REGISTER_STALE and not stale.permanent
    assert judge(facts(list_checked_on=date(2026, 11, 17))) is None  # 15 days: still fresh
    assert judge(facts(list_checked_on=None)).reason == el.REGISTER_STALE
    assert judge(facts(attempts=5)).reason == el.ATTEMPTS
    today = judge(facts(attempts_today=2))
    assert today.reason == el.PER_DAY and today.until == rome(2026, 12, 3, 9, 0)
    checked = facts(list_checked_on=date(2026, 11, 20))  # a check before those days
    evening = el.judge(CAMPAIGN, checked, rome(2026, 11, 28, 19, 1), policy, 15)
    assert evening.reason == floor.HOURS_REASON and evening.until == rome(2026, 11, 30, 9, 0)
    # Milan's Sant'Ambrogio (7 December) then the Immacolata: closed until the 9th.
    milan = el.judge(CAMPAIGN, checked, rome(2026, 12, 5, 19, 1), policy, 15)
    assert milan.until == rome(2026, 12, 9, 9, 0)


def test_reminders_never_need_the_register() -> None:
    reminder = load_campaigns(RULES, load_rules(RULES)).by_id["rossi-solleciti"]
    assert el.judge(reminder, facts(list_checked_on=None, in_register=True), NOW,
                    DialPolicy(), 15) is None  # fmt: skip


def test_what_becomes_of_a_contact_after_a_call() -> None:
    no_answer = el.after_call(CAMPAIGN, NO_ANSWER, NOW, 1, 5)
    assert no_answer.status == el.PENDING and no_answer.next_at == NOW + timedelta(minutes=120)
    dropped = el.after_call(CAMPAIGN, DROPPED, NOW, 1, 5)
    assert dropped.next_at == NOW + timedelta(days=5)
    assert el.after_call(CAMPAIGN, NO_ANSWER, NOW, 5, 5).status == el.EXHAUSTED
    assert el.after_call(CAMPAIGN, CONNECTED, NOW, 1, 5).status == el.TALKING
    later = NOW + timedelta(days=1)
    assert el.after_outcome("callback", later, NOW) == el.Next(el.PENDING, later, "call back")
    assert el.after_outcome("do-not-call", None, NOW).status == el.DONE
