"""Browser phones in the two-node Kamailio cluster on loopback: the console page (behind one
address, nginx in front of both engines) registers its phone with Kamailio over its
WebSocket, through the engine's relay; a call through either node reaches it. The node that
served the page and took the first call is killed (its Asterisk and its engine): the page
reconnects through the other engine, registers again, and answers the next call, which the
surviving node places. After logout the page's password is refused by Kamailio.

Nothing here skips: a missing Chromium, Kamailio, Asterisk, nginx or sipp is a failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from front import front
from pg_server import new_database
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from ivr.cluster.run import Running
from ivr.cluster.spec import load
from ivr.config import proxy_token
from ivr.harness.cluster import loopback_file
from ivr.harness.sipp import SCENARIOS, SippResult, place_calls
from ivr.harness.stack import poll
from ivr.portal import portal_password
from ivr.records.db import make_engine, session_factory
from ivr.records.models import Call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"
CALLER = SCENARIOS / "caller_rr.xml"  # honours Record-Route: ACK and BYE via Kamailio


@dataclass
class Rig:
    running: Running
    sessions: Any
    console: str  # the consoles' one address (nginx)
    folder: Path

    def node_of(self, linkedid: str) -> str:
        for node in self.running.cluster.nodes:
            if linkedid.startswith(f"{self.running.cluster.name}-{node.name}-"):
                return node.name
        raise AssertionError(f"call {linkedid} of no node")

    async def call(self, caller: str, hold_ms: int) -> SippResult:
        proxy = (self.running.cluster.address, self.running.cluster.port)
        return await place_calls(
            proxy, SHOP, scenario=CALLER, caller_num=caller, hold_ms=hold_ms, timeout=120,
            extra=("-recv_timeout", "60000"),
        )  # fmt: skip

    async def record(self, done: Callable[[Call], bool], what: str) -> Call:
        async def rows() -> list[Call]:
            async with self.sessions() as session:
                return list(await session.scalars(select(Call).order_by(Call.id)))

        found = await poll(rows, lambda rs: any(done(r) for r in rs), timeout=60, what=what)
        return next(r for r in found if done(r))


@pytest_asyncio.fixture
async def rig(postgres_server: str, tmp_path: Path) -> AsyncIterator[Rig]:
    url = await new_database(postgres_server)
    path = loopback_file(
        tmp_path, f"w{os.getpid() % 100000}", url, RULES, "127.0.0.2:9",
        40000 + (os.getpid() * 7 % 40) * 400, 100,
    )  # fmt: skip
    running = Running(load(path))
    engine = make_engine(url)
    try:
        await running.start()
        node1, node2 = running.cluster.nodes
        async with front(tmp_path / "nginx", node1.http, node2.http) as port:
            yield Rig(running, session_factory(engine), f"http://127.0.0.1:{port}", tmp_path)
    finally:
        await running.stop()
        await engine.dispose()
        for settings in running.settings.values():
            shutil.rmtree(settings.state_dir, ignore_errors=True)
            shutil.rmtree(settings.host_run_dir, ignore_errors=True)
        shutil.rmtree(running.cluster.run_dir, ignore_errors=True)


async def register(http: aiohttp.ClientSession, url: str, user: str, password: str) -> int:
    """A REGISTER (removing a contact of its own: it changes no registration) over Kamailio's
    WebSocket, answering its digest challenge with `password`; the final status."""
    host = url.removeprefix("ws://").split(":")[0]
    uri = f"sip:{host}"
    call_id = secrets.token_hex(8)
    async with http.ws_connect(url, protocols=("sip",)) as ws:
        authorization = ""
        for cseq in (1, 2):
            await ws.send_str(
                f"REGISTER {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/WS probe.invalid;branch=z9hG4bK{secrets.token_hex(6)}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:{user}@{host}>;tag={secrets.token_hex(4)}\r\n"
                f"To: <sip:{user}@{host}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                "Contact: <sip:probe@probe.invalid;transport=ws>;expires=0\r\n"
                f"{authorization}Content-Length: 0\r\n\r\n"
            )
            reply = await ws.receive_str(timeout=10)
            status = int(reply.split(" ", 2)[1])
            challenge = re.search(r'realm="([^"]+)".*?nonce="([^"]+)"', reply)
            if status != 401 or challenge is None or authorization:
                return status
            realm, nonce = challenge.groups()
            ha1 = md5(f"{user}:{realm}:{password}")
            response = md5(f"{ha1}:{nonce}:{md5(f'REGISTER:{uri}')}")
            authorization = (
                f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{response}", algorithm=MD5\r\n'
            )
    raise AssertionError("no final answer to the REGISTER")


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()  # SIP digest (RFC 2617)


async def answer(page: Page) -> None:
    await expect(page.locator("#phone-answer")).to_be_visible(timeout=40_000)
    await page.click("#phone-answer")
    await expect(page.locator("#phone-hangup")).to_be_visible(timeout=20_000)


async def wrap_up(page: Page, name: str) -> None:
    await expect(page.locator("#state")).to_have_text("wrap-up", timeout=30_000)
    await page.fill("#caller_name", name)
    await page.fill("#message", "Called about an order.")
    await page.click("#save")
    await expect(page.locator("#saved")).to_be_visible(timeout=20_000)


async def test_a_browser_phone_answers_through_either_node_and_survives_its_nodes_loss(
    rig: Rig, browser: Browser
) -> None:
    running = rig.running
    node1, node2 = running.cluster.nodes
    settings = running.settings["node1"]
    page = await browser.new_page(locale="en-GB")
    await page.goto(f"{rig.console}/console/login")
    await page.fill("#user", "op1")
    await page.fill("#password", portal_password(settings, "op1"))
    await page.click("#login")
    await page.check("#phone-on")
    await expect(page.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)
    await page.click("#go-available")
    await expect(page.locator("#state")).to_have_text("available", timeout=20_000)
    # registered at Kamailio, not at a node
    kamailio = running.kamailio

    async def registered() -> set[str]:
        """The connections (Kamailio's `received`) of op1's browser phone's live contacts
        (not those marked deleted)."""
        text = await kamailio.rpc("ul.dump")
        if "AoR: op1-web" not in text:
            return set()
        found = re.findall(r"Expires: (\d+|deleted).*?Received: (\S+)", text, re.S)
        return {received for expires, received in found if expires != "deleted"}

    assert await registered()

    # The first caller comes through node1 (node2 drained for it): answered in the page.
    await running.kamailio.set_state("d", node2.uri)
    first = asyncio.create_task(rig.call("0612000001", 4000))
    await answer(page)
    assert (await first).ok
    one = await rig.record(lambda r: r.caller_number == "0612000001" and r.ended_at is not None,
                           "the first call's record")  # fmt: skip
    assert (rig.node_of(one.linkedid), one.operator, one.outcome) == ("node1", "op1", "answered")
    await wrap_up(page, "First caller")
    await running.kamailio.set_state("ap", node2.uri)
    await expect(page.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)
    before = await registered()  # the page's connection through node1's engine

    # node1 is lost, its Asterisk and the engine that served the page and relayed its phone.
    # The page's event stream comes back through node2's engine.
    async with page.expect_response(
        lambda r: r.url.endswith("/console/events") and r.status == 200, timeout=60_000
    ):
        await running.stop_asterisk(node1, "kill")
        await running.stop_engine(node1, signal.SIGKILL)
        killed = time.monotonic()
        await expect(page.locator("#phone-status")).not_to_have_text("phone ready",
                                                                     timeout=20_000)  # fmt: skip
    await expect(page.locator("#phone-status")).to_have_text("phone ready", timeout=60_000)
    await poll(registered, lambda now: bool(now - before),
               what="the browser registered again at Kamailio, on a new connection")  # fmt: skip
    took = time.monotonic() - killed
    print(f"figure: the page registered again {took:.1f} s after its node was killed")
    await expect(page.locator("#state")).to_have_text("available", timeout=30_000)

    # The next caller: node2 takes it and rings the page through Kamailio.
    second = asyncio.create_task(rig.call("0612000002", 4000))
    await answer(page)
    assert (await second).ok
    two = await rig.record(lambda r: r.caller_number == "0612000002" and r.ended_at is not None,
                           "the second call's record")  # fmt: skip
    assert (rig.node_of(two.linkedid), two.operator, two.outcome) == ("node2", "op1", "answered")
    await wrap_up(page, "Second caller")

    # Logging out (at node2's engine) deletes the password at Kamailio: refused there now.
    user = "op1-web"
    token = proxy_token(running.settings["node2"])
    base = running.cluster.phone_proxy.replace("ws://", "http://")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/phones/{user}", headers={"X-Ivr-Token": token}) as reply:
            assert reply.status == 200
            password = (await reply.text()).strip()
        # the page's password works at Kamailio while the login lives ...
        assert await register(http, running.cluster.phone_proxy, user, password) == 200
        await page.click("#logout")
        await page.wait_for_url("**/console/login")

        async def held() -> int:
            async with http.get(f"{base}/phones/{user}", headers={"X-Ivr-Token": token}) as r:
                return r.status

        await poll(held, lambda status: status == 404, what="the password deleted at Kamailio")
        # ... and is refused once the operator has logged out
        assert await register(http, running.cluster.phone_proxy, user, password) == 401
        # and without the engines' token Kamailio tells nothing
        async with http.get(f"{base}/phones/{user}") as reply:
            assert reply.status == 403
    # Kamailio's WebSocket is for the engines' relays alone: another address is refused.
    other = aiohttp.TCPConnector(local_addr=("127.0.0.5", 0))
    async with aiohttp.ClientSession(connector=other) as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(running.cluster.phone_proxy, protocols=("sip",))
        assert refused.value.status == 403
    await poll(registered, lambda found: not found, what="the registration gone")
