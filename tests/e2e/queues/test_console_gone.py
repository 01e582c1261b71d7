"""An operator whose console is gone is paused in the real Asterisk: logged in and available
with the console page open (its event stream), nothing happens; once the page is gone for
`console_gone_seconds`, app_queue pauses the member (QueueMemberPause, reason "console gone")
and QueueStatus says so."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from ivr.harness.stack import AmiEvents, Stack, stack_settings
from ivr.portal import portal_password

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
GRACE = 2.0  # console_gone_seconds of this stack


def pause_of(event: object, paused: str) -> bool:
    get = getattr(event, "get", None)
    return (
        getattr(event, "event", "") == "QueueMemberPause"
        and get is not None
        and get("MemberName") == "op1"
        and get("Paused") == paused
    )


async def test_an_operator_whose_console_is_gone_is_paused_in_asterisk(tmp_path: Path) -> None:
    settings = stack_settings(tmp_path, RULES, console_gone_seconds=GRACE)
    stack = Stack(settings, tmp_path / "work")
    await stack.start()
    try:
        await stack.phone("op1", ring_ms=200)
        base = f"http://{settings.bind}:{settings.ports.http}/console"
        jar = aiohttp.CookieJar(unsafe=True)  # the console is on 127.0.0.1
        async with AmiEvents(stack) as events, aiohttp.ClientSession(cookie_jar=jar) as web:
            form = await (await web.get(f"{base}/login")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            password = portal_password(settings, "op1")
            login = await web.post(
                f"{base}/login",
                data={"user": "op1", "password": password, "csrf": csrf.group(1)},
                allow_redirects=False,
            )
            assert login.status == 303
            # The console page is open: its event stream is connected.
            stream = await web.get(f"{base}/events")
            assert (await stream.content.readuntil(b"\n\n")).startswith(b"event: call")
            page = await (await web.get(f"{base}/")).text()
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            assert token is not None
            state = await web.post(
                f"{base}/state",
                data={"state": "available", "csrf": token.group(1)},
                allow_redirects=False,
            )
            assert state.status == 303
            await events.wait(lambda e: pause_of(e, "0"))  # available in the queue
            # The page is closed (the laptop went to sleep, the tab was shut).
            before = len(events.seen)
            stream.close()
            loop = asyncio.get_running_loop()
            closed = loop.time()
            gone = await events.wait(
                lambda e: e in events.seen[before:] and pause_of(e, "1"), timeout=30
            )
            waited = loop.time() - closed
            assert gone.get("PausedReason") == "console gone"
            assert waited >= GRACE * 0.9  # not before the grace time
            # The desk phone's member is paused first, then the browser phone's (one
            # QueuePause each): QueueStatus is read once both are.
            await events.wait(
                lambda e: e in events.seen[before:] and pause_of(e, "1")
                and e.get("Interface") == "PJSIP/op1-web",
                timeout=30,
            )  # fmt: skip
            # What Asterisk itself says of the member, in every queue it is in.
            members = [
                m
                for m in await events.client.send_action_list([("Action", "QueueStatus")])
                if m.event == "QueueMember" and m.get("Name") == "op1"
            ]
            assert members and all(m.get("Paused") == "1" for m in members)
            assert {m.get("PausedReason") for m in members} == {"console gone"}
    finally:
        await stack.close()
