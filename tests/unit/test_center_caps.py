"""Caps that hold for the center, not per engine: engines sharing one PostgreSQL (each with
its own connection pool) that start escalation ladders at the same moment never start more
than the per-caller and per-client limits allow between them; calls out up at once
(outbound_max_calls) are counted over every engine, an engine gone no longer counting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pg_server import new_database

import ivr.escalation.models  # noqa: F401  (the tables join Base.metadata)
from ivr import config
from ivr.ami.message import Message
from ivr.centercount import EXPIRES, CenterCount
from ivr.escalation import store
from ivr.outbound import OutboundCalls
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.listen import PgRelay
from ivr.routing import load_rules
from ivr.routing.model import Contact, Ladder
from ivr.wake import Wakeups

RULES = Path(__file__).resolve().parents[2] / "routing_rules"

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # any moment: the limits count the hour before


@dataclass
class _Holder:
    current: Any


@dataclass
class _Engine:
    """What start_escalation reads of an engine's Services."""

    sessions: Any
    rules: _Holder
    settings: config.Settings


class _Rules:
    ladders = {"night": Ladder("night", (Contact("Mario", "3331", 15, "m@example.org"),), 2, 1, 30)}
    clients: dict[str, Any] = {}


async def _start(engine: _Engine, n: int, caller: str) -> str:
    try:
        await store.start_escalation(
            engine, linkedid=f"call.{n}", client_id="rossi", ladder="night", message_path=None,
            caller_name="Maria", callback=None, caller_number=caller, now=T0,
        )  # fmt: skip
    except store.EscalationRefused:
        return "refused"
    return "started"


async def test_ladders_per_caller_and_per_client_hold_across_engines(postgres_server: str) -> None:
    url = await new_database(postgres_server)
    await upgrade(url)
    settings = config.load(environ={}, escalation_per_caller_hour=2, escalation_per_client_hour=5)
    pools = [make_engine(url) for _ in range(3)]
    try:
        engines = [_Engine(session_factory(p), _Holder(_Rules()), settings) for p in pools]
        # one caller tries 12 times at once, through three engines: two ladders start
        same = await asyncio.gather(*(_start(engines[n % 3], n, "0612345678")
                                      for n in range(12)))  # fmt: skip
        assert same.count("started") == 2, same
        # twelve callers at once for one client: five ladders in the hour, two of them above
        many = await asyncio.gather(*(_start(engines[n % 3], 100 + n, f"06{n:08d}")
                                      for n in range(12)))  # fmt: skip
        assert many.count("started") == 3, many
    finally:
        for pool in pools:
            await pool.dispose()


def _out(channel: str) -> Message:
    """A channel made to call out through the trunk, as Asterisk announces it."""
    return Message({"Event": "Newchannel", "Channel": channel, "ChannelState": "0",
                    "Uniqueid": channel, "Linkedid": channel})  # fmt: skip


def _hangup(channel: str) -> Message:
    return Message({"Event": "Hangup", "Channel": channel})


async def test_calls_out_are_capped_over_every_engine(postgres_server: str) -> None:
    url = await new_database(postgres_server)
    settings = config.load(environ={}, outbound_max_calls=4)
    rules = load_rules(RULES)
    clock = [0.0]  # the expiry's clock, moved by the test
    wakeups = [Wakeups(), Wakeups()]
    relays = [PgRelay(url, w) for w in wakeups]
    counts = [CenterCount(f"e{k}", w, clock=lambda: clock[0]) for k, w in enumerate(wakeups)]
    engines = [OutboundCalls(settings) for _ in counts]
    tasks = []
    for relay, count, engine in zip(relays, counts, engines, strict=True):
        await relay.start()
        engine.center = count
        tasks.append(asyncio.create_task(count.run(lambda e=engine: e.up)))
    a, b = engines
    number = "+390612345678"
    try:
        for n in range(3):  # engine a places three calls out
            a.note(_out(f"PJSIP/trunk-0000000{n}"))
        await _until(lambda: counts[1].others() == 3, "b hears of a's three calls")
        assert b.may_dial(rules, None, number)  # the fourth line of the center
        b.note(_out("PJSIP/trunk-000000b1"))
        refused = b.may_dial(rules, None, number)
        assert not refused and "4 calls out already up in the center" in refused.reason
        await _until(lambda: counts[0].others() == 1, "a hears of b's call")
        assert not a.may_dial(rules, None, number)  # a has 3, b 1: the center is full
        a.note(_hangup("PJSIP/trunk-00000000"))
        await _until(lambda: counts[1].others() == 2, "b hears of a's hang-up")
        assert b.may_dial(rules, None, number)
        # engine a goes silent (it died): its calls stop counting once its word expires
        tasks[0].cancel()
        await asyncio.gather(tasks[0], return_exceptions=True)
        probed = asyncio.Event()  # a's words arrive in order: after the probe, none is left
        wakeups[1].on("probe", lambda _payload: probed.set())
        await wakeups[0].send("probe")
        await asyncio.wait_for(probed.wait(), 10)
        b.note(_out("PJSIP/trunk-000000b2"))
        assert not b.may_dial(rules, None, number)
        clock[0] += EXPIRES + 1
        assert b.may_dial(rules, None, number) and counts[1].others() == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for relay in relays:
            await relay.close()


async def _until(done: Any, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if done():
            return
        await asyncio.sleep(0.02)  # polling what a NOTIFY delivered
    raise AssertionError(f"not {what} within {timeout} s")
