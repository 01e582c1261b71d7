"""Faults of the FastAGI link, through the real Asterisk: the engine's AGI port down,
refusing, stalled or closing mid-header; a local process speaking FastAGI without the
instance's token; a caller hanging up in the middle of a menu prompt.

For the link faults the engine keeps running (it still builds the records from AMI
events) but listens for FastAGI elsewhere, while a stand-in misbehaves on the port the
dialplan calls. Every caller must still reach a human: the fallback group (op3).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from fault_rig import running_stack

from ivr.escalation import store
from ivr.escalation.ladder import Slot
from ivr.harness.ports import free_tcp_port
from ivr.harness.stack import AmiEvents, Stack, poll
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
ACME = "0611000001"
NIGHT = "0611000003"
DEADLINE = 3  # seconds Asterisk gives the engine (setting agi_deadline)

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("faults-fastagi")
    async with running_stack(folder, agi_deadline=DEADLINE) as running:
        await running.phone("op1", ring_ms=200)
        await running.phone("op3", ring_ms=200)
        yield running


@contextlib.asynccontextmanager
async def stand_in(stack: Stack, peer: Peer | None) -> AsyncIterator[None]:
    """The engine moves to another FastAGI port; `peer` (None: nobody) takes the dialplan's."""
    port = stack.settings.ports.agi
    await stack.stop_engine()
    stack.settings = dataclasses.replace(
        stack.settings, ports=dataclasses.replace(stack.settings.ports, agi=free_tcp_port())
    )
    server = await asyncio.start_server(peer, stack.settings.bind, port) if peer else None
    try:
        await stack.start_engine()
        yield
    finally:
        if server is not None:
            server.close()
        await stack.stop_engine()
        stack.settings = dataclasses.replace(
            stack.settings, ports=dataclasses.replace(stack.settings.ports, agi=port)
        )
        await stack.start_engine()


async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()  # a reset before a word is read


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass  # reads the environment, and never says a word
    writer.close()


async def close_mid_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(20)  # "agi_network: yes\nagi_" and no more
    writer.transport.abort()


async def caller_reaches_the_fallback(stack: Stack, caller: str) -> tuple[str, repo.CallRecord]:
    async with AmiEvents(stack) as events:
        result = await stack.call(ACME, caller_num=caller, hold_ms=1000, timeout=60)
        failure = await events.wait(
            lambda e: e.get("UserEvent") == "IvrFailure" and e.get("CallerIDNum") == caller
        )
        answered = await events.wait(
            lambda e: (
                e.event == "DialEnd"
                and e.get("DialStatus") == "ANSWER"
                and e.get("CallerIDNum") == caller
            )
        )
    assert result.ok, result.output[-1500:]
    assert answered["DestChannel"].startswith("PJSIP/op3-")  # the fallback group
    record = await stack.wait_record(lambda r: r.caller_number == caller and r.ended_at)
    assert (record.outcome, record.operator) == ("answered", "op3")
    assert record.failure_reason == failure["Reason"]
    return failure["Reason"], record


async def test_fastagi_down(stack: Stack) -> None:
    async with stand_in(stack, None):
        reason, _ = await caller_reaches_the_fallback(stack, "0612400001")
    assert reason == "engine FAILURE"


async def test_fastagi_refusing(stack: Stack) -> None:
    async with stand_in(stack, refuse):
        reason, _ = await caller_reaches_the_fallback(stack, "0612400002")
    assert reason.startswith("engine")


async def test_fastagi_stalled(stack: Stack) -> None:
    async with stand_in(stack, stall):
        reason, record = await caller_reaches_the_fallback(stack, "0612400003")
    assert reason == "engine stalled"
    assert record.arrived_at is not None and record.answered_at is not None
    # Asterisk waited out the deadline, not more (the fallback rings 200 ms).
    assert (record.answered_at - record.arrived_at).total_seconds() < DEADLINE + 5


async def test_fastagi_closing_mid_header(stack: Stack) -> None:
    async with stand_in(stack, close_mid_header):
        reason, _ = await caller_reaches_the_fallback(stack, "0612400004")
    assert reason.startswith("engine")


async def speak_fastagi(stack: Stack, script: str, arg: int, *replies: bytes) -> bytes:
    """A local process that connects to the engine's FastAGI port as Asterisk would."""
    reader, writer = await asyncio.open_connection(stack.settings.bind, stack.settings.ports.agi)
    env = (
        f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://x/{script}\n"
        f"agi_channel: PJSIP/forged-1\nagi_uniqueid: 1.1\nagi_arg_1: {arg}\n\n"
    )
    writer.write(env.encode())
    heard = b""
    for reply in replies:
        line = await asyncio.wait_for(reader.readline(), 10)
        heard += line
        if not line:
            break
        writer.write(reply)
    writer.close()  # and hangs up
    return heard


async def test_fastagi_without_the_token_cannot_acknowledge_a_ladder(stack: Stack) -> None:
    now = datetime.now(UTC)
    run_id = await store.start_escalation(
        stack.sessions, linkedid="esc-forged", client_id=None, ladder="gone",
        message_path=None, caller_name=None, callback=None, now=now,
    )  # fmt: skip
    attempt = await store.claim_attempt(stack.sessions, run_id, Slot(0, 0, 0), "Mario", "1", now)
    assert attempt is not None

    heard = await speak_fastagi(stack, "escalation", attempt, b"200 result=1\n", b"200 result=1\n")

    assert heard == b""  # closed without a word: no command to answer
    found = await store.attempt_with_run(stack.sessions, attempt)
    assert found is not None and found[0].answered_at is None and found[0].outcome != "acknowledged"
    status = await stack.wait_for(lambda s: s["agi"]["calls_refused"] >= 1, 10, "the refusal")
    assert status["agi"]["calls_refused"] >= 1
    # The same request with the token is served: the route notes the answer at once.
    token = stack.settings.agi_token
    await speak_fastagi(stack, f"escalation?token={token}", attempt, b"200 result=0\n")
    await poll(
        lambda: store.attempt_with_run(stack.sessions, attempt),
        lambda got: got is not None and got[0].answered_at is not None,
        10,
        "the served request",
    )


async def test_caller_hanging_up_mid_prompt(stack: Stack) -> None:
    before = stack.status()
    assert before is not None
    result = await stack.call(NIGHT, caller_num="0612400005", hold_ms=1000)
    record = await stack.wait_record(lambda r: r.caller_number == "0612400005" and r.ended_at)

    assert result.ok, result.output[-1500:]
    assert (record.outcome, record.called, record.message_path) == ("abandoned", NIGHT, None)
    assert await store.runs_for_call(stack.sessions, record.linkedid) == []
    after = await stack.wait_for(lambda s: s["agi"]["active_calls"] == 0, 10, "the AGI to end")
    assert after["agi"]["calls_failed"] == before["agi"]["calls_failed"]
