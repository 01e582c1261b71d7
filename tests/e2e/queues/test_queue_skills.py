"""Per-operator penalties for skills: the queue offers a call to a skilled operator first,
and to the others only while no skilled one is free."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.ami.message import Message
from ivr.harness.stack import AmiEvents, Stack

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules_skills"
DRAINS = "0611000010"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


def connected(number: str) -> Callable[[Message], bool]:
    return lambda e: e.event == "AgentConnect" and e.get("CallerIDNum") == number


async def test_the_skilled_operator_first_the_other_only_while_she_is_busy(stack: Stack) -> None:
    queues = await stack.asterisk.cli("queue show plumbers")
    assert "PJSIP/op2" in queues and "PJSIP/op1" in queues
    await stack.phone("op1", ring_ms=200)
    await stack.phone("op2", ring_ms=200)

    async with AmiEvents(stack) as events:
        first = asyncio.create_task(stack.call(DRAINS, caller_num="0612100001", hold_ms=6000))
        to_first: Message = await events.wait(connected("0612100001"))
        second = await stack.call(DRAINS, caller_num="0612100002", hold_ms=500)
        to_second: Message = await events.wait(connected("0612100002"))
        assert (await first).ok

    assert second.ok, second.output[-1500:]
    assert to_first["MemberName"] == "op1"  # has the skill, though listed second
    assert to_second["MemberName"] == "op2"  # op1 is busy: the penalty-1 member now
    called = [e["MemberName"] for e in events.all(lambda e: e.event == "AgentCalled")]
    assert called[0] == "op1"  # op2 was not even rung for the first call
