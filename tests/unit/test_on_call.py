"""Who is on call, across the moments it changes hands: the weekly rotation's change (a date
boundary and an hour), a period that takes precedence (it starts and ends at midnight), a
period the client's admin adds, and a DST change. Moments are picked from the rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from test_rules_loader import CLIENT, problems, write

from ivr.routing import load_rules
from ivr.routing.oncall import Duty, on_duty, period_of

ROME = ZoneInfo("Europe/Rome")
RULES = Path(__file__).resolve().parents[2] / "routing_rules"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ROME)


def test_the_law_office_rotation_changes_hands_on_monday_at_eight() -> None:
    client = load_rules(RULES).clients["studio-legale-bianchi"]
    assert client.on_call is not None
    rotation = client.on_call.rotation
    assert rotation is not None and rotation.start == at("2026-01-05 08:00")
    # Week 48 of the rotation (even: Bianchi) ends on Monday 30 November at 08:00.
    sunday_night = at("2026-11-29 23:59")
    assert on_duty(client.on_call, sunday_night) == Duty("bianchi", at("2026-11-30 08:00"))
    monday_early = sunday_night + timedelta(minutes=1)  # a new date, the same duty
    assert on_duty(client.on_call, monday_early) == Duty("bianchi", at("2026-11-30 08:00"))
    monday = at("2026-11-30 08:00")
    assert on_duty(client.on_call, monday) == Duty("neri", at("2026-12-07 08:00"))
    # Christmas cover: Neri from 24 December 00:00 whatever the rotation; the week before
    # ends early, when the cover starts.
    before = at("2026-12-21 09:00")
    assert on_duty(client.on_call, before) == Duty("bianchi", at("2026-12-24 00:00"))
    cover = on_duty(client.on_call, at("2026-12-24 00:00"))
    assert cover == Duty("neri", at("2027-01-07 00:00"), "ferie natalizie dell'avv. Bianchi")
    after = on_duty(client.on_call, at("2027-01-07 00:00"))
    assert after is not None and after.until == at("2027-01-11 08:00")


def test_a_period_the_admin_adds_takes_precedence_over_the_file() -> None:
    client = load_rules(RULES).clients["studio-legale-bianchi"]
    assert client.on_call is not None
    added = period_of(at("2026-12-26").date(), at("2026-12-27").date(), "bianchi", "cambio", ROME)
    duty = on_duty(client.on_call, at("2026-12-26 10:00"), [added])
    assert duty == Duty("bianchi", at("2026-12-28 00:00"), "cambio")


def test_the_change_keeps_its_hour_across_a_dst_change(tmp_path: Path) -> None:
    client = load_rules(RULES).clients["studio-legale-bianchi"]
    assert client.on_call is not None
    # Summer time starts on Sunday 29 March 2026: Monday's change is still at 08:00 in Rome.
    duty = on_duty(client.on_call, at("2026-03-29 12:00"))
    assert duty is not None and duty.until == at("2026-03-30 08:00")
    assert duty.until.utcoffset() == timedelta(hours=2)


def test_nobody_before_the_rotation_starts_and_bad_schedules_are_refused(tmp_path: Path) -> None:
    client = load_rules(RULES).clients["studio-legale-bianchi"]
    assert client.on_call is not None
    assert on_duty(client.on_call, at("2026-01-05 07:59")) is None
    broken = """\
people:
  anna: {name: Anna, numbers: ["3331112222"]}
on_call:
  rotation: {start: "2026-01-05", people: [anna, zorro]}
  periods:
    - {start: "2026-08-20", end: "2026-08-10", person: anna}
    - {start: "2026-08-10", end: "2026-08-20", person: nobody}
"""
    assert problems(write(tmp_path, rossi=CLIENT + broken)) == [
        "clients/rossi.yaml:13:50: unknown person 'zorro'; known: anna",
        "clients/rossi.yaml:15:34: the last day is before the first",
        "clients/rossi.yaml:16:56: unknown person 'nobody'; known: anna",
    ]


async def test_the_night_ladder_calls_whoever_is_on_call_when_it_starts(tmp_path: Path) -> None:
    from ivr.oncall import store as oncall
    from ivr.records import db

    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    try:
        rules = load_rules(RULES)
        plumber, ladder = rules.clients["rossi-idraulica"], rules.ladders["rossi-night"]
        assert plumber.on_call is not None and plumber.on_call.rotation is not None
        change = plumber.on_call.rotation.start + 47 * timedelta(days=7)  # a Monday, 07:00
        before = await oncall.staffed(sessions, plumber, ladder, change - timedelta(minutes=1))
        after = await oncall.staffed(sessions, plumber, ladder, change)
        first = [(c.name, c.number) for c in (before.contacts[0], after.contacts[0])]
        people = plumber.people
        expected = [on_duty(plumber.on_call, m) for m in (change - timedelta(minutes=1), change)]
        assert [d.person for d in expected if d] == ["mario", "luca"]  # week 47 is odd
        assert first == [
            (people["mario"].name, people["mario"].numbers[0]),
            (people["luca"].name, people["luca"].numbers[0]),
        ]
        assert [c.name for c in after.contacts[1:]] == [c.name for c in ladder.contacts[1:]]
        # Another client's ladder with nobody on call: the on-call contact is left out.
        nobody = await oncall.staffed(sessions, rules.clients["casa-bella-immobiliare"], ladder,
                                      change)  # fmt: skip
        assert [c.name for c in nobody.contacts] == [c.name for c in ladder.contacts[1:]]
    finally:
        await engine.dispose()
