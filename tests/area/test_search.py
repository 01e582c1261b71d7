"""What the area searches and counts (area_calls, kept by the database's triggers), on SQLite
and on a real PostgreSQL: every writer keeps it right (the records' AMI and AGI facts, the
console's outcome, read/unread, an erasure), the search finds what an ILIKE over the caller,
number and message finds, by either of its paths, and the unread count agrees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pg_server import new_database
from sqlalchemy import delete, select, text

from ivr.ami.facts import event_fact
from ivr.area import query
from ivr.area.models import AreaCall
from ivr.escalation.models import EscalationRun
from ivr.portal import store
from ivr.records import db, repo
from ivr.records.models import Call

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ZONE = "Europe/Rome"
CALLS = [
    # linkedid, caller number, caller name, left a recording
    ("s.1", "0612000001", "Maria Rossi", False),
    ("s.2", "0612000002", 'Luca "Lupo" Verdi', True),
    ("s.3", "3331234567", "Anna 100%_Bianchi", False),
    ("s.4", "", "", True),
]
OUTCOMES = {"s.1": ("Maria R.", "0699887766", "Perdita in CUCINA, urgente", True)}


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    else:
        url = await new_database(request.getfixturevalue("postgres_server"))
    await db.upgrade(url)
    engine = db.make_engine(url)
    made = db.session_factory(engine)
    await write_calls(made)
    yield made
    await engine.dispose()


async def apply_event(sessions: Any, event: dict[str, str]) -> None:
    """One AMI event, as the engine's writer folds it into the records."""
    fact = event_fact(event)
    assert fact is not None
    await repo.write(sessions, [fact])


async def write_calls(sessions: Any) -> None:
    """As the engine writes them: the AGI request, then the AMI events of the call."""
    for n, (linkedid, number, name, recorded) in enumerate(CALLS):
        at = T0 + timedelta(minutes=n)
        event = {"Linkedid": linkedid, "Uniqueid": linkedid, "Context": "ivr-in-trunk"}
        await apply_event(
            sessions,
            {**event, "Event": "Newchannel", "CallerIDNum": number, "CallerIDName": name,
             "Exten": "0611000100", "Timestamp": str(at.timestamp())},
        )  # fmt: skip
        await repo.open_call(
            sessions, linkedid=linkedid, channel=f"PJSIP/trunk-{n}", client_id="acme",
            client_name="Acme", called="0611000100", caller_number=number, caller_name=name,
            arrived_at=at, route="operators",
        )  # fmt: skip
        if recorded:
            await apply_event(
                sessions,
                {**event, "Event": "UserEvent", "UserEvent": "IvrMessage",
                 "Path": f"/m/{linkedid}.wav", "Timestamp": str(at.timestamp() + 20)},
            )  # fmt: skip
        await apply_event(
            sessions, {**event, "Event": "Hangup", "Timestamp": str(at.timestamp() + 30)}
        )
    for linkedid, (said, callback, message, urgent) in OUTCOMES.items():
        await store.save_outcome(
            sessions,
            store.Outcome(linkedid, "op1", "acme", said, callback, message, "callback", urgent,
                          None, T0 + timedelta(minutes=5)),
        )  # fmt: skip


async def found(sessions: Any, words: str) -> list[str]:
    rows, _ = await query.page(sessions, "acme", query.Filters(text=words), ZONE)
    return [r.linkedid for r in rows]


async def urgent(sessions: Any) -> list[str]:
    rows, _ = await query.page(sessions, "acme", query.Filters(urgent=True), ZONE)
    assert all(r.urgent for r in rows)
    return [r.linkedid for r in rows]


async def area_row(sessions: Any, linkedid: str) -> AreaCall | None:
    async with sessions() as session:
        call_id = await session.scalar(select(Call.id).where(Call.linkedid == linkedid))
        return await session.get(AreaCall, call_id) if call_id is not None else None


async def test_every_writer_keeps_area_calls_right(sessions: Any) -> None:
    row = await area_row(sessions, "s.1")
    assert row is not None and row.client_id == "acme" and row.arrived_at == T0
    assert row.body.split("\n") == [
        "Maria Rossi", "0612000001", "Maria R.", "0699887766", "Perdita in CUCINA, urgente"
    ]  # fmt: skip
    assert row.unread  # an outcome: a message nobody has read
    assert not (await area_row(sessions, "s.3")).unread  # type: ignore[union-attr]
    assert (await area_row(sessions, "s.4")).unread  # type: ignore[union-attr]  # recording
    assert await query.unread(sessions, "acme") == 3
    assert await urgent(sessions) == ["s.1"]  # the operator's flag
    async with sessions.begin() as session:  # the caller chose the emergency option
        session.add(
            EscalationRun(key="k", linkedid="s.2", client_id="acme", ladder="acme-urgent",
                          started_at=T0, status="running")
        )  # fmt: skip
    assert await urgent(sessions) == ["s.2", "s.1"]
    await query.mark(sessions, "acme", "s.2", T0, "me", read=True)
    assert await query.unread(sessions, "acme") == 2
    await query.mark(sessions, "acme", "s.2", T0, "me", read=False)
    assert await query.unread(sessions, "acme") == 3
    # An erasure: the outcome, then the call itself, are deleted.
    async with sessions.begin() as session:
        await session.execute(text("DELETE FROM call_outcomes WHERE linkedid = 's.1'"))
    assert "Perdita" not in (await area_row(sessions, "s.1")).body  # type: ignore[union-attr]
    assert await found(sessions, "cucina") == []
    async with sessions.begin() as session:
        await session.execute(delete(Call).where(Call.linkedid == "s.1"))
    assert await area_row(sessions, "s.1") is None
    assert await found(sessions, "rossi") == [] and await query.unread(sessions, "acme") == 2


@pytest.mark.parametrize("most", [query.FTS_MOST, 0])  # the trigram index's path, the scan's
async def test_the_search_finds_what_an_ilike_finds(
    sessions: Any, most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "FTS_MOST", most)
    assert await found(sessions, "rossi") == ["s.1"]  # any case
    assert await found(sessions, "cucina") == ["s.1"]  # the operator's words
    assert await found(sessions, "99887") == ["s.1"]  # part of the callback number
    assert await found(sessions, "0612") == ["s.2", "s.1"]  # newest first
    assert await found(sessions, '"Lupo"') == ["s.2"]  # quotes are words, not syntax
    assert await found(sessions, "100%_") == ["s.3"]  # and so are % and _
    assert await found(sessions, "100%x") == []
    assert await found(sessions, "12") == ["s.3", "s.2", "s.1"]  # under three characters
    assert await found(sessions, "Rossi 0612") == []  # one value at a time
    assert await found(sessions, "nobody") == []
    rows, cursor = await query.page(sessions, "acme", query.Filters(text="0"), ZONE, size=2)
    more, _ = await query.page(
        sessions, "acme", query.Filters(text="0"), ZONE, before=cursor, size=2
    )
    assert [r.linkedid for r in rows + more] == ["s.3", "s.2", "s.1"]  # pages by its keys


async def test_another_clients_calls_are_never_found(sessions: Any) -> None:
    async with sessions.begin() as session:
        await session.execute(
            text("UPDATE calls SET client_id = 'bravo' WHERE linkedid = 's.2'")
        )  # a trigger moves it with the call
    assert await found(sessions, "Lupo") == []
    rows, _ = await query.page(sessions, "bravo", query.Filters(text="Lupo"), ZONE)
    assert [r.linkedid for r in rows] == ["s.2"]
    assert await query.unread(sessions, "acme") == 2 and await query.unread(sessions, "bravo") == 1
