"""Wrap-up through the real Asterisk: an operator at the console is paused from the moment a
call connects until its outcome is saved; a caller who arrives meanwhile waits in the queue
(not sent on to a message) and is connected once the outcome is saved."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from ivr.ami.client import AmiClient
from ivr.ami.message import Message
from ivr.harness.stack import Stack
from ivr.portal import portal_password, store

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"
FIRST, SECOND = "0612000011", "0612000012"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


class Seen:
    def __init__(self) -> None:
        self.events: list[Message] = []
        self.changed = asyncio.Event()

    async def add(self, event: Message) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait(self, name: str, number: str, timeout: float = 30.0) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                for e in self.events:
                    if e.event == name and e.get("CallerIDNum") == number:
                        return e
                self.changed.clear()
                await self.changed.wait()


async def test_a_waiting_caller_is_connected_once_the_outcome_is_saved(stack: Stack) -> None:
    s = stack.settings
    await stack.phone("op1", ring_ms=200)
    seen = Seen()
    ami = AmiClient(s.bind, s.ports.ami, s.ami_user, s.ami_secret, on_event=seen.add)
    await ami.start()
    await ami.wait_connected(10)
    base = f"http://{s.bind}:{s.ports.http}/console"
    jar = aiohttp.CookieJar(unsafe=True)  # the console is on 127.0.0.1
    try:
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{base}/login") as response:  # the form's CSRF token
                form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
            assert form is not None
            login = {"user": "op1", "password": portal_password(s, "op1"), "csrf": form[1]}
            async with http.post(f"{base}/login", data=login) as response:
                page = await response.text()
                assert response.status == 200 and 'id="state"' in page
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None

            first = await stack.call(SHOP, caller_num=FIRST, hold_ms=500)
            assert first.ok, first.output[-1500:]
            record = await stack.wait_record(lambda r: r.caller_number == FIRST and r.ended_at)
            # In wrap-up: the second caller joins the queue and waits; op1 is not rung.
            second = asyncio.create_task(
                stack.call(SHOP, caller_num=SECOND, hold_ms=500, timeout=90)
            )
            await seen.wait("QueueCallerJoin", SECOND)
            assert not [e for e in seen.events if e.event == "DialBegin"
                        and e.get("CallerIDNum") == SECOND]  # fmt: skip

            outcome = {
                "csrf": csrf.group(1),
                "linkedid": record.linkedid,
                "caller_name": "Gianni",
                "callback": FIRST,
                "message": "Will call again.",
                "category": "message",
            }
            async with http.post(f"{base}/outcome", data=outcome) as response:
                assert response.status == 200
                assert 'id="saved"' in await response.text()

            connected = await seen.wait("AgentConnect", SECOND)
            assert (await second).ok
    finally:
        await ami.close()

    assert connected["MemberName"] == "op1"
    # (the desk phone's member; the browser phone's member of the same name is paused with it)
    pauses = [
        e for e in seen.events if e.event == "QueueMemberPause" and e["Interface"] == "PJSIP/op1"
    ]
    assert [(e["Paused"], e.get("PausedReason", "")) for e in pauses][:2] == [
        ("1", "wrap-up"),
        ("0", ""),
    ]
    saved = await store.get_outcome(stack.sessions, record.linkedid)
    assert saved is not None and saved.message == "Will call again."
    later = await stack.wait_record(lambda r: r.caller_number == SECOND and r.ended_at)
    assert later.outcome == "answered" and later.operator == "op1"
    assert later.answered_at is not None and later.answered_at >= saved.saved_at
