"""An IVR menu through the real Asterisk: a spoken prompt, keys sent as SIP INFO.

The Night Shop's callers hear a text prompt (espeak-ng, synthesised once when the engine
starts). Pressing 1 rings the desk (op1), 2 takes a message, no key rings the fallback group
(op3): the menu's default. Assertions are on the call record and on Asterisk's own events.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from ivr.ami.message import Message
from ivr.harness.stack import AmiEvents as Events
from ivr.harness.stack import Stack
from ivr.records import repo

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000003"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


@pytest_asyncio.fixture(autouse=True)
async def phones(stack: Stack) -> None:
    """op1 answers the desk, op3 the fallback group."""
    await stack.phone("op1", ring_ms=200)
    await stack.phone("op3", ring_ms=200)


def prompts(stack: Stack) -> dict[Path, int]:
    """The synthesised prompt files and their mtimes, as the host sees them."""
    folder = stack.settings.host_path(stack.settings.run_dir / "prompts")
    return {path: path.stat().st_mtime_ns for path in folder.glob("en-*.wav")}


async def finished(stack: Stack, caller: str) -> repo.CallRecord:
    return await stack.wait_record(
        lambda r: r.caller_number == caller and r.outcome != "in-progress", timeout=60
    )


def connected(e: Message) -> bool:
    return e.event == "AgentConnect"


async def test_pressing_1_rings_the_desk(stack: Stack) -> None:
    spoken = prompts(stack)
    assert len(spoken) == 1  # the menu's text prompt, made when the engine started

    async with Events(stack) as events:
        result = await stack.call(SHOP, caller_num="0612100001", digits="1", hold_ms=3000)
        answer = await events.wait(connected)

    assert result.ok, result.output[-1500:]
    assert (answer["Queue"], answer["MemberName"]) == ("desk", "op1")
    assert answer["CallerIDNum"] == "0612100001"
    record = await finished(stack, "0612100001")
    assert (record.client_id, record.route) == ("nightshop", "operators")
    assert (record.outcome, record.operator) == ("answered", "op1")
    assert prompts(stack) == spoken  # played from the cache, not synthesised again


async def test_pressing_2_takes_a_message(stack: Stack) -> None:
    async with Events(stack) as events:
        # the greeting and the beep, then a few seconds of message before hanging up
        result = await stack.call(
            SHOP, caller_num="0612100002", digits="2", hold_ms=9000, timeout=60
        )
        message = await events.wait(lambda e: e.get("UserEvent") == "IvrMessage")

    assert result.ok, result.output[-1500:]
    assert not events.all(connected)  # no operator was rung
    record = await finished(stack, "0612100002")
    assert (record.client_id, record.route) == ("nightshop", "message")
    assert (record.outcome, record.operator) == ("message-left", None)
    assert record.message_path is not None
    assert record.message_path.startswith(f"{stack.settings.run_dir}/messages/nightshop/")
    assert message["Path"] == record.message_path
    on_disk = stack.settings.host_path(Path(record.message_path))
    assert on_disk.read_bytes()[:4] == b"RIFF"


async def test_no_key_takes_the_menus_default(stack: Stack) -> None:
    async with Events(stack) as events:
        # the prompt and its wait for a key (offered up to twice), then the fallback rings
        result = await stack.call(SHOP, caller_num="0612100003", hold_ms=16000, timeout=60)
        answer = await events.wait(connected)

    assert result.ok, result.output[-1500:]
    assert (answer["Queue"], answer["MemberName"]) == ("fallback", "op3")
    record = await finished(stack, "0612100003")
    assert (record.client_id, record.route) == ("nightshop", "operators")
    assert (record.outcome, record.operator) == ("answered", "op3")
