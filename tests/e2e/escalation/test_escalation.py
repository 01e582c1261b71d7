"""Urgent escalation through the real Asterisk: the engine calls a ladder's contacts over the
trunk until one presses 1. The contacts' phones are one sipp behind the trunk (contacts.xml),
behaving by the number dialled; an aiosmtpd sink receives the start-of-ladder email.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from ivr.asterisk.render import Trunk
from ivr.control import call_engine
from ivr.escalation.store import AttemptRecord, RunRecord, attempts_for_call, runs_for_call
from ivr.escalation.store import start_escalation as start
from ivr.harness.ports import free_media_port, free_tcp_port, free_udp_port
from ivr.harness.sipp import sipp_binary
from ivr.harness.sipp.contacts import AnsweringPhones
from ivr.harness.stack import AmiEvents as Events
from ivr.harness.stack import Stack, poll, stack_settings

pytestmark = pytest.mark.e2e
HERE = Path(__file__).resolve().parent
TRUNK = "127.0.0.2"


class Mailbox:
    """An SMTP sink on loopback: every message it accepted."""

    def __init__(self) -> None:
        self.received: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 OK"


@dataclasses.dataclass
class Rig:
    stack: Stack
    mailbox: Mailbox
    phones: AnsweringPhones

    def message(self, name: str) -> str:
        """A recorded message as Asterisk sees it (one second of tone)."""
        path = self.stack.settings.run_dir / "messages" / "acme" / f"{name}.wav"
        host = self.stack.settings.host_path(path)
        host.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(host),
                "synth",
                "1",
                "sine",
                "440",
            ],  # noqa: S607
            check=True,
        )
        return str(path)

    async def escalate(self, linkedid: str, ladder: str) -> int:
        run = await start(
            self.stack.sessions,
            linkedid=linkedid,
            client_id="acme",
            ladder=ladder,
            message_path=self.message(linkedid),
            caller_name="Maria Bianchi",
            callback="0612345678",
        )
        await self.wake()
        return run

    async def wake(self) -> None:
        """A ladder stored by another process: the engine's scheduler sleeps until told."""
        s = self.stack.settings
        code, _ = await asyncio.to_thread(call_engine, s, "/api/wake/escalations", "POST")
        assert code == 200

    async def wait_run(
        self,
        linkedid: str,
        done: Callable[[RunRecord, list[AttemptRecord]], bool] = lambda r, a: r.status != "running",
        timeout: float = 60.0,
    ) -> tuple[RunRecord, list[AttemptRecord]]:
        """Poll the database (rows, not a sleep) until the run satisfies `done`."""

        async def read() -> tuple[list[RunRecord], list[AttemptRecord]]:
            runs = await runs_for_call(self.stack.sessions, linkedid)
            return runs, await attempts_for_call(self.stack.sessions, linkedid)

        try:
            runs, attempts = await poll(
                read, lambda got: bool(got[0]) and done(got[0][0], got[1]), timeout
            )
        except AssertionError as exc:
            raise AssertionError(
                f"escalation of {linkedid}: {exc}\n{self.stack.log_tail()}"
            ) from None
        return runs[0], attempts


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_tcp_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    with smtp_sink() as (mailbox, smtp_port):
        phones = AnsweringPhones(HERE / "contacts.xml", tmp_path / "work")
        settings = stack_settings(
            tmp_path,
            HERE / "rules",
            escalation_tick=0.2,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            mail_from="urgent@ivr.test",
        )
        stack = Stack(settings, tmp_path / "work", trunk=Trunk(TRUNK, phones.port))
        phones.start()
        try:
            await stack.start()
            yield Rig(stack, mailbox, phones)
        finally:
            await stack.close()
            phones.stop()


def summary(attempts: list[AttemptRecord]) -> list[tuple[int, str, str | None]]:
    return [(a.round, a.contact_name, a.outcome) for a in attempts]


async def test_the_first_contact_answers_and_acknowledges(rig: Rig) -> None:
    await rig.escalate("esc-1", "first-acks")

    run, attempts = await rig.wait_run("esc-1")

    assert run.status == "acknowledged"
    assert run.acknowledged_by == "Mario Rossi"
    assert summary(attempts) == [(0, "Mario Rossi", "acknowledged")]
    [mario] = attempts
    assert mario.number == "7100001"
    assert mario.placed_at <= mario.answered_at <= mario.ended_at  # type: ignore[operator]
    assert run.acknowledged_at == mario.ended_at
    # The email went out at the start, to the contacts that have an address.
    await rig.wait_run("esc-1", lambda r, a: r.mailed_at is not None)
    [mail] = rig.mailbox.received
    assert mail.rcpt_tos == ["mario@example.org"]
    assert mail.mail_from == "urgent@ivr.test"
    body = mail.content.decode()
    assert "URGENT: message for Acme Plumbing from Maria Bianchi" in body
    assert "0612345678" in body


async def test_the_first_never_answers_and_the_second_acknowledges(rig: Rig) -> None:
    await rig.escalate("esc-2", "second-acks")

    run, attempts = await rig.wait_run("esc-2")

    assert run.status == "acknowledged"
    assert run.acknowledged_by == "Luca Rossi"
    assert summary(attempts) == [(0, "Mario Rossi", "no-answer"), (0, "Luca Rossi", "acknowledged")]
    mario, luca = attempts
    assert mario.answered_at is None
    assert mario.ended_at is not None and mario.ended_at <= luca.placed_at
    await rig.wait_run("esc-2", lambda r, a: r.mailed_at is not None)
    assert sorted(rig.mailbox.received[0].rcpt_tos) == ["luca@example.org", "mario@example.org"]


async def test_nobody_acknowledges_and_the_ladder_ends_after_its_rounds(rig: Rig) -> None:
    await rig.escalate("esc-3", "nobody")

    run, attempts = await rig.wait_run("esc-3", timeout=90)

    assert run.status == "exhausted"
    assert run.acknowledged_at is None
    one_round = [("Mario Rossi", "no-answer"), ("Luca Rossi", "busy"), ("Gino Rossi", "answered")]
    assert summary(attempts) == [(0, *x) for x in one_round] + [(1, *x) for x in one_round], [
        a.detail for a in attempts
    ]
    # The pause (2 s) separates the rounds; within one, the next call follows the last.
    end_of_first = attempts[2].ended_at
    assert end_of_first is not None
    assert (attempts[3].placed_at - end_of_first).total_seconds() >= 2
    assert all(a.ended_at is not None for a in attempts)
    # Nobody has an email address in this ladder: the run says so, nothing was sent.
    run, _ = await rig.wait_run("esc-3", lambda r, a: r.mailed_at is not None)
    assert run.mail_result == "not sent: no contact has an email address"
    assert rig.mailbox.received == []


async def test_the_same_trigger_twice_starts_one_ladder(rig: Rig) -> None:
    first = await rig.escalate("esc-4", "first-acks")
    second = await rig.escalate("esc-4", "first-acks")

    run, attempts = await rig.wait_run("esc-4")

    assert first == second == run.id
    assert summary(attempts) == [(0, "Mario Rossi", "acknowledged")]
    assert len(await runs_for_call(rig.stack.sessions, "esc-4")) == 1


async def test_killed_mid_ladder_the_engine_resumes_without_calling_twice(rig: Rig) -> None:
    stack = rig.stack
    async with Events(stack) as events:
        await rig.escalate("esc-5", "slow-then-ack")
        # Mario's phone is ringing (6 s): the engine dies now, without a goodbye.
        await events.wait(
            lambda e: e.event == "Newchannel" and e.get("Channel", "").startswith("PJSIP/trunk-")
        )
        # (The email is sent at least once: a kill between sending and noting it would send
        # it again, so this test kills just after it is noted.)
        await rig.wait_run("esc-5", lambda r, a: r.mailed_at is not None, timeout=5)
        await stack.stop_engine(signal.SIGKILL)
        await stack.start_engine()

        run, attempts = await rig.wait_run("esc-5")
        ended = await events.wait(
            lambda e: e.event == "Hangup" and e.get("AccountCode") == f"esc-{attempts[-1].id}"
        )

    assert run.status == "acknowledged"
    assert run.acknowledged_by == "Luca Rossi"
    # Mario's call was placed once, by the engine that died; its outcome was lost with it.
    assert summary(attempts) == [(0, "Mario Rossi", "unknown"), (0, "Luca Rossi", "acknowledged")]
    placed = [
        e.get("AccountCode")
        for e in events.seen
        if e.event == "Hangup" and e.get("Channel", "").startswith("PJSIP/trunk-")
    ]
    assert placed == [f"esc-{attempts[0].id}", f"esc-{attempts[1].id}"], placed
    assert ended is not None
    # One email, sent before the kill, not again by the new engine.
    assert len(rig.mailbox.received) == 1


async def call_with_emergency(stack: Stack, number: str, caller_num: str, hold_ms: int) -> str:
    """A caller who presses 1 in the menu, then leaves a message (caller_emergency.xml)."""
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(), "-sf", str(HERE / "caller_emergency.xml"),
        "-i", TRUNK, "-p", str(free_udp_port(TRUNK)), "-mp", str(free_media_port(TRUNK)),
        "-s", number, "-key", "caller_num", caller_num, "-key", "caller_name", "Maria Bianchi",
        "-d", str(hold_ms), "-m", "1", "-nostdin", f"{stack.sip[0]}:{stack.sip[1]}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    return text


async def test_the_ivr_emergency_option_starts_the_ladder_with_the_message(rig: Rig) -> None:
    stack = rig.stack
    await call_with_emergency(stack, "0611000001", "0612777000", hold_ms=12000)
    record = await stack.wait_record(lambda r: r.message_path is not None)

    run, attempts = await rig.wait_run(record.linkedid)

    assert run.ladder == "first-acks"
    assert run.client_id == "acme" and run.client_name == "Acme Plumbing"
    assert run.message_path == record.message_path
    assert run.callback == "0612777000"
    assert run.caller_name == "Maria Bianchi"
    assert run.status == "acknowledged"
    assert summary(attempts) == [(0, "Mario Rossi", "acknowledged")]


async def test_pressing_3_acknowledges_and_connects_the_contact_to_the_caller(rig: Rig) -> None:
    async with Events(rig.stack) as events:
        await start(
            rig.stack.sessions,
            linkedid="esc-6",
            client_id="acme",
            ladder="connect-me",
            message_path=rig.message("esc-6"),
            caller_name="Maria Bianchi",
            callback="7100777",  # the caller's phone is behind the trunk too; it answers
        )
        await rig.wake()
        run, attempts = await rig.wait_run("esc-6")
        dialled = await events.wait(
            lambda e: e.event == "DialBegin" and e.get("DialString") == "+397100777@trunk"
        )
        answered = await events.wait(
            lambda e: (
                e.event == "DialEnd"
                and e.get("DialStatus") == "ANSWER"
                and e.get("DestUniqueid") == dialled["DestUniqueid"]
            )
        )

    assert run.status == "acknowledged" and run.acknowledged_by == "Mario Rossi"
    [mario] = attempts
    assert mario.outcome == "acknowledged"
    assert mario.detail == "pressed 3: connected to the caller"
    # The contact's own channel (account esc-<id>) dialled the caller's number.
    assert dialled["AccountCode"] == f"esc-{mario.id}"
    assert answered["Channel"] == dialled["Channel"]
