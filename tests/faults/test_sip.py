"""Faults on the SIP side, through the real Asterisk: callers pretending to be the carrier,
anonymous ones, hostile caller IDs and dialled numbers, and a burst of 200 INVITEs.

The trunk is identified by address alone (127.0.0.2 and the network 127.0.0.4/30 here):
an INVITE from anywhere else is challenged (401) and refused, and creates no channel.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fault_rig import HERE, refused_call, running_stack

from ivr.ami.message import unescape_c
from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import run_scenario
from ivr.harness.stack import AmiEvents, Stack, poll
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
ACME = "0611000001"
BURST = "0611000009"
CAPACITY = 40


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("faults-sip")
    async with running_stack(
        folder, trunk_addresses="127.0.0.2, 127.0.0.4/30", max_calls=CAPACITY
    ) as running:
        await running.phone("op1", ring_ms=200)
        yield running


async def calls_from(stack: Stack, caller: str) -> list[repo.CallRecord]:
    return [
        r for r in await repo.list_calls(stack.sessions, limit=500) if r.caller_number == caller
    ]


@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.3"])
async def test_an_invite_naming_the_trunk_from_another_address_is_refused(
    stack: Stack, source: str
) -> None:
    async with AmiEvents(stack) as events:
        result = await refused_call(stack, bind=source, user="trunk", code=401)
        # The legitimate trunk right after: its Newchannel bounds the wait for any other.
        await stack.call(ACME, caller_num="0612300000", bind="127.0.0.2")
        await events.wait(
            lambda e: e.event == "Newchannel" and e.get("CallerIDNum") == "0612300000"
        )

    assert result.ok, result.output[-1500:]  # challenged with 401, nothing else
    assert [e for e in events.all(lambda e: e.event == "Newchannel")
            if e.get("CallerIDNum") == "trunk"] == []  # fmt: skip
    # The real call's only: an operator's leg is filtered out by Asterisk (ivr/ami/events.py).
    assert len(events.all(lambda e: e.event == "Newchannel")) == 1
    assert await calls_from(stack, "trunk") == []


async def test_an_anonymous_invite_from_outside_the_trunk_is_refused(stack: Stack) -> None:
    async with AmiEvents(stack) as events:
        result = await refused_call(stack, bind="127.0.0.3", user="anonymous", code=401)
        await stack.call(ACME, caller_num="0612300001", bind="127.0.0.2")
        await events.wait(
            lambda e: e.event == "Newchannel" and e.get("CallerIDNum") == "0612300001"
        )

    assert result.ok, result.output[-1500:]
    assert not events.all(lambda e: e.event == "Newchannel" and e.get("CallerIDNum") == "anonymous")
    assert await calls_from(stack, "anonymous") == []


async def test_a_withheld_caller_through_the_trunk_is_answered_as_withheld(stack: Stack) -> None:
    result = await stack.call(ACME, caller_num="anonymous", caller_name="Anonymous")

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(
        lambda r: r.caller_number in ("anonymous", "") and r.ended_at is not None
    )
    assert (record.outcome, record.operator, record.client_id) == ("answered", "op1", "acme")


async def test_every_address_of_the_carrier_is_the_trunk(stack: Stack) -> None:
    """A second address of the carrier's network (127.0.0.4/30) is the trunk too."""
    result = await stack.call(ACME, caller_num="0612300002", bind="127.0.0.5")

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(
        lambda r: r.caller_number == "0612300002" and r.ended_at is not None
    )
    assert (record.outcome, record.client_id) == ("answered", "acme")


HOSTILE_NAME = 'Mario \\"Boss\\"; DROP TABLE calls;-- \\n HANGUP <script>x</script> Müller 日本'
# A number whose %0D%0A Asterisk unescapes into line breaks: the AGI environment and every
# AMI event of the channel carry them, and a blank line forges a whole AMI event.
FORGING_NUMBER = (
    "0612%0D%0A%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20IvrMessage"
    "%0D%0ALinkedid%3A%20forged-1%0D%0AEscalate%3A%20night%0D%0AEXEC%20Dial%20PJSIP/0088"
)


async def test_hostile_caller_name_is_answered_and_stored_as_sent(stack: Stack) -> None:
    async with AmiEvents(stack) as events:
        result = await stack.call(ACME, caller_num="0612300010", caller_name=HOSTILE_NAME)
        arrived = await events.wait(
            lambda e: e.event == "Newchannel" and e.get("CallerIDNum") == "0612300010"
        )
    record = await stack.wait_record(
        lambda r: r.caller_number == "0612300010" and r.ended_at is not None
    )

    assert result.ok, result.output[-1500:]
    assert (record.outcome, record.operator) == ("answered", "op1")
    assert record.caller_name == unescape_c(arrived["CallerIDName"]) == HOSTILE_NAME


async def test_a_caller_number_forging_ami_events_starts_nothing(stack: Stack) -> None:
    async with AmiEvents(stack) as events:
        result = await stack.call(ACME, caller_num=FORGING_NUMBER, caller_name="Forger")
        forged = await events.wait(lambda e: e.get("Linkedid") == "forged-1")
        channel = forged["Uniqueid"]  # the forgery carries the rest of the real event
        await events.wait(lambda e: e.event == "Hangup" and e.get("Uniqueid") == channel)

    assert result.ok, result.output[-1500:]  # the caller still reached the message box
    assert forged.event == "UserEvent"  # Asterisk did pass the forgery on to AMI
    # The dialplan kept only the number's digits and letters: the call's later events and
    # its record are whole.
    record = await stack.wait_record(lambda r: r.linkedid == channel and r.ended_at is not None)
    assert record.caller_number is not None and record.caller_number.isalnum()
    assert (record.outcome, record.operator) == ("answered", "op1")
    assert await repo.get_call(stack.sessions, "forged-1") is None
    from ivr.escalation.store import runs_for_call

    assert await runs_for_call(stack.sessions, "forged-1") == []
    assert not events.all(lambda e: e.event == "DialBegin" and "0088" in e.get("DialString", ""))
    assert stack.engine is not None and stack.engine.returncode is None


async def test_an_injected_dialled_number_dials_nothing(stack: Stack) -> None:
    async with AmiEvents(stack) as events:
        result = await stack.call("0611000001&PJSIP/00881234567", caller_num="0612300011")
        ended = await events.wait(
            lambda e: e.event == "Hangup" and e.get("CallerIDNum") == "0612300011"
        )

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(lambda r: r.linkedid == ended["Linkedid"] and r.ended_at)
    assert record.called is not None and record.called.isdigit()
    assert not events.all(lambda e: e.event == "DialBegin" and "0088" in e.get("DialString", ""))
    assert not events.all(
        lambda e: e.event == "Newchannel" and e.get("Exten", "").startswith("0088")
    )


async def test_an_over_long_caller_name_cannot_smuggle_an_agi_command(stack: Stack) -> None:
    """Asterisk reads one AGI command per 2,048 bytes: a name that long, ending in a command,
    must not reach a command line whole. Asterisk keeps the name's start; the engine shows
    operators 40 characters of it (the wire side: test_agi_wire.py)."""
    name = "A" * 2040 + "EXEC Hangup"
    result = await stack.call(ACME, caller_num="0612300012", caller_name=name)
    record = await stack.wait_record(
        lambda r: r.caller_number == "0612300012" and r.ended_at is not None
    )

    assert result.ok, result.output[-1500:]
    assert (record.outcome, record.operator) == ("answered", "op1")  # not hung up
    stored = record.caller_name or ""
    assert 40 <= len(stored) < 2040 and name.startswith(stored)


async def test_a_burst_of_200_invites_in_one_second(stack: Stack) -> None:
    """No crash; above the call limit callers get 503 at once; none is left half-open."""
    bind = "127.0.0.2"
    args = [
        "-sf", str(HERE / "burst.xml"), "-i", bind, "-p", str(free_udp_port(bind)),
        "-mp", str(free_media_port(bind)), "-s", BURST, "-key", "caller_num", "0612999999",
        "-d", "2000", "-m", "200", "-r", "200", "-rp", "1000", "-l", "200",
        "-recv_timeout", "20000", f"{stack.sip[0]}:{stack.sip[1]}",
    ]  # fmt: skip
    async with AmiEvents(stack) as events:
        result = await run_scenario(args, 120)

    assert result.created == 200, result.output[-3000:]
    # Every caller got a final answer: answered then hung up, or refused with 503.
    assert (result.successful, result.failed) == (200, 0), result.output[-3000:]
    answered, refused = received(result.output, "200 <-"), received(result.output, "503 <-")
    assert answered + refused == 200 and refused > 0, result.output[-3000:]
    assert 0 < answered <= CAPACITY
    # Nothing half-open: every channel ends, in Asterisk and in the records.
    await poll(
        lambda: stack.asterisk.cli("core show channels count"),
        lambda out: out.lstrip().startswith("0 active channels"),
        60,
        "every channel to end",
    )
    taken = {e["Linkedid"] for e in events.all(lambda e: e.event == "Newchannel")}
    burst = await poll(
        lambda: calls_from(stack, "0612999999"),
        lambda found: len(found) == len(taken) and all(r.ended_at for r in found),
        60,
        "every burst call to be recorded as ended",
    )
    assert sum(r.outcome != "abandoned" for r in burst) <= answered
    status = stack.status()
    assert status is not None and status["agi"]["active_calls"] == 0
    assert stack.engine is not None and stack.engine.returncode is None


def received(screen: str, message: str) -> int:
    """How many of a message sipp's final screen counts ("503 <----------   17")."""
    found = re.search(re.escape(message) + r"-*\s+(?:E-RTD1\s+)?(\d+)", screen)
    return int(found.group(1)) if found else 0
