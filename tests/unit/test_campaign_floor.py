"""The legal floor of outbound calls: its edges, the national holidays, files and settings that
would widen it, and a property: whatever campaign file loads, no dial is allowed outside it."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.campaigns import eligibility as el
from ivr.campaigns import floor
from ivr.campaigns.load import load_campaigns, settings_wider
from ivr.campaigns.model import Campaign
from ivr.config import Settings
from ivr.dialpolicy import DialPolicy
from ivr.routing import RulesError, load_rules

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
ROME = ZoneInfo("Europe/Rome")


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


# -- the edges -------------------------------------------------------------------------------

WEDNESDAY, SATURDAY, SUNDAY = (2027, 3, 3), (2027, 3, 6), (2027, 3, 7)


@pytest.mark.parametrize(
    ("kind", "at", "allowed"),
    [
        ("promotion", rome(*WEDNESDAY, 8, 59, 59), False),
        ("promotion", rome(*WEDNESDAY, 9, 0, 0), True),
        ("promotion", rome(*WEDNESDAY, 19, 59, 59), True),
        ("promotion", rome(*WEDNESDAY, 20, 0, 0), False),
        ("promotion", rome(*SATURDAY, 9, 59, 59), False),
        ("promotion", rome(*SATURDAY, 10, 0, 0), True),
        ("promotion", rome(*SATURDAY, 18, 59, 59), True),
        ("promotion", rome(*SATURDAY, 19, 0, 0), False),
        ("promotion", rome(*SUNDAY, 12, 0, 0), False),
        ("appointment", rome(*WEDNESDAY, 9, 0, 0), True),
        ("appointment", rome(*SUNDAY, 10, 0, 0), False),
        ("reminder", rome(*WEDNESDAY, 9, 0, 0), True),
        ("reminder", rome(*WEDNESDAY, 20, 0, 0), False),
        ("reminder", rome(*SATURDAY, 9, 0, 0), True),
        ("reminder", rome(*SATURDAY, 12, 59, 59), True),
        ("reminder", rome(*SATURDAY, 13, 0, 0), False),
        ("reminder", rome(*SUNDAY, 10, 0, 0), False),
    ],
)
def test_every_edge_of_the_hours(kind: str, at: datetime, allowed: bool) -> None:
    assert (floor.refuse(kind, at, "Europe/Rome") is None) is allowed


def test_a_call_must_ring_out_before_the_hours_close() -> None:
    late = floor.refuse("promotion", rome(*WEDNESDAY, 19, 59, 40), "Europe/Rome", 25)
    assert late is not None and late.reason == floor.RING_REASON
    assert floor.refuse("promotion", rome(*WEDNESDAY, 19, 59, 35), "Europe/Rome", 25) is None


def test_the_hours_are_the_contacts_own() -> None:
    at = datetime(2027, 3, 3, 8, 30, tzinfo=UTC)  # 09:30 in Rome, 08:30 in London
    assert floor.refuse("promotion", at, "Europe/Rome") is None
    assert floor.refuse("promotion", at, "Europe/London") is not None


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2027, 3, 29), "Lunedì dell'Angelo (Pasquetta)"),  # Easter Sunday is 28 March
        (date(2026, 4, 6), "Lunedì dell'Angelo (Pasquetta)"),
        (date(2026, 12, 8), "Immacolata Concezione"),
        (date(2027, 12, 8), "Immacolata Concezione"),
        (date(2026, 12, 25), "Natale"),
        (date(2026, 12, 26), "Santo Stefano"),
        (date(2027, 1, 6), "Epifania"),
        (date(2027, 4, 25), "Festa della Liberazione"),
        (date(2027, 6, 2), "Festa della Repubblica"),
        (date(2027, 8, 16), None),
        (date(2027, 3, 30), None),  # Easter Tuesday
        (date(2026, 10, 4), "San Francesco d'Assisi"),
        (date(2025, 10, 4), None),
    ],
)
def test_the_national_holidays(day: date, name: str | None) -> None:
    assert floor.national_holiday(day) == name


def test_no_call_on_a_holiday_whatever_the_hours() -> None:
    for day in (date(2027, 3, 29), date(2026, 12, 8), date(2027, 12, 8)):
        at = datetime.combine(day, datetime.min.time(), ROME).replace(hour=11)
        refusal = floor.refuse("promotion", at, "Europe/Rome")
        assert refusal is not None and refusal.reason == floor.HOLIDAY_REASON
        assert floor.refuse("reminder", at, "Europe/Rome") is not None


# -- files and settings that would widen it ------------------------------------------------------


@pytest.fixture(scope="module")
def rules_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES, root)
    for file in (root / "campaigns").glob("*.yaml"):
        file.unlink()
    return root


BASE = (
    "name: Prova\nclient: casa-bella-immobiliare\nkind: {kind}\ngroups: [day]\n"
    'caller_id: "0699887766"\n'
)


def write(root: Path, text: str, name: str = "prova.yaml") -> Path:
    folder = root / "campaigns"
    for file in folder.glob("*.yaml"):
        file.unlink()
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_wider_file_is_refused_where_it_says_so(rules_copy: Path) -> None:
    text = BASE.format(kind="promotion") + "hours: {mon-sun: ['07:00-23:00']}\ncalendars: []\n"
    path = write(rules_copy, text)
    with pytest.raises(RulesError) as caught:
        load_campaigns(rules_copy, load_rules(rules_copy))
    message = str(caught.value)
    assert f"{path}:6:9" in message and "wider than the law allows" in message
    narrow = BASE.format(kind="promotion") + "hours: {mon-fri: ['10:00-18:00']}\n"
    write(rules_copy, narrow)
    assert "prova" in load_campaigns(rules_copy, load_rules(rules_copy)).by_id


def test_a_file_without_calendars_still_keeps_the_national_holidays(rules_copy: Path) -> None:
    write(rules_copy, BASE.format(kind="promotion") + "calendars: []\n")
    campaign = load_campaigns(rules_copy, load_rules(rules_copy)).by_id["prova"]
    christmas = rome(2026, 12, 25, 10, 0)
    assert not campaign.window.is_open(christmas, "Europe/Rome", campaign.holidays)
    assert campaign.window.next_open(christmas, "Europe/Rome", campaign.holidays) == rome(
        2026, 12, 28, 9, 0
    )


def test_a_wider_setting_refuses_to_start(rules_copy: Path) -> None:
    assert settings_wider(Settings()) == []
    wide = Settings(campaign_hours_weekdays="08:00-21:00", campaign_drop_cap=0.05,
                    campaign_drop_rest_days=2, campaign_register_max_days=30)  # fmt: skip
    problems = settings_wider(wide)
    assert len(problems) == 4
    assert any("campaign_hours_weekdays" in p for p in problems)
    write(rules_copy, BASE.format(kind="promotion"))
    with pytest.raises(RulesError, match="campaign_drop_cap"):
        load_campaigns(rules_copy, load_rules(rules_copy), wide)
    narrower = Settings(campaign_hours_weekdays="10:00-18:00", campaign_drop_cap=0.02)
    assert settings_wider(narrower) == []


# -- the property: nothing loads that could dial outside the floor -------------------------------

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "mon-fri", "mon-sun", "eve")


@st.composite
def hours_of(draw: st.DrawFn) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in draw(st.lists(st.sampled_from(DAY_KEYS), min_size=1, max_size=4, unique=True)):
        start = draw(st.integers(0, 23 * 60))
        end = draw(st.integers(start + 1, 24 * 60 - 1))
        out[key] = [f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"]
    return out


def oracle(kind: str, at: datetime, zone: str, ring: int) -> bool:
    """The law as written in the issue, by hand: may a call start now and ring `ring` s?"""
    local = at.astimezone(ZoneInfo(zone))
    if local.weekday() == 6 or floor.national_holiday(local.date()) is not None:
        return False
    if local.weekday() == 5:
        first, last = (9, 13) if kind == "reminder" else (10, 19)
    else:
        first, last = 9, 20
    second = local.hour * 3600 + local.minute * 60 + local.second
    return first * 3600 <= second and second + ring <= last * 3600


FRESH = el.ContactFacts(
    number="+390612345678", zone=None, attempts=0, attempts_today=0,
    list_checked_on=None, in_register=False,
)  # fmt: skip
START = datetime(2026, 1, 1, tzinfo=UTC)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["promotion", "appointment", "reminder"]),
    hours=st.one_of(st.none(), hours_of()),
    calendars=st.sampled_from(["", "calendars: []\n"]),
    ring=st.integers(5, 60),
    instants=st.lists(st.integers(0, 3 * 365 * 24 * 3600), min_size=20, max_size=20),
    zone=st.sampled_from(["Europe/Rome", "Europe/London", "America/New_York"]),
)
def test_no_campaign_that_loads_dials_outside_the_floor(
    rules_copy: Path,
    kind: str,
    hours: dict[str, list[str]] | None,
    calendars: str,
    ring: int,
    instants: list[int],
    zone: str,
) -> None:
    text = BASE.format(kind=kind) + calendars + f"pacing: {{ring: {ring}}}\n"
    if kind == "appointment":
        text += "salespeople: {anna: {name: Anna, hours: {mon-fri: ['09:00-18:00']}}}\n"
    if hours is not None:
        text += "hours: {" + ", ".join(f"{k}: {v!r}" for k, v in hours.items()) + "}\n"
    write(rules_copy, text)
    try:
        campaign: Campaign = load_campaigns(rules_copy, load_rules(rules_copy)).by_id["prova"]
    except RulesError:
        return  # refused: nothing dials
    contact = replace(FRESH, zone=zone)
    for offset in instants:
        at = START + timedelta(seconds=offset)
        checked = replace(contact, list_checked_on=at.astimezone(ROME).date())
        verdict = el.judge(campaign, checked, at, DialPolicy(), 15)
        if verdict is None:
            assert oracle(kind, at, zone, ring), (at, zone, hours)


# -- what a campaign file may not say ------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller_id", "why"),
    [("0", "caller_id 0:"), ("899123456", "caller_id 899123456:"), ("0612345678", "client")],
)
def test_the_presented_number_is_the_centers_and_passes_the_dial_policy(
    rules_copy: Path, caller_id: str, why: str
) -> None:
    text = BASE.format(kind="promotion").replace("0699887766", caller_id)
    path = write(rules_copy, text)
    rules = load_rules(rules_copy)
    if why == "client":  # a number a client's callers dial: theirs, not the callback IVR's
        caller_id = next(iter(rules.number_index)).removeprefix("+39")
        path = write(rules_copy, BASE.format(kind="promotion").replace("0699887766", caller_id))
    with pytest.raises(RulesError) as caught:
        load_campaigns(rules_copy, rules)
    assert f"{path}:5:" in str(caught.value) and why in str(caught.value)


def test_a_reminder_discloses_nothing_and_leaves_nothing_on_a_machine(rules_copy: Path) -> None:
    path = write(rules_copy, BASE.format(kind="reminder") + "callback: la fattura non pagata\n")
    with pytest.raises(RulesError, match=f"{path}:6:11: a reminder's call back"):
        load_campaigns(rules_copy, load_rules(rules_copy))
    write(rules_copy, BASE.format(kind="reminder"))
    reminder = load_campaigns(rules_copy, load_rules(rules_copy)).by_id["prova"]
    assert reminder.amd  # on by default: a machine is hung up on, it hears nothing
    from ivr.campaigns import speech

    assert "fattura" not in speech.callback_purpose(replace(reminder, callback="fattura"))


def test_a_recorded_call_always_hears_the_fixed_notice_first(rules_copy: Path) -> None:
    from ivr.campaigns import speech

    text = BASE.format(kind="promotion") + "recording: {enabled: true, announcement: Buongiorno.}\n"
    write(rules_copy, text)
    campaign = load_campaigns(rules_copy, load_rules(rules_copy)).by_id["prova"]
    prompt = speech.announcement_prompt(campaign)
    assert prompt is not None and prompt.text is not None
    notice = speech.recording_notice(campaign.language)
    assert prompt.text.startswith(notice) and prompt.text.endswith("Buongiorno.")
    assert speech.announcement_prompt(replace(campaign, recording=False)) is None


def test_the_check_command_says_what_the_floor_refuses(
    rules_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivr.__main__ import main

    monkeypatch.setenv("IVR_CLOCK_START", "2027-03-26T09:00:00Z")  # Friday before Easter
    monkeypatch.setenv("IVR_AMI_SECRET", "x")
    path = write(rules_copy, BASE.format(kind="promotion") + "calendars: []\n")
    assert main(["campaign", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Sun 2027-03-28  no calls: Sunday (the law)" in out
    assert "Mon 2027-03-29  no calls: national holiday (Lunedì dell'Angelo" in out
    assert "Tue 2027-03-30  09:00-20:00 (last call starts 19:59:35)" in out
    assert "Sat 2027-03-27  10:00-19:00 (last call starts 18:59:35)" in out
    wide = write(rules_copy, BASE.format(kind="promotion") + "hours: {sun: ['10:00-12:00']}\n")
    assert main(["campaign", "check", str(wide)]) == 1
    assert f"{wide}:6:9: hours: Sunday: no promotion call" in capsys.readouterr().err


async def test_the_dialer_does_not_start_with_a_wider_setting() -> None:
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry

    from ivr.campaigns.dialer import CampaignDialer
    from ivr.config import ConfigError

    services: Any = SimpleNamespace(
        settings=Settings(campaign_hours_saturday="09:00-21:00"),
        metrics=SimpleNamespace(registry=CollectorRegistry()),
    )
    with pytest.raises(ConfigError, match="campaign_hours_saturday"):
        await CampaignDialer(services).start()
