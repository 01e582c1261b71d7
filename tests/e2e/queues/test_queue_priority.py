"""Operator groups are Asterisk queues: a VIP who arrives later is answered first.

One operator (op1) in the queue `desk`. A first caller is answered and keeps her busy; an
ordinary caller then waits, then a VIP caller (priority `vip` in the rules, QUEUE_PRIO 10).
When op1 is free again, the queue must give her the VIP first.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.ami.message import Message
from ivr.control import call_engine
from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import SippResult, parse_result, sipp_binary
from ivr.harness.stack import AmiEvents as Events
from ivr.harness.stack import Stack, poll, stack_settings
from ivr.portal.store import Figures, figures

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"
FIRST, ORDINARY, VIP = "0612000001", "0612000002", "0612000999"
QUITTER = "0612000003"
CANCEL_SCENARIO = Path(__file__).resolve().parent / "caller_cancel.xml"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


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
        # The supervisor's figures, from the stored queue events: two callers waiting.
        waiting = await wait_figures(stack, lambda f: f.waiting == {"desk": 2})
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
    assert waiting.offered == 3 and waiting.answered == 1
    day = await wait_figures(stack, lambda f: f.answered == 3 and not f.waiting)
    assert day.abandoned == 0 and day.offered == 3
    assert day.answered_within == 3  # each waited less than 20 s
    assert day.average_wait is not None and day.average_wait < 20
    assert day.per_client == {"Corner Shop": 3}


async def wait_figures(stack: Stack, predicate: Callable[[Figures], bool]) -> Figures:
    """Poll the stored figures (rows written from AMI events) until predicate holds."""
    since = datetime(2000, 1, 1, tzinfo=UTC)  # the test's own database: all of it, any day
    return await poll(lambda: figures(stack.sessions, since), predicate, 20, "the figures")


async def test_a_group_added_by_a_reload_rings_its_operators_directly(tmp_path: Path) -> None:
    """Asterisk has no queue for a group the rules gained since its config was rendered."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    running = Stack(stack_settings(tmp_path, rules), tmp_path / "work")
    try:
        await running.start()
        await running.phone("op1", ring_ms=200)
        shared = rules / "shared.yaml"
        shared.write_text(
            shared.read_text().replace("groups:\n", "groups:\n  night:\n    members: [op1]\n")
        )
        shop = rules / "clients" / "shop.yaml"
        shop.write_text(shop.read_text().replace("to: [desk, message]", "to: [night, message]"))
        code, body = await asyncio.to_thread(call_engine, running.settings, "/api/reload", "POST")
        assert code == 200, body

        result = await running.call(SHOP, caller_num=FIRST, hold_ms=5000)

        assert result.ok, result.output[-1500:]
        record = await running.wait_record(lambda r: r.outcome != "in-progress")
        assert record.outcome == "answered" and record.operator == "op1"
    finally:
        await running.close()


async def give_up_after(stack: Stack, number: str, caller: str, wait_ms: int) -> SippResult:
    """A caller who hangs up after wait_ms of ringing, before anyone answered."""
    host, port = stack.sip
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(),
        "-sf", str(CANCEL_SCENARIO),
        "-i", "127.0.0.2", "-p", str(free_udp_port("127.0.0.2")),
        "-mp", str(free_media_port("127.0.0.2")),
        "-s", number, "-key", "caller_num", caller, "-d", str(wait_ms), "-m", "1",
        "-nostdin", f"{host}:{port}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return parse_result(proc.returncode, out.decode(errors="replace"))


async def test_a_caller_who_gives_up_waiting_is_counted_abandoned(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=200)

    async with Events(stack) as events:
        busy = asyncio.create_task(stack.call(SHOP, caller_num=FIRST, hold_ms=5000))
        answered = await events.wait(lambda e: connected(e) and e.get("CallerIDNum") == FIRST)
        quitter = await give_up_after(stack, SHOP, QUITTER, wait_ms=2000)
        abandon = await events.wait(lambda e: e.event == "QueueCallerAbandon")
        assert (await busy).ok

    assert quitter.ok, quitter.output[-1500:]
    assert abandon["CallerIDNum"] == QUITTER and abandon["Queue"] == "desk"
    day = await wait_figures(stack, lambda f: f.abandoned == 1 and not f.waiting)
    assert day.offered == 2 and day.answered == 1
    held = int(abandon["HoldTime"])
    assert 1 <= held <= 4  # about the 2 s the caller waited
    assert day.average_wait == (held + int(answered["HoldTime"])) / 2
    record = await stack.wait_record(lambda r: r.caller_number == QUITTER and r.ended_at)
    assert record.outcome == "abandoned" and record.operator is None
