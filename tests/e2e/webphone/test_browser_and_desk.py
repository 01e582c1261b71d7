"""A browser operator and a desk-phone operator in one queue: they share the callers, and a
pause takes the browser operator out of the rotation as it does a desk phone. The
browser phone's registration lapsing shows the operator offline; a lost connection (the
engine restarted under the page) registers again with a fresh password for the same login.

Nothing here skips: a missing Chromium, Asterisk or sipp is a failure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from phonebrowser import log_in
from playwright.async_api import Browser, Page, expect

from ivr.harness.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RULES = Path(__file__).resolve().parent / "rules"
SHOP = "0611000009"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


async def ready(page: Page) -> None:
    await expect(page.locator("#phone-status")).to_have_text("phone ready", timeout=30_000)


async def test_a_browser_and_a_desk_phone_share_one_queue(stack: Stack, browser: Browser) -> None:
    await stack.phone("op2", ring_ms=300)  # Bruno's desk phone answers by itself
    anna = await browser.new_page(locale="en-GB")
    await log_in(anna, stack, "op1")
    await expect(anna.locator("#phone-on")).to_be_checked()  # the page is Anna's phone
    await ready(anna)
    await anna.click("#go-available")
    await expect(anna.locator("#state")).to_have_text("available", timeout=20_000)

    # The first caller rings Anna first (linear): she answers in the page.
    first = asyncio.create_task(stack.call(SHOP, caller_num="0612000001", hold_ms=12000))
    await expect(anna.locator("#phone-answer")).to_be_visible(timeout=30_000)
    await anna.click("#phone-answer")
    await expect(anna.locator("#state")).to_have_text("on call", timeout=20_000)
    # While she talks, the next caller goes to Bruno's desk phone, not to her page.
    second = await stack.call(SHOP, caller_num="0612000002", hold_ms=500)
    assert second.ok, second.output[-1500:]
    assert (await first).ok
    one = await stack.wait_record(lambda r: r.caller_number == "0612000001" and r.ended_at)
    two = await stack.wait_record(lambda r: r.caller_number == "0612000002" and r.ended_at)
    assert (one.operator, two.operator) == ("op1", "op2")
    assert one.outcome == two.outcome == "answered"

    # Anna pauses (both her phones leave the queue's rotation): the next caller goes to
    # Bruno although her browser phone is free and registered.
    await expect(anna.locator("#state")).to_have_text("wrap-up", timeout=20_000)
    await anna.click("#go-pause")
    await anna.fill("#caller_name", "First caller")
    await anna.fill("#message", "Will call back.")
    await anna.click("#save")
    await expect(anna.locator("#saved")).to_be_visible(timeout=20_000)
    await expect(anna.locator("#state")).to_have_text("paused", timeout=20_000)
    third = await stack.call(SHOP, caller_num="0612000003", hold_ms=500)
    assert third.ok, third.output[-1500:]
    three = await stack.wait_record(lambda r: r.caller_number == "0612000003" and r.ended_at)
    assert three.operator == "op2"

    supervisor = await browser.new_page(locale="en-GB")
    await log_in(supervisor, stack, "supervisor")
    anna_row = supervisor.locator('#operators tr[data-operator="op1"] .state')
    await expect(anna_row).not_to_have_attribute("data-state", "offline")

    # A lost connection: the engine restarts under the page. The phone reconnects, its old
    # password is refused (the new engine issued none), and it registers with a new one.
    await stack.stop_engine()
    await expect(anna.locator("#phone-status")).not_to_have_text("phone ready", timeout=20_000)
    await stack.start_engine()
    await ready(anna)
    contacts = await stack.asterisk.cli("pjsip show contacts")
    assert "op1-web/" in contacts

    # The page goes away without logging out: the registration lapses with its connection,
    # and the supervisor sees Anna offline (her desk phone is not registered either).
    await anna.close()
    await supervisor.reload()
    anna_row = supervisor.locator('#operators tr[data-operator="op1"] .state')
    await expect(anna_row).to_have_attribute("data-state", "offline", timeout=30_000)
