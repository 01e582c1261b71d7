"""The records writer: batches, a database that is away, a bounded queue, and how facts from
Asterisk's account complete a record without ever correcting what the engine saw live."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pg_server import new_database
from sqlalchemy import text

from ivr.records.batch import Change
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.facts import Fact, Facts, Row
from ivr.records.repo import get_call, open_fact, write
from ivr.records.writer import RecordWriter

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(linkedid: str, seconds: float = 0.0) -> Fact:
    return open_fact(
        linkedid=linkedid,
        channel="PJSIP/trunk-1",
        client_id="rossi",
        client_name="Studio Rossi",
        called="0611000001",
        caller_number="3331112222",
        caller_name="Maria",
        arrived_at=at(seconds),
        route="operators",
    )


def ami(linkedid: str, **facts: Any) -> Fact:
    return Fact(linkedid, Facts(**facts), source="ami")


def account(linkedid: str, **facts: Any) -> Fact:
    return Fact(linkedid, Facts(rebuilt=True, **facts), source="account", only_open=True)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    return await new_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
async def sm(db_url: str) -> AsyncIterator[Any]:
    await upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def writer(db_url: str, sm: Any) -> AsyncIterator[RecordWriter]:
    running = RecordWriter(db_url)
    await running.start()
    yield running
    await running.close()


async def test_facts_queued_together_are_written_in_one_batch(writer, sm):
    changes: list[Change] = []
    writer.listen(changes.extend)
    batches: list[int] = []
    writer._on_batch = lambda items, seconds, ok: batches.append(items)  # noqa: SLF001

    seq = writer.submit(
        [
            opened("1.1"),
            ami("1.1", answered_at=at(5), operator="op1"),
            opened("1.2"),
            ami("1.1", ended_at=at(60)),
        ]
    )
    assert await writer.wait_written(seq, 10)

    assert batches == [4]  # no I/O in submit(): everything queued went in one transaction
    record = await get_call(sm, "1.1")
    assert (record.outcome, record.operator, record.ended_at) == ("answered", "op1", at(60))
    assert {c.linkedid for c in changes} == {"1.1", "1.2"}
    ended = next(c for c in changes if c.linkedid == "1.1")
    assert not ended.had_ended and ended.values["ended_at"] == at(60)
    assert ended.sources == frozenset({"agi", "ami"})


async def test_rebuilt_facts_complete_a_live_record_and_never_correct_it(writer, sm):
    live = [opened("2.1", 0.3), ami("2.1", answered_at=at(8), operator="op2")]
    await writer.wait_written(writer.submit(live), 10)

    # Asterisk's account saw the operator leg answer a little earlier, and the end.
    seq = writer.submit(
        [account("2.1", arrived_at=at(0), answered_at=at(7.9), operator="op9", ended_at=at(90))]
    )
    assert await writer.wait_written(seq, 10)
    record = await get_call(sm, "2.1")
    assert (record.answered_at, record.operator) == (at(8), "op2")  # live values kept
    assert record.arrived_at == at(0.3)
    assert (record.ended_at, record.rebuilt, record.outcome) == (at(90), True, "answered")

    # Once ended, a record is left alone by the account.
    seq = writer.submit([account("2.1", ended_at=at(200), message_path="/m", message_at=at(9))])
    assert await writer.wait_written(seq, 10)
    assert await get_call(sm, "2.1") == record


async def test_a_call_known_only_from_the_account_is_rebuilt(writer, sm):
    identity = {"client_id": "rossi", "called": "0611000001", "caller_number": "3330000000"}
    seq = writer.submit(
        [account("3.1", identity=identity, arrived_at=at(0), ended_at=at(20), operator=None)]
    )
    assert await writer.wait_written(seq, 10)
    record = await get_call(sm, "3.1")
    assert (record.client_id, record.outcome, record.rebuilt) == ("rossi", "abandoned", True)


async def test_a_closed_call_is_unknown_until_its_real_end_is_heard_of(writer, sm):
    await writer.wait_written(writer.submit([opened("4.1")]), 10)
    closed = Fact("4.1", Facts(closed_at=at(30)), source="account", only_open=True)
    await writer.wait_written(writer.submit([closed]), 10)
    record = await get_call(sm, "4.1")
    assert (record.outcome, record.ended_at, record.end_inferred) == ("unknown", at(30), True)

    # The hang-up event was only late: it replaces the guess, even with an earlier time.
    await writer.wait_written(writer.submit([ami("4.1", ended_at=at(12))]), 10)
    record = await get_call(sm, "4.1")
    assert (record.outcome, record.ended_at, record.end_inferred) == ("abandoned", at(12), False)


async def test_rows_of_other_tables_go_in_once(writer, sm, db_url):
    row = Row(
        "call_events",
        {
            "linkedid": "5.1",
            "source": "ami",
            "kind": "X",
            "at": at(0),
            "dedupe_key": "x|5.1",
            "data": {},
        },
    )
    await writer.wait_written(writer.submit([row, row]), 10)
    await writer.wait_written(writer.submit([row]), 10)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM call_events"))).scalar()
    finally:
        await engine.dispose()
    assert rows == 1


async def test_the_queue_is_bounded(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    await upgrade(url)
    writer = RecordWriter(url, pending_max=3)  # not started: nothing drains the queue
    assert writer.submit([opened("6.1"), opened("6.2")]) == 2
    assert writer.submit([opened("6.3"), opened("6.4")]) is None  # refused, counted
    assert (writer.pending, writer.refused) == (2, 2)


async def test_a_locked_sqlite_delays_the_records_and_loses_none(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    await upgrade(url)
    writer = RecordWriter(url, deadline=0.2)
    await writer.start()
    holder = sqlite3.connect(tmp_path / "ivr.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        seq = writer.submit([opened(f"7.{n}") for n in range(50)])
        assert not await writer.wait_written(seq, 1.0)
        assert writer.failures >= 1 and writer.pending == 50 and not writer.healthy
        holder.execute("ROLLBACK")
        assert await writer.wait_written(seq, 20)
    finally:
        holder.close()
        await writer.close()
    engine = make_engine(url)
    try:
        sm = session_factory(engine)
        assert all([await get_call(sm, f"7.{n}") for n in range(50)])
    finally:
        await engine.dispose()


async def test_close_writes_what_is_pending(db_url, sm):
    writer = RecordWriter(db_url)
    await writer.start()
    writer.submit([opened("8.1")])
    await writer.close()
    assert (await get_call(sm, "8.1")).client_id == "rossi"


async def test_write_at_once_uses_the_same_fold(sm):
    assert await write(sm, [opened("9.1"), ami("9.1", ended_at=at(3))]) == 1
    assert (await get_call(sm, "9.1")).outcome == "abandoned"
    assert await write(sm, [ami("9.1", ended_at=at(3))]) == 0  # the same fact again


async def test_postgresql_has_connect_and_statement_timeouts(postgres_server):
    from ivr.records import db

    url = await new_database(postgres_server)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            timeout = (await conn.execute(text("SHOW statement_timeout"))).scalar()
    finally:
        await engine.dispose()
    assert timeout == f"{db.PG_STATEMENT_TIMEOUT_MS // 1000}s"

    # A server that takes the connection and never says a word.
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    mute = make_engine(f"postgresql+asyncpg://ivr@127.0.0.1:{port}/ivr")
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        with pytest.raises((TimeoutError, OSError)):
            async with mute.connect():
                pass
    finally:
        await mute.dispose()
        silent.close()
    assert loop.time() - began < db.PG_CONNECT_TIMEOUT + 5  # not the OS's minutes


async def test_a_call_closed_as_unknown_is_still_completed_from_the_account(writer, sm):
    await writer.wait_written(writer.submit([opened("10.1")]), 10)
    closed = Fact("10.1", Facts(closed_at=at(30)), source="account", only_open=True)
    await writer.wait_written(writer.submit([closed]), 10)
    late = account("10.1", ended_at=at(25), answered_at=at(4), operator="op1")
    await writer.wait_written(writer.submit([late]), 10)
    record = await get_call(sm, "10.1")
    assert (record.outcome, record.ended_at, record.end_inferred) == ("answered", at(25), False)
