"""Operator groups are Asterisk queues: a VIP who arrives later is answered first.

One operator (op1) in the queue `desk`. A first caller is answered and keeps her busy; an
ordinary caller then waits, then a VIP caller (priority `vip` in the rules, QUEUE_PRIO 10).
When op1 is free again, the queue must give her the VIP first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.ami.client import AmiClient
from ivr.ami.message import Message
from ivr.stack import Stack, stack_settings

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"
FIRST, ORDINARY, VIP = "0612000001", "0612000002", "0612000999"


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = Stack(stack_settings(tmp_path, RULES), tmp_path / "work")
    try:
        await running.start()
        yield running
    finally:
        await running.close()


class Events:
    """The test's own AMI connection: what Asterisk reports, for assertions."""

    def __init__(self, stack: Stack) -> None:
        s = stack.settings
        self.seen: list[Message] = []
        self.changed = asyncio.Event()
        self.client = AmiClient(s.bind, s.ports.ami, s.ami_user, s.ami_secret, on_event=self.add)

    async def add(self, event: Message) -> None:
        self.seen.append(event)
        self.changed.set()

    async def wait(self, predicate: Callable[[Message], bool], timeout: float = 30.0) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.seen:
                    if predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

    def all(self, predicate: Callable[[Message], bool]) -> list[Message]:
        return [event for event in self.seen if predicate(event)]

    async def __aenter__(self) -> Events:
        await self.client.start()
        await self.client.wait_connected(10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()


def joined(number: str) -> Callable[[Message], bool]:
    return lambda e: e.event == "QueueCallerJoin" and e.get("CallerIDNum") == number


def connected(e: Message) -> bool:
    return e.event == "AgentConnect"


async def test_vip_who_arrives_later_is_answered_first(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=200)

    async with Events(stack) as events:
        first = asyncio.create_task(stack.call(SHOP, caller_num=FIRST, hold_ms=6000))
        await events.wait(lambda e: connected(e) and e.get("CallerIDNum") == FIRST)
        ordinary = asyncio.create_task(
            stack.call(SHOP, caller_num=ORDINARY, hold_ms=500, timeout=90)
        )
        ordinary_join = await events.wait(joined(ORDINARY))
        vip = asyncio.create_task(stack.call(SHOP, caller_num=VIP, hold_ms=500, timeout=90))
        vip_join = await events.wait(joined(VIP))
        results = await asyncio.gather(first, ordinary, vip)
        await events.wait(lambda e: connected(e) and e.get("CallerIDNum") == ORDINARY)

    for result in results:
        assert result.ok, result.output[-1500:]
    # Both waited while op1 was busy; the VIP went in ahead of the caller already waiting.
    assert ordinary_join["Queue"] == vip_join["Queue"] == "desk"
    assert ordinary_join["Position"] == "1"
    assert vip_join["Position"] == "1"
    answered = [e["CallerIDNum"] for e in events.all(connected)]
    assert answered == [FIRST, VIP, ORDINARY]
    assert {e["MemberName"] for e in events.all(connected)} == {"op1"}
    # The call records say the same: the VIP arrived later and was answered earlier.
    by_number = {}
    for number in (FIRST, ORDINARY, VIP):
        by_number[number] = await stack.wait_record(
            lambda r, n=number: r.caller_number == n and r.outcome != "in-progress"
        )
    first_rec, ordinary_rec, vip_rec = by_number[FIRST], by_number[ORDINARY], by_number[VIP]
    assert all(r.outcome == "answered" and r.operator == "op1" for r in by_number.values())
    assert all(r.client_id == "shop" and r.route == "operators" for r in by_number.values())
    assert ordinary_rec.arrived_at < vip_rec.arrived_at
    assert vip_rec.answered_at < ordinary_rec.answered_at
    assert first_rec.ended_at <= vip_rec.answered_at
