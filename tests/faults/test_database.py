"""The database off the call path: SQLite held locked, and PostgreSQL stopped, during real
calls through Asterisk. Each call is routed as the rules say (it joins the desk's queue, not
the fallback that an engine failure would ring) within 1 s of its arrival and AGI request,
and every record appears once the database is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ami.message import Message
from ivr.harness.pgcluster import PostgresCluster
from ivr.harness.stack import AmiEvents, Stack, poll, stack_settings
from ivr.records import repo

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parents[1] / "e2e" / "rules"  # Acme: the desk, op1 and op2
ACME = "0611000001"
CALLS = 4
DECIDED_WITHIN = 1.0  # seconds from the call's arrival (its AGI request) to joining the desk


async def calls_routed_while_the_database_is_away(
    stack: Stack, prefix: str
) -> dict[str, str | None]:
    """Place CALLS calls; assert each joined the desk within DECIDED_WITHIN. Each caller's
    operator, as Asterisk reported the answer (None: nobody answered)."""
    callers = [f"{prefix}{n:02d}" for n in range(CALLS)]
    async with AmiEvents(stack) as events:
        results = await asyncio.gather(
            *(stack.call(ACME, caller_num=c, hold_ms=1000, timeout=60) for c in callers)
        )
        for caller in callers:
            arrived = await events.wait(lambda e, c=caller: _caller_arrives(e, c))
            joined = await events.wait(
                lambda e, lid=arrived["Linkedid"]: (
                    e.event == "QueueCallerJoin" and e.get("Linkedid") == lid
                )
            )
            assert joined["Queue"] == "desk", joined  # the rules' step, not the fallback
            waited = float(joined["Timestamp"]) - float(arrived["Timestamp"])
            assert waited < DECIDED_WITHIN, (caller, waited)
        assert not events.all(lambda e: e.get("UserEvent") == "IvrFailure")
        answered = {
            e["Linkedid"]: e["DestChannel"].split("/")[1].split("-")[0]
            for e in events.all(lambda e: e.event == "DialEnd" and e["DialStatus"] == "ANSWER")
        }
        linkedids = {
            e["CallerIDNum"]: e["Linkedid"]
            for e in events.all(
                lambda e: e.event == "Newchannel" and e["Context"] == "ivr-in-trunk"
            )
        }
    for caller, result in zip(callers, results, strict=True):
        assert result.ok, (caller, result.output[-1500:])
    return {caller: answered.get(linkedids[caller]) for caller in callers}


def _caller_arrives(event: Message, caller: str) -> bool:
    return (
        event.event == "Newchannel"
        and event.get("CallerIDNum") == caller
        and event.get("Context") == "ivr-in-trunk"
    )


async def all_recorded(stack: Stack, callers: dict[str, str | None]) -> None:
    """Every call has its record, ended, with what Asterisk said of it."""
    records = await poll(
        lambda: repo.list_calls(stack.sessions, limit=200),
        lambda seen: {r.caller_number for r in seen if r.ended_at} >= set(callers),
        timeout=60,
        what="every call's record, ended",
    )
    assert any(callers.values())  # the desk answered calls while the database was away
    for record in records:
        if record.caller_number in callers:
            assert (record.client_id, record.route) == ("acme", "operators"), record
            assert record.operator == callers[record.caller_number], record
            # Nobody free in time: the message box answered, the caller left without a word.
            assert record.outcome == ("answered" if record.operator else "abandoned"), record


async def test_sqlite_held_locked_during_calls(tmp_path: Path) -> None:
    stack = Stack(stack_settings(tmp_path, RULES), tmp_path / "work")
    try:
        await stack.start()
        await stack.phone("op1", ring_ms=200)
        await stack.phone("op2", ring_ms=200)
        with stack.database_locked():
            callers = await calls_routed_while_the_database_is_away(stack, "06130001")
            seen = await repo.list_calls(stack.sessions, limit=200)  # readers still read
            assert not {r.caller_number for r in seen} & set(callers)
            status = await stack.wait_for(
                lambda s: s["records"]["pending"] > 0, 10, "facts waiting for the database"
            )
            assert status["records"]["last_error"]
        await all_recorded(stack, callers)
    finally:
        await stack.close()


@pytest.fixture
async def cluster() -> AsyncIterator[PostgresCluster]:
    """A PostgreSQL of this test's own: it is stopped and started again mid-test."""
    server = PostgresCluster()
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.remove)


async def test_postgresql_stopped_during_calls(tmp_path: Path, cluster: PostgresCluster) -> None:
    url = await cluster.new_database("ivr")
    stack = Stack(stack_settings(tmp_path, RULES, db_url=url), tmp_path / "work")
    try:
        await stack.start()
        await stack.phone("op1", ring_ms=200)
        await stack.phone("op2", ring_ms=200)
        await asyncio.to_thread(cluster.stop)
        callers = await calls_routed_while_the_database_is_away(stack, "06130002")
        await stack.wait_for(
            lambda s: s["records"]["pending"] > 0, 10, "facts waiting for the database"
        )
        await asyncio.to_thread(cluster.start)
        await all_recorded(stack, callers)
    finally:
        await stack.close()
