"""Silent calls as the authority counts them, on a real database: a contact who hangs up in the
silence is abandoned, counted in the day's figures the pacing reads, and the number rests
across campaigns and imports, then is called only with an operator already free."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio
from sqlalchemy import select

from ivr.campaigns import activity, floor, importer, lists, store
from ivr.campaigns import eligibility as el
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import DROPPED, HUNG_UP, Campaign
from ivr.campaigns.models import Refusal
from ivr.dialpolicy import DialPolicy
from ivr.records import db
from ivr.routing import load_rules

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
REMINDERS = load_campaigns(RULES, load_rules(RULES)).by_id["rossi-solleciti"]
OTHER = replace(REMINDERS, id="rossi-bis")
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Rome
NUMBER = "0612345678"


@pytest_asyncio.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[store.Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await db.upgrade(url)
    engine = db.make_engine(url)
    try:
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


async def add(sessions: store.Sessions, campaign: Campaign, now: datetime) -> None:
    header = ["numero", "debitore", "importo", "scadenza", "fattura"]
    parsed = importer.parse_rows(
        campaign.kind, header, enumerate([[NUMBER, "Mario", "10", "2026-10-01", "F1"]], start=2)
    )
    await lists.import_contacts(sessions, campaign, parsed, "l", now)


async def claim(
    sessions: store.Sessions, campaign: Campaign, now: datetime, operator: str | None
) -> list[store.Claimed]:
    return await store.claim(
        sessions, campaign, engine="e", now=now, operators=[operator], policy=DialPolicy(),
        register_max_days=15,
    )  # fmt: skip


async def reasons(sessions: store.Sessions, campaign: Campaign) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(Refusal).where(Refusal.campaign_id == campaign.id))
        return [row.reason for row in rows]


async def test_a_hang_up_in_the_silence_is_abandoned_and_rests_the_number_everywhere(
    sessions: store.Sessions,
) -> None:
    await add(sessions, REMINDERS, NOW)
    [first] = await claim(sessions, REMINDERS, NOW, "op1")
    assert first.attempt is not None
    linkedid = first.attempt.linkedid
    await store.note(sessions, linkedid, answered_at=NOW + timedelta(seconds=5))
    closed = await store.close_attempt(
        sessions, lambda _id: REMINDERS, linkedid, HUNG_UP, NOW + timedelta(seconds=6), None, 5
    )  # the contact answered, heard silence for 1 s and hung up
    assert closed is not None and closed.system_outcome == DROPPED
    day = await activity.today(sessions, REMINDERS, NOW + timedelta(seconds=10), "e")
    assert (day.answered, day.dropped) == (1, 1)  # what the pacing reads: 100 % today

    tomorrow = NOW + timedelta(days=1)  # the same number, another campaign, a new import
    await add(sessions, OTHER, tomorrow)
    assert await claim(sessions, OTHER, tomorrow, "op1") == []
    assert await reasons(sessions, OTHER) == [el.REST]

    after = NOW + timedelta(days=7)  # Wednesday 9 December: rested, but needs an operator
    assert await claim(sessions, OTHER, after, None) == []
    assert el.REST_OPERATOR in await reasons(sessions, OTHER)
    later = after + timedelta(minutes=6)
    [again] = await claim(sessions, OTHER, later, "op2")
    assert again.operator == "op2"


async def test_the_day_gives_the_pacing_each_lines_age_and_the_answers_delays(
    sessions: store.Sessions,
) -> None:
    await add(sessions, REMINDERS, NOW)
    [line] = await claim(sessions, REMINDERS, NOW, None)
    assert line.attempt is not None
    ringing = await activity.today(sessions, REMINDERS, NOW + timedelta(seconds=4), "e")
    assert ringing.ringing_since == (NOW,) and ringing.delays == ()
    assert await activity.today(sessions, REMINDERS, NOW, "another engine") == replace(
        ringing, ringing=0, ringing_since=()
    )  # another engine's line is its own to pace
    await store.note(sessions, line.attempt.linkedid, answered_at=NOW + timedelta(seconds=7))
    answered = await activity.today(sessions, REMINDERS, NOW + timedelta(seconds=8), "e")
    assert answered.ringing_since == () and answered.delays == (7.0,)


async def test_a_ratio_line_to_a_rested_number_needs_an_operator_free_now(
    sessions: store.Sessions,
) -> None:
    await add(sessions, REMINDERS, NOW)
    [first] = await claim(sessions, REMINDERS, NOW, "op1")
    assert first.attempt is not None
    await store.note(sessions, first.attempt.linkedid, answered_at=NOW, dropped_at=NOW)
    await store.close_attempt(sessions, lambda _id: REMINDERS, first.attempt.linkedid,
                              HUNG_UP, NOW, None, 5)  # fmt: skip
    after = NOW + timedelta(days=7)
    await add(sessions, OTHER, after)
    assert await claim(sessions, OTHER, after, None) == []  # nobody free
    later = after + timedelta(minutes=6)
    [line] = await store.claim(
        sessions, OTHER, engine="e", now=later, operators=[None], policy=DialPolicy(),
        register_max_days=15, free_operators=1,
    )  # fmt: skip
    assert line.operator is None and line.attempt is not None


def test_what_is_abandoned() -> None:
    answered = NOW
    quick, slow = NOW + timedelta(seconds=2), NOW + timedelta(seconds=4)
    assert not floor.abandoned(None, None, None, None, NOW)  # never answered
    assert not floor.abandoned(answered, "HUMAN", quick, None, None)
    assert floor.abandoned(answered, "HUMAN", slow, None, None)  # an operator after 3 s
    assert floor.abandoned(answered, None, None, quick, quick)  # dropped by the dialer
    assert floor.abandoned(answered, None, None, None, quick)  # hung up in the silence
    assert not floor.abandoned(answered, None, None, None, None)  # still waiting
    machine = "MACHINE/LONGGREETING"
    assert floor.abandoned(answered, machine, None, None, quick)  # counted towards the cap
    assert not floor.rests(answered, machine, None, None, quick)  # but the number may retry
