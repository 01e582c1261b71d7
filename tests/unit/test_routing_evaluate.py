"""evaluate(): open/closed, holidays, callers, menus, overflow and overrides."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.routing import CallInfo, Override, Overrides, Rules, Step, evaluate, load_rules
from ivr.routing.clock import easter_sunday

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")

SHARED = """\
fallback_group: fallback
operators:
  op1: {name: Anna, languages: [it, en], skills: [plumbing]}
  op2: {name: Bruno, languages: [it], skills: [legal]}
  op3: {name: Carla, languages: [de, en], skills: [legal], endpoint: carla-desk}
groups:
  day: {members: [op1, op2], timeout: 15}
  fallback: {members: [op3]}
calendars:
  italy:
    holidays:
      - {date: "12-25", name: Natale}
      - {easter: 1, name: Pasquetta}
      - {date: "12-24", name: Vigilia, until: "13:00"}
      - {date: "12-31", name: San Silvestro, hours: ["10:00-12:00"]}
  rome:
    include: [italy]
    holidays:
      - {date: "06-29", name: Santi Pietro e Paolo}
prompts:
  main: {file: custom/main}
  sub: {text: "Premere 1 per la contabilità"}
ladders:
  night:
    contacts: [{name: Mario, number: "3331234567"}]
"""

SHOP = """\
name: Bottega
numbers: ["0611111111"]
timezone: Europe/Rome
language: it
calendars: [rome]
closures:
  - {date: "2025-08-11", through: "2025-08-15", name: ferie}
hours:
  mon-fri: ["08:00-12:30", "14:00-18:00"]
  sat: ["22:00-06:00"]
callers:
  vip: ["0612345678", "0039335*"]
  blocked: ["0699999999"]
menus:
  main:
    prompt: main
    timeout: 4
    retries: 2
    options:
      "1": {escalate: night, max_seconds: 45}
      "2": {menu: sub}
      "9": message
    default: [fallback, message]
  sub:
    prompt: sub
    options:
      "1": {operator: op3}
      "0": {menu: main}
rules:
  - name: blocked
    when: {caller_in: [blocked]}
    to: hangup
  - name: vip
    when: {caller_in: [vip], open: true}
    priority: vip
    to: [{operator: op2, timeout: 10}, day, message]
  - name: withheld
    when: {withheld: true}
    to: {message: true, max_seconds: 30}
  - name: again
    when: {repeat_within: 300, open: true}
    priority: high
    to: [fallback, day]
  - name: open
    when: {open: true}
    to:
      - day
      - {skill: legal, language: en, timeout: 12}
      - message
  - name: night
    when: {open: false, hours: ["20:00-08:00"]}
    to:
      - {forward: "3470000000", days: mon-fri, hours: ["20:00-23:00"]}
      - {menu: main}
  - name: closed
    to: message
"""

NY = """\
name: Manhattan Desk
numbers: ["0212345678"]
timezone: America/New_York
hours:
  mon-fri: ["09:00-17:00"]
rules:
  - when: {open: true}
    to: day
  - to: message
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Rules:
    root: Path = tmp_path_factory.mktemp("rules")
    (root / "shared.yaml").write_text(SHARED)
    (root / "clients").mkdir()
    (root / "clients" / "shop.yaml").write_text(SHOP)
    (root / "clients" / "ny.yaml").write_text(NY)
    loaded = load_rules(root)
    assert loaded.warnings == ()
    return loaded


def at(*args: int, tz: ZoneInfo = ROME) -> datetime:
    return datetime(*args, tzinfo=tz)


def shop(rules: Rules, when: datetime, caller: str = "3331112222", **kw) -> object:
    return evaluate(rules, CallInfo("0611111111", caller, **kw), when)


DAY = Step(kind="operators", operators=("op1", "op2"), group="day", timeout=15)
FALLBACK = Step(kind="operators", operators=("carla-desk",), group="fallback", timeout=20)


@pytest.mark.parametrize(
    ("when", "is_open", "why"),
    [
        (at(2025, 3, 3, 8, 0), True, "opening hours 08:00-12:30"),  # Monday, first minute
        (at(2025, 3, 3, 12, 29), True, "opening hours 08:00-12:30"),
        (at(2025, 3, 3, 12, 30), False, "closed: outside opening hours"),  # lunch: split shift
        (at(2025, 3, 3, 14, 0), True, "opening hours 14:00-18:00"),
        (at(2025, 3, 3, 18, 0), False, "closed: outside opening hours"),
        (at(2025, 3, 8, 23, 0), True, "opening hours 22:00-06:00"),  # Saturday night...
        (at(2025, 3, 9, 5, 59), True, "opening hours 22:00-06:00"),  # ...into Sunday morning
        (at(2025, 3, 9, 6, 0), False, "closed: outside opening hours"),
        (at(2025, 12, 25, 9, 0), False, "holiday: Natale"),
        (at(2025, 4, 21, 9, 0), False, "holiday: Pasquetta"),  # Easter Monday 2025
        (at(2026, 4, 6, 9, 0), False, "holiday: Pasquetta"),  # and 2026
        (at(2025, 6, 30, 9, 0), True, "opening hours 08:00-12:30"),  # an ordinary Monday
        (at(2025, 12, 24, 12, 0), True, "Vigilia: open until 13:00"),  # partial day
        (at(2025, 12, 24, 14, 30), False, "Vigilia: closed from 13:00"),
        (at(2025, 12, 31, 11, 0), True, "San Silvestro: open 10:00-12:00"),  # special hours
        (at(2025, 12, 31, 9, 0), False, "closed: San Silvestro"),
        (at(2025, 8, 13, 9, 0), False, "holiday: ferie"),  # a one-off closure
        (at(2026, 8, 13, 9, 0), True, "opening hours 08:00-12:30"),  # not the next year
    ],
)
def test_opening_state(rules, when, is_open, why):
    decision = shop(rules, when)
    assert (decision.open, decision.why) == (is_open, why)


def test_patron_saint_day_of_the_city_calendar(rules):
    # 2025-06-29 is a Sunday: check 2026, a Monday.
    assert shop(rules, at(2026, 6, 29, 9, 0)).why == "holiday: Santi Pietro e Paolo"


def test_open_call_overflows_in_order(rules):
    decision = shop(rules, at(2025, 3, 3, 9, 0))
    assert decision.rule == "clients/shop.yaml: rules[4]"
    assert decision.chain == (
        DAY,
        Step(kind="operators", operators=("carla-desk",), timeout=12),  # legal and English
        Step(kind="message"),
    )
    assert decision.priority == 0
    assert decision.explanation == (
        "Bottega: opening hours 08:00-12:30; rule 'open': group day, then ring carla-desk, "
        "then message"
    )


def test_vip_caller_gets_priority_and_its_own_chain(rules):
    for caller in ("0612345678", "00393351234567"):
        decision = shop(rules, at(2025, 3, 3, 9, 0), caller)
        assert decision.priority == 10
        assert decision.chain[0] == Step(kind="operators", operators=("op2",), timeout=10)
    closed = shop(rules, at(2025, 3, 3, 13, 0), "0612345678")
    assert closed.priority == 0 and closed.rule.endswith("rules[6]")


def test_blocked_caller_is_hung_up_on_whenever_they_call(rules):
    for when in (at(2025, 3, 3, 9, 0), at(2025, 3, 3, 21, 0)):
        assert shop(rules, when, "0699999999").chain == (Step(kind="hangup"),)


@pytest.mark.parametrize("caller", ["", "anonymous", "Restricted"])
def test_withheld_caller_leaves_a_short_message(rules, caller):
    decision = shop(rules, at(2025, 3, 3, 9, 0), caller)
    assert decision.chain == (Step(kind="message", max_seconds=30),)


def test_repeat_caller_within_the_window(rules):
    again = shop(rules, at(2025, 3, 3, 9, 0), seconds_since_last_call=120.0)
    assert (again.priority, again.chain) == (5, (FALLBACK, DAY))
    later = shop(rules, at(2025, 3, 3, 9, 0), seconds_since_last_call=301.0)
    assert later.rule.endswith("rules[4]")


def test_forward_only_in_its_hours_then_the_menu(rules):
    evening = shop(rules, at(2025, 3, 3, 21, 0))  # Monday 21:00: forward, then the menu
    assert [s.kind for s in evening.chain] == ["forward", "menu", "operators", "message"]
    assert evening.chain[0].number == "3470000000"
    late = shop(rules, at(2025, 3, 4, 1, 0))  # Tuesday 01:00: the forward's hours are over
    assert late.chain[0] == Step(
        kind="menu", prompt="main", options=("1", "2", "9"), timeout=4, retries=2
    )
    assert late.chain[1:] == (FALLBACK, Step(kind="message"))  # when no key is pressed


def test_menu_digits_go_into_options_and_submenus(rules):
    when = at(2025, 3, 4, 1, 0)
    one = shop(rules, when, digits="1")
    assert one.chain == (Step(kind="escalate", ladder="night", max_seconds=45),)
    assert one.rule == "clients/shop.yaml: rules[5] > menus.main[1]"
    sub = shop(rules, when, digits="2")
    assert sub.chain[0].kind == "menu" and sub.chain[0].prompt == "sub"
    assert sub.chain[0].options == ("0", "1")
    assert shop(rules, when, digits="21").chain == (
        Step(kind="operators", operators=("carla-desk",)),
    )
    back = shop(rules, when, digits="20")  # 0 goes back to the main menu
    assert back.chain[0].prompt == "main"
    assert shop(rules, when, digits="209").chain == (Step(kind="message"),)


def test_invalid_digit_takes_the_menu_default(rules):
    decision = shop(rules, at(2025, 3, 4, 1, 0), digits="7")
    assert decision.chain == (FALLBACK, Step(kind="message"))
    assert decision.rule == "clients/shop.yaml: rules[5] > menus.main: no option '7', default"


def test_client_in_another_time_zone(rules):
    # 15:30 in Rome is 09:30 in New York (both on standard time in January).
    decision = evaluate(rules, CallInfo("0212345678", "1"), at(2025, 1, 6, 15, 30))
    assert decision.open and decision.why == "opening hours 09:00-17:00"
    early = evaluate(rules, CallInfo("0212345678", "1"), at(2025, 1, 6, 14, 30))
    assert not early.open


def test_unknown_number_goes_to_the_fallback_group(rules):
    decision = evaluate(rules, CallInfo("0699999998", "3331"), at(2025, 3, 3, 9, 0))
    assert decision.client is None and decision.why == "unknown number"
    assert decision.chain == (
        Step(kind="operators", operators=("carla-desk",), group="fallback"),
        Step(kind="message"),
    )


def test_naive_now_is_refused(rules):
    with pytest.raises(ValueError, match="aware"):
        shop(rules, datetime(2025, 3, 3, 9, 0))


def test_override_closed_until_it_expires(rules):
    now = at(2025, 3, 3, 9, 0)
    overrides = Overrides(
        (Override("shop", "closed", until=now + timedelta(hours=2), reason="sciopero"),)
    )
    during = evaluate(rules, CallInfo("0611111111", "333"), now, overrides)
    assert not during.open
    assert during.why == "override: closed until 2025-03-03 11:00 (sciopero)"
    assert during.chain == (Step(kind="message"),)  # the rules decide: the closed rule
    after = evaluate(rules, CallInfo("0611111111", "333"), now + timedelta(hours=2), overrides)
    assert after.open


def test_override_forward_and_group(rules):
    now = at(2025, 3, 3, 21, 0)
    forward = Overrides((Override("shop", "forward", target="3339998888"),))
    decision = evaluate(rules, CallInfo("0611111111", "333"), now, forward)
    assert decision.rule == "override"
    assert decision.chain == (Step(kind="forward", number="3339998888"), Step(kind="message"))
    everyone = Overrides((Override("*", "group", target="day"),))
    decision = evaluate(rules, CallInfo("0212345678", "333"), now, everyone)
    assert decision.chain == (
        Step(kind="operators", operators=("op1", "op2"), group="day", timeout=15),
        Step(kind="message"),
    )


def test_computus_known_dates():
    known = {
        2000: (4, 23),
        2008: (3, 23),
        2011: (4, 24),
        2019: (4, 21),
        2024: (3, 31),
        2025: (4, 20),
        2038: (4, 25),
    }
    for year, (month, day) in known.items():
        assert easter_sunday(year) == datetime(year, month, day).date()
    for year in range(1900, 2200):  # always a Sunday between 22 March and 25 April
        easter = easter_sunday(year)
        assert easter.weekday() == 6
        assert (3, 22) <= (easter.month, easter.day) <= (4, 25)


def test_evaluate_is_pure(rules):
    call = CallInfo("0611111111", "3331", digits="2")
    when = datetime(2025, 3, 4, 0, 30, tzinfo=UTC)
    assert shop(rules, when, "3331", digits="2") == evaluate(rules, call, when)
