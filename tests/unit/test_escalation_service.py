"""The escalation scheduler against a real SQLite file and a scripted AMI: what it sends,
how it reads Asterisk's answers (in either order), and how a new engine resumes a ladder
that a killed one left half done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from ivr.alarm import Alarms
from ivr.ami.message import Message
from ivr.config import Settings
from ivr.dialpolicy import DialPolicy
from ivr.escalation import store
from ivr.escalation.service import Escalations
from ivr.escalation.speech import dialable
from ivr.outbound import OutboundCalls
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.routing.model import Contact, Ladder, Rules

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
LADDER = Ladder("night", (Contact("Mario", "3331", 10), Contact("Luca", "3332", 10)))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeAmi:
    """Answers Originate with a fresh ActionID; `before_reply` runs first (event races)."""

    connected = True

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.channels: list[Message] = []
        self.before_reply: Any = None

    async def send_action(self, fields: list[tuple[str, str]]) -> Message:
        self.sent.append(dict(fields))
        action_id = f"a-{len(self.sent)}"
        if self.before_reply is not None:
            await self.before_reply(action_id)
        return Message([("Response", "Success"), ("ActionID", action_id)])

    async def send_action_list(self, fields: dict[str, str]) -> list[Message]:
        return self.channels


class FakePrompts:
    async def file_for(self, prompt: Any, language: str) -> str:
        return f"/prompts/{prompt.id}"


@pytest_asyncio.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[store.Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def services(
    sessions: store.Sessions, clock: Clock, ami: FakeAmi, policy: DialPolicy | None = None
) -> Any:
    # The test contacts' short numbers are allowed by prefix (+39): the policy is not the point.
    policy = policy or DialPolicy(allow_prefixes=("+39",))
    rules = Rules({}, {}, "x", {}, {}, "", ladders={"night": LADDER}, dial_policy=policy)
    settings = Settings(outbound_dial="PJSIP/{number}@carrier", outbound_max_calls=0)
    return SimpleNamespace(
        settings=settings,
        sessions=sessions,
        clock=clock,
        ami=ami,
        rules=SimpleNamespace(current=rules),
        prompts=FakePrompts(),
        alarms=Alarms(),
        outbound=OutboundCalls(settings),
    )


async def _start(sessions: store.Sessions) -> None:
    await store.start_escalation(
        sessions,
        linkedid="1.1",
        client_id=None,
        ladder="night",
        message_path=None,
        caller_name="Maria",
        callback="0612345678",
        now=T0,
    )


async def test_a_contact_the_dial_policy_refuses_is_never_called_and_the_ladder_goes_on(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    policy = DialPolicy(allow_prefixes=("+39",), deny_prefixes=("+393331",))
    escalations = Escalations(services(sessions, clock, ami, policy))
    await _start(sessions)

    await escalations.tick()  # Mario is refused at once, Luca is called
    await escalations.tick()

    attempts = await store.attempts_for_call(sessions, "1.1")
    assert [(a.contact_name, a.outcome, a.detail) for a in attempts] == [
        ("Mario", "refused", "not dialled: refused by prefix +393331"),
        ("Luca", None, None),
    ]
    assert [a["Channel"] for a in ami.sent] == ["PJSIP/+393332@carrier"]


async def test_no_call_is_placed_while_the_cap_on_calls_out_is_reached(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    escalation_services = services(sessions, clock, ami)
    escalation_services.settings = Settings(
        outbound_dial="PJSIP/{number}@carrier", outbound_max_calls=1
    )
    escalation_services.outbound = OutboundCalls(escalation_services.settings)
    escalation_services.outbound.channels.add("PJSIP/carrier-0001")  # a forward step is up
    escalations = Escalations(escalation_services)
    await _start(sessions)

    await escalations.tick()
    assert ami.sent == [] and await store.attempts_for_call(sessions, "1.1") == []
    escalation_services.outbound.channels.clear()
    await escalations.tick()
    assert len(ami.sent) == 1


def response(action_id: str, reason: str) -> Message:
    return Message([("Event", "OriginateResponse"), ("ActionID", action_id), ("Reason", reason)])


async def test_a_due_step_is_written_then_originated_through_the_outbound_pattern(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    escalations = Escalations(services(sessions, clock, ami))
    await _start(sessions)

    await escalations.tick()

    [attempt] = await store.attempts_for_call(sessions, "1.1")
    [originate] = ami.sent
    assert originate["Action"] == "Originate"
    assert originate["Channel"] == "PJSIP/+393331@carrier"  # E.164, the + kept
    assert originate["Context"] == "ivr-out-escalation"
    assert originate["Account"] == f"esc-{attempt.id}"
    assert originate["Variable"] == f"IVR_ESCALATION_ATTEMPT={attempt.id}"
    assert originate["Timeout"] == "10000"
    await escalations.tick()  # the call is in progress: nothing more is placed
    assert len(ami.sent) == 1

    await escalations.on_event(response("a-1", "3"))
    clock.now += timedelta(seconds=10)
    await escalations.tick()

    attempts = await store.attempts_for_call(sessions, "1.1")
    assert [(a.contact_name, a.outcome) for a in attempts] == [
        ("Mario", "no-answer"),
        ("Luca", None),
    ]


async def test_a_busy_contact_answered_before_the_originate_reply_is_read(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    escalations = Escalations(services(sessions, clock, ami))
    await _start(sessions)

    async def refused_at_once(action_id: str) -> None:
        [attempt] = await store.attempts_for_call(sessions, "1.1")
        account = f"esc-{attempt.id}"
        await escalations.on_event(
            Message([("Event", "HangupRequest"), ("AccountCode", account), ("Cause", "17")])
        )
        await escalations.on_event(response(action_id, "0"))

    ami.before_reply = refused_at_once
    await escalations.tick()

    [attempt] = await store.attempts_for_call(sessions, "1.1")
    assert attempt.outcome == "busy"


async def test_a_new_engine_resumes_where_the_killed_one_was(sessions: store.Sessions) -> None:
    clock, ami = Clock(), FakeAmi()
    first = Escalations(services(sessions, clock, ami))
    await _start(sessions)
    await first.tick()  # Mario's call is placed; then the engine dies with it in progress

    clock.now += timedelta(seconds=2)
    ami_after = FakeAmi()
    [placed] = await store.attempts_for_call(sessions, "1.1")
    ami_after.channels = [
        Message([("Event", "CoreShowChannel"), ("AccountCode", f"esc-{placed.id}")])
    ]
    second = Escalations(services(sessions, clock, ami_after))
    clock.now += timedelta(seconds=2)
    await second.tick()
    assert ami_after.sent == []  # Mario's phone still rings: wait, and never call him again
    assert (await store.attempts_for_call(sessions, "1.1"))[0].outcome is None

    ami_after.channels = []  # his call has ended while nobody listened
    clock.now += timedelta(seconds=8)
    await second.tick()
    await second.tick()

    attempts = await store.attempts_for_call(sessions, "1.1")
    assert [(a.contact_name, a.outcome) for a in attempts] == [("Mario", "unknown"), ("Luca", None)]
    assert [f["Channel"] for f in ami_after.sent] == ["PJSIP/+393332@carrier"]


async def test_a_busy_cause_that_comes_after_the_failure_still_says_busy(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    escalations = Escalations(services(sessions, clock, ami))
    await _start(sessions)
    await escalations.tick()
    [attempt] = await store.attempts_for_call(sessions, "1.1")

    await escalations.on_event(response("a-1", "0"))
    assert (await store.attempts_for_call(sessions, "1.1"))[0].outcome is None  # waits a moment
    hangup = [("Event", "Hangup"), ("AccountCode", f"esc-{attempt.id}"), ("Cause", "17")]
    await escalations.on_event(Message(hangup))

    assert (await store.attempts_for_call(sessions, "1.1"))[0].outcome == "busy"


async def test_a_failure_with_no_cause_is_a_failure(sessions: store.Sessions) -> None:
    clock, ami = Clock(), FakeAmi()
    escalations = Escalations(services(sessions, clock, ami))
    await _start(sessions)
    await escalations.tick()

    await escalations.on_event(response("a-1", "0"))
    clock.now += timedelta(seconds=3)
    await escalations.tick()

    attempts = await store.attempts_for_call(sessions, "1.1")
    assert [(a.contact_name, a.outcome) for a in attempts] == [("Mario", "failed"), ("Luca", None)]


async def test_a_hostile_callback_number_reaches_neither_dial_nor_the_caller_id(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    escalations = Escalations(services(sessions, clock, ami))
    await store.start_escalation(
        sessions,
        linkedid="6.6",
        client_id=None,
        ladder="night",
        message_path=None,
        caller_name="x",
        callback="06 12\r\nAction: Hangup&PJSIP/opx",
        now=T0,
    )

    await escalations.tick()

    [originate] = ami.sent
    assert originate["CallerID"] == '"Urgent " <0612>'
    assert dialable("06 12\r\n&PJSIP/opx") == "0612"


async def test_with_no_ladder_running_the_scheduler_sleeps_until_woken(
    sessions: store.Sessions,
) -> None:
    clock, ami = Clock(), FakeAmi()
    given = services(sessions, clock, ami)
    escalations = Escalations(given)

    assert await escalations.tick() is None  # nothing due, ever: no polling

    await store.start_escalation(
        given,
        linkedid="9.1",
        client_id=None,
        ladder="night",
        message_path=None,
        caller_name="Maria",
        callback="0612345678",
        caller_number="0612345678",
        now=T0,
    )
    assert escalations.alarm.wakes == 1  # storing a ladder wakes the scheduler
    assert await escalations.tick() is not None  # its call is out: the outcome is awaited
