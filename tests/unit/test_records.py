"""The call records store, on a real SQLite file migrated by alembic: facts from the AGI
request and from AMI events (translated on the AMI side, ivr/ami/facts.py) folded in.

Every test runs on SQLite and on a real PostgreSQL that tests/conftest.py starts (or the
server IVR_TEST_POSTGRES_URL names);
each test gets a database of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from pg_server import new_database
from sqlalchemy import func, inspect, select, text

from ivr.ami.facts import event_fact
from ivr.records.db import alembic_config, make_engine, session_factory, upgrade
from ivr.records.models import Call, CallEvent
from ivr.records.repo import (
    CallRecord,
    caller_history,
    get_call,
    list_calls,
    note_failure,
    open_call,
    seconds_since_last_call,
    write,
)

T0 = 1_732_640_000.0
START = datetime.fromtimestamp(T0, UTC)
HOSTILE = "O'Hara \"Bob\"'; DROP TABLE calls;--\n<script>alert(1)</script>\x1b[2J\u202e"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Every test on the embedded SQLite and on a real PostgreSQL (a fresh database each)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/var/demo/ivr.db"
    return await new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
async def sm(db_url: str) -> AsyncIterator[Any]:
    await upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


async def apply_event(sm: Any, event: dict[str, str]) -> bool:
    """One AMI event, as the engine hands it over; True if a record changed."""
    fact = event_fact(event)
    return fact is not None and await write(sm, [fact]) > 0


async def apply_events(sm: Any, events: list[dict[str, str]]) -> int:
    """Several events in one transaction; how many records changed."""
    return await write(sm, [f for f in map(event_fact, events) if f is not None])


def event(kind: str, linkedid: str, seconds: float, **headers: str) -> dict[str, str]:
    """An AMI event of the caller's channel, as Asterisk sends it."""
    return {
        "Event": kind,
        "Privilege": "call,all",
        "Timestamp": f"{T0 + seconds:.6f}",
        "Channel": "PJSIP/trunk-00000001",
        "CallerIDNum": "3395551234",
        "CallerIDName": "Jean Dupont",
        "Context": "ivr-in-route",
        "Exten": "390612345678",
        "Uniqueid": linkedid,
        "Linkedid": linkedid,
        **headers,
    }


def newchannel(linkedid: str, seconds: float = 0.0) -> dict[str, str]:
    return event("Newchannel", linkedid, seconds, Context="ivr-in-trunk")


def dial_end(linkedid: str, seconds: float, operator: str, status: str = "ANSWER") -> dict:
    return event(
        "DialEnd",
        linkedid,
        seconds,
        DestChannel=f"PJSIP/{operator}-0000002a",
        DestUniqueid=f"{linkedid}-{operator}",
        DialStatus=status,
    )


def hangup(linkedid: str, seconds: float, context: str = "ivr-in-route") -> dict[str, str]:
    return event("Hangup", linkedid, seconds, Context=context, Cause="16")


def message(linkedid: str, seconds: float, path: str) -> dict[str, str]:
    return event("UserEvent", linkedid, seconds, UserEvent="IvrMessage", Path=path)


def failure(linkedid: str, seconds: float, reason: str) -> dict[str, str]:
    return event("UserEvent", linkedid, seconds, UserEvent="IvrFailure", Reason=reason)


async def open_(sm: Any, linkedid: str, seconds: float = 0.5, **changes: Any) -> bool:
    values: dict[str, Any] = {
        "linkedid": linkedid,
        "channel": "PJSIP/trunk-00000001",
        "client_id": "rossi",
        "client_name": "Studio Rossi",
        "called": "390612345678",
        "caller_number": "3395551234",
        "caller_name": "Jean Dupont",
        "arrived_at": at(seconds),
        "route": "operators",
    }
    values.update(changes)
    return await open_call(sm, **values)


async def count(sm: Any, model: Any, linkedid: str | None = None) -> int:
    query = select(func.count()).select_from(model)
    if linkedid is not None:
        query = query.where(model.linkedid == linkedid)
    async with sm() as session:
        return int(await session.scalar(query) or 0)


def facts_of(record: CallRecord | None) -> dict[str, Any]:
    """What a record says about its call: not its row id, key or write time."""
    assert record is not None
    values = dataclasses.asdict(record)
    for name in ("id", "linkedid", "updated_at"):
        del values[name]
    return values


async def test_answered_call(sm):
    assert await open_(sm, "1.1", seconds=0.4)
    assert await apply_event(sm, newchannel("1.1", seconds=0.0))
    assert not await apply_event(sm, dial_end("1.1", 6.0, "op2", status="NOANSWER"))
    assert await apply_event(sm, dial_end("1.1", 9.0, "op1"))
    assert (await get_call(sm, "1.1")).outcome == "answered"
    assert await apply_event(sm, hangup("1.1", 95.0))

    record = await get_call(sm, "1.1")
    assert record is not None
    assert record.outcome == "answered"
    assert record.operator == "op1"
    assert record.arrived_at == at(0.0)  # Newchannel came before the AGI request
    assert record.answered_at == at(9.0)
    assert record.ended_at == at(95.0)
    assert record.arrived_at.tzinfo is not None and record.arrived_at.utcoffset() == timedelta(0)
    assert (record.client_id, record.route, record.called) == ("rossi", "operators", "390612345678")


async def test_message_left(sm):
    await open_(sm, "2.1", route="message")
    await apply_event(sm, newchannel("2.1"))
    await apply_event(sm, dial_end("2.1", 20.0, "op1", status="NOANSWER"))
    assert await apply_event(sm, message("2.1", 50.0, "/srv/ivr/demo/messages/2.1"))
    assert (await get_call(sm, "2.1")).outcome == "message-left"
    await apply_event(sm, hangup("2.1", 51.0, context="ivr-in-message"))

    record = await get_call(sm, "2.1")
    assert record.outcome == "message-left"
    assert record.message_path == "/srv/ivr/demo/messages/2.1"
    assert record.operator is None and record.answered_at is None


async def test_abandoned_and_in_progress(sm):
    await open_(sm, "3.1")
    await apply_event(sm, newchannel("3.1"))
    assert (await get_call(sm, "3.1")).outcome == "in-progress"
    await apply_event(sm, hangup("3.1", 7.0))

    record = await get_call(sm, "3.1")
    assert record.outcome == "abandoned"
    assert record.ended_at == at(7.0)


async def test_failed_call_and_a_failure_a_human_then_rescued(sm):
    await open_(sm, "4.1", route="failure")
    assert await note_failure(sm, "4.1", "rules: clients/rossi.yaml does not parse", at(0.6))
    await apply_event(sm, failure("4.1", 0.7, "engine-error"))
    await apply_event(sm, hangup("4.1", 30.0, context="ivr-in-failure"))
    failed = await get_call(sm, "4.1")
    assert failed.outcome == "failed"
    assert failed.failure_reason == "rules: clients/rossi.yaml does not parse"  # the first one

    await open_(sm, "4.2", route="failure")
    await note_failure(sm, "4.2", "timeout", at(0.6))
    await apply_event(sm, dial_end("4.2", 12.0, "op3"))
    rescued = await get_call(sm, "4.2")
    assert rescued.outcome == "answered"
    assert rescued.failure_reason == "timeout"


async def test_events_of_other_legs_and_contexts_are_ignored(sm):
    leg = {**dial_end("5.1", 3.0, "op1"), "Uniqueid": "5.2"}  # the operator's own channel
    outbound = {**hangup("5.3", 3.0), "Context": "ivr-out-ladder"}
    unrelated = event("VarSet", "5.4", 1.0, Variable="X", Value="1")
    no_linkedid = {k: v for k, v in hangup("5.5", 1.0).items() if k != "Linkedid"}
    placed = {**newchannel("5.6"), "AccountCode": "esc-3"}  # the engine's own call out
    put_through = newchannel("ivr-out-pt-7-1")  # a person rung to take a caller: no account

    for ignored in (leg, outbound, unrelated, no_linkedid, placed, put_through):
        assert not await apply_event(sm, ignored)
    assert await count(sm, Call) == 0
    assert await count(sm, CallEvent) == 0


async def test_an_event_delivered_twice_changes_nothing(sm):
    events = [
        newchannel("6.1"),
        dial_end("6.1", 8.0, "op1"),
        message("6.1", 9.0, "/m/6.1"),
        hangup("6.1", 60.0),
    ]
    await open_(sm, "6.1")
    for item in events:
        assert await apply_event(sm, item)
    await note_failure(sm, "6.1", "late", at(61.0))
    before = await get_call(sm, "6.1")

    for item in events:
        assert not await apply_event(sm, dict(item))
    assert not await note_failure(sm, "6.1", "late", at(61.0))
    assert not await open_(sm, "6.1")

    assert await get_call(sm, "6.1") == before  # updated_at included
    assert await count(sm, Call) == 1
    assert await count(sm, CallEvent, "6.1") == 2  # the engine's own: open_call, note_failure


ANSWERED_STORY: list[Callable[[Any, str], Awaitable[bool]]] = [
    lambda sm, lid: open_(sm, lid, seconds=0.3),
    lambda sm, lid: apply_event(sm, newchannel(lid, 0.0)),
    lambda sm, lid: apply_event(sm, dial_end(lid, 40.0, "op1")),  # after a transfer back
    lambda sm, lid: apply_event(sm, dial_end(lid, 8.0, "op2")),  # the first to answer
    lambda sm, lid: apply_event(sm, hangup(lid, 90.0)),
]
MESSAGE_STORY: list[Callable[[Any, str], Awaitable[bool]]] = [
    lambda sm, lid: open_(sm, lid, seconds=0.3, route="message", caller_name=HOSTILE),
    lambda sm, lid: apply_event(sm, newchannel(lid, 0.0)),
    lambda sm, lid: note_failure(sm, lid, "operators unreachable", at(21.0)),
    lambda sm, lid: apply_event(sm, message(lid, 55.0, "/srv/ivr/demo/messages/m1")),
    lambda sm, lid: apply_event(sm, hangup(lid, 56.0, context="ivr-in-message")),
]


@pytest.mark.parametrize(
    ("story", "outcome"), [(ANSWERED_STORY, "answered"), (MESSAGE_STORY, "message-left")]
)
async def test_any_arrival_order_gives_the_same_record(sm, story, outcome):
    orders = list(itertools.permutations(range(len(story))))
    for number, order in enumerate(orders):
        for step in order:
            await story[step](sm, f"7.{number}")

    records = [await get_call(sm, f"7.{number}") for number in range(len(orders))]
    first = facts_of(records[0])
    for record in records:
        assert facts_of(record) == first
    assert first["outcome"] == outcome
    assert first["arrived_at"] == at(0.0)
    assert first["client_id"] == "rossi"
    if outcome == "answered":
        assert (first["operator"], first["answered_at"]) == ("op2", at(8.0))
    else:
        assert first["caller_name"] == HOSTILE  # the AGI request's value wins over the event's
        assert first["failure_reason"] == "operators unreachable"
    assert await count(sm, Call) == len(orders)
    agi_facts = 1 if outcome == "answered" else 2  # the engine's decision trace only
    assert await count(sm, CallEvent) == len(orders) * agi_facts


async def test_racing_writers_from_two_engines_make_one_row(db_url, sm):
    other_engine = make_engine(db_url)  # a second engine process sharing the database
    other = session_factory(other_engine)
    try:
        linkedids = [f"8.{n}" for n in range(15)]
        await asyncio.gather(
            *(
                write
                for lid in linkedids
                for write in (
                    open_(sm, lid),
                    apply_event(other, newchannel(lid)),
                    apply_event(sm, dial_end(lid, 5.0, "op1")),
                    apply_event(other, dial_end(lid, 5.0, "op1")),  # both engines saw it
                    apply_event(other, hangup(lid, 30.0)),
                )
            )
        )
    finally:
        await other_engine.dispose()

    assert await count(sm, Call) == len(linkedids)
    assert await count(sm, CallEvent) == len(linkedids)
    for lid in linkedids:
        record = await get_call(sm, lid)
        assert (record.outcome, record.operator, record.client_id) == ("answered", "op1", "rossi")


async def test_hostile_caller_name_is_stored_exactly(sm):
    await apply_event(sm, {**newchannel("9.1"), "CallerIDName": HOSTILE, "CallerIDNum": "'--"})
    await open_(sm, "9.2", caller_name=HOSTILE)
    await open_(sm, "9.3", caller_name="A" * 2000, caller_number="1" * 300)

    from_event, from_agi = await get_call(sm, "9.1"), await get_call(sm, "9.2")
    assert from_event.caller_name == HOSTILE and from_event.caller_number == "'--"
    assert from_agi.caller_name == HOSTILE
    assert (await get_call(sm, "9.3")).caller_name == "A" * 2000
    assert [r.linkedid for r in await list_calls(sm)] == ["9.3", "9.2", "9.1"]
    async with sm() as session:
        data = await session.scalar(select(CallEvent.data).where(CallEvent.linkedid == "9.2"))
    assert data["caller_name"] == HOSTILE


async def test_times_must_carry_a_time_zone(sm):
    with pytest.raises(Exception, match="timezone-aware"):
        await open_(sm, "10.1", arrived_at=datetime(2024, 1, 1, 12, 0))
    assert await count(sm, Call) == 0


async def test_list_calls_newest_first_by_client_since_and_limit(sm):
    await open_(sm, "11.1", seconds=0)
    await open_(sm, "11.2", seconds=60, client_id="bianchi")
    await open_(sm, "11.3", seconds=120)
    await apply_event(sm, hangup("11.4", 30.0))  # known only from its hang-up

    assert [r.linkedid for r in await list_calls(sm)] == ["11.3", "11.2", "11.4", "11.1"]
    assert [r.linkedid for r in await list_calls(sm, client_id="rossi")] == ["11.3", "11.1"]
    assert [r.linkedid for r in await list_calls(sm, since=at(30))] == ["11.3", "11.2", "11.4"]
    assert [r.linkedid for r in await list_calls(sm, limit=1)] == ["11.3"]
    assert await get_call(sm, "11.9") is None


async def test_caller_history_and_seconds_since_last_call(sm):
    await open_(sm, "12.1", seconds=0)
    await open_(sm, "12.2", seconds=100)
    await open_(sm, "12.3", seconds=150, client_id="bianchi")
    await open_(sm, "12.4", seconds=160, caller_number="3391112222")
    await open_(sm, "12.5", seconds=200, caller_number="")
    await open_(sm, "12.6", seconds=300)  # the call being answered now

    history = await caller_history(sm, "rossi", "3395551234", exclude_linkedid="12.6")
    assert [r.linkedid for r in history] == ["12.2", "12.1"]
    assert len(await caller_history(sm, "rossi", "3395551234", limit=1)) == 1
    assert await caller_history(sm, "rossi", "") == []

    since = await seconds_since_last_call(
        sm, "rossi", "3395551234", at(300), exclude_linkedid="12.6"
    )
    assert since == pytest.approx(200.0)
    assert await seconds_since_last_call(sm, "rossi", "3395551234", at(50)) == pytest.approx(50)
    assert await seconds_since_last_call(sm, "rossi", "3390000000", at(300)) is None
    assert await seconds_since_last_call(sm, "rossi", "", at(300)) is None  # withheld


async def test_upgrade_twice_keeps_schema_and_data(db_url, sm):
    await open_(sm, "13.1")
    await upgrade(db_url)
    await asyncio.gather(upgrade(db_url), upgrade(db_url))

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    # The newest revision, whichever it is (later features add their own after 0001).
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert version == [(head,)]
    assert {"calls", "call_events"} <= tables
    assert (await get_call(sm, "13.1")).client_id == "rossi"


async def test_engines_starting_together_both_migrate_a_new_database(db_url):
    await asyncio.gather(upgrade(db_url), upgrade(db_url), upgrade(db_url))

    engine = make_engine(db_url)
    sm = session_factory(engine)
    try:
        assert await open_(sm, "14.1")
        assert (await get_call(sm, "14.1")).outcome == "in-progress"
    finally:
        await engine.dispose()


async def test_a_batch_of_events_gives_the_record_single_events_give(sm):
    """The engine writes the events that queued up meanwhile in one transaction."""
    calls = ["9.1", "9.2"]
    for linkedid in calls:
        await open_(sm, linkedid)
    batch = [
        newchannel("9.1"),
        newchannel("9.2"),
        dial_end("9.1", 4.0, "op1"),
        dial_end("9.1", 4.0, "op1"),  # delivered twice within the batch
        message("9.2", 30.0, "/srv/ivr/demo/messages/9.2"),
        hangup("9.1", 60.0),
        hangup("9.2", 45.0, context="ivr-in-message"),
        dial_end("9.1", 5.0, "op2", status="NOANSWER"),  # no fact: ignored
    ]
    assert await apply_events(sm, batch) == 2  # both records changed, in one transaction

    await open_(sm, "8.1")
    await open_(sm, "8.2")
    for one in batch:
        renamed = {k: v.replace("9.", "8.") for k, v in one.items()}
        await apply_event(sm, renamed)
    for nine, eight in (("9.1", "8.1"), ("9.2", "8.2")):
        got, expected = facts_of(await get_call(sm, nine)), facts_of(await get_call(sm, eight))
        expected["message_path"] = (expected["message_path"] or "").replace("8.", "9.") or None
        assert got == expected
    assert (await get_call(sm, "9.1")).outcome == "answered"
    assert (await get_call(sm, "9.2")).outcome == "message-left"
    assert await count(sm, CallEvent, "9.1") == 1  # the open; AMI events are not kept
