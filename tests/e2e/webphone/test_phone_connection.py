"""The browser phone's connection, through the real Asterisk: the page's WebSocket is routed
through the test (Playwright's WebSocket routing), which can cut it as a lost Wi-Fi would, or
let the page's registration refreshes go unanswered while the connection stays up. The
operator hangs up a call from the page; a cut connection registers again by itself; a
registration that lapses by expiry shows the operator offline on the console and the
supervisor's board, as an unplugged desk phone does.

Nothing here skips: a missing Chromium, Asterisk or sipp is a failure.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from phonebrowser import log_in
from playwright.async_api import Browser, WebSocketRoute, expect

from ivr.harness.sipp import SCENARIOS
from ivr.harness.stack import Stack, poll

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"
SHORT_EXPIRY = 60  # Asterisk's minimum for the browser phones' AOR


@pytest.fixture
def rules_folder() -> Path:
    return RULES


@dataclass
class Line:
    """The page's WebSocket connections, passed on to the engine's relay by the test."""

    routes: list[tuple[WebSocketRoute, WebSocketRoute]] = field(default_factory=list)
    refreshes_lost: bool = False  # REGISTERs go nowhere, the connection stays up

    async def route(self, page_side: WebSocketRoute) -> None:
        engine_side = page_side.connect_to_server()

        def upstream(message: str | bytes) -> None:
            if isinstance(message, str) and message.startswith("REGISTER "):
                if self.refreshes_lost:
                    return
                # The shortest registration Asterisk takes, so that a lapse shows sooner.
                message = re.sub(r"(?im)^Expires: \d+", f"Expires: {SHORT_EXPIRY}", message)
                message = re.sub(r";expires=\d+", f";expires={SHORT_EXPIRY}", message)
            engine_side.send(message)

        page_side.on_message(upstream)
        engine_side.on_message(page_side.send)
        self.routes.append((page_side, engine_side))

    async def cut(self) -> None:
        page_side, engine_side = self.routes[-1]
        await engine_side.close()
        await page_side.close(code=4000, reason="network lost")


async def contacts(stack: Stack) -> str:
    return await stack.asterisk.cli("pjsip show contacts")


def hung_up_on(folder: Path) -> Path:
    """The caller who stays on the line until the other side hangs up (a BYE to answer)."""
    scenario = (SCENARIOS / "caller.xml").read_text()
    start, end = scenario.index("<pause/>"), scenario.index("<ResponseTimeRepartition")
    waits = """<recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  """
    path = folder / "caller_hung_up_on.xml"
    path.write_text(scenario[:start] + waits + scenario[end:])
    return path


async def test_a_cut_connection_registers_again_and_a_lapsed_registration_shows_offline(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    line = Line()
    anna = await browser.new_page(locale="en-GB")
    await anna.route_web_socket(re.compile(r".*/console/phone/ws$"), line.route)
    await log_in(anna, stack, "op1")
    # The page is the operator's phone from the login (the login form's default).
    await expect(anna.locator("#phone-on")).to_be_checked()
    await expect(anna.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)
    await anna.click("#go-available")
    await expect(anna.locator("#state")).to_have_text("available", timeout=20_000)
    await expect(anna.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)

    # Anna answers a caller and hangs up from the page: the caller gets the BYE.
    call = asyncio.create_task(
        stack.call(SHOP, caller_num="0612000555", hold_ms=60_000, timeout=90,
                   scenario=hung_up_on(tmp_path))
    )  # fmt: skip
    await expect(anna.locator("#phone-answer")).to_be_visible(timeout=30_000)
    await anna.click("#phone-answer")
    await expect(anna.locator("#state")).to_have_text("on call", timeout=20_000)
    await anna.click("#phone-hangup")
    result = await call
    assert result.ok, result.output[-1500:]
    await expect(anna.locator("#state")).to_have_text("wrap-up", timeout=20_000)
    record = await stack.wait_record(lambda r: r.caller_number == "0612000555" and r.ended_at)
    assert record.operator == "op1"
    await anna.fill("#caller_name", "Caller")
    await anna.fill("#message", "Hung up by the operator.")
    await anna.click("#save")
    await expect(anna.locator("#saved")).to_be_visible(timeout=20_000)
    await expect(anna.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)
    before = len(line.routes)  # (the state's form loaded the page again: a new connection)

    # The connection is cut under the page (the engine and Asterisk stay up): the page
    # connects again and registers with the same login's password.
    await line.cut()
    await poll(lambda: _count(line), lambda n: n == before + 1, timeout=30, what="a new connection")
    await expect(anna.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)
    await poll(lambda: contacts(stack), lambda text: "op1-web/" in text, timeout=20,
               what="the browser registered again")  # fmt: skip
    await expect(anna.locator("#state")).to_have_attribute("data-state", "available")

    # Its refreshes go unanswered with the connection still up (a stalled network, a
    # laptop asleep behind a proxy): the registration lapses by its expiry, Asterisk drops
    # the contact, and the console shows the operator offline, as for a desk phone.
    line.refreshes_lost = True
    supervisor = await browser.new_page(locale="en-GB")
    await log_in(supervisor, stack, "supervisor")
    row = supervisor.locator('#operators tr[data-operator="op1"] .state')
    await expect(row).not_to_have_attribute("data-state", "offline")
    await poll(lambda: contacts(stack), lambda text: "op1-web/" not in text,
               timeout=SHORT_EXPIRY + 60, what="the registration expired")  # fmt: skip
    await expect(anna.locator("#state")).to_have_attribute("data-state", "offline", timeout=30_000)
    await supervisor.reload()
    row = supervisor.locator('#operators tr[data-operator="op1"] .state')
    await expect(row).to_have_attribute("data-state", "offline", timeout=30_000)
    assert len(line.routes) == before + 1  # the connection never dropped: it was the expiry


async def _count(line: Line) -> int:
    return len(line.routes)
