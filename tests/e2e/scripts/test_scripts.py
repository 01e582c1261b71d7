"""A client's script on a real call through Asterisk, driven from the keyboard in a real
headless Chromium: a sipp caller, the operator's sipp phone, and the agent behind the trunk
(tests/e2e/putthrough/people.xml: 71... answers and presses 1). The operator answers the
questions step by step; a wrong property reference is refused as it is typed; renting with a
visit wanted takes the branch whose end puts the caller through to the agent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from ivr.asterisk.render import Trunk
from ivr.harness.sipp.contacts import AnsweringPhones
from ivr.harness.stack import Stack, poll, stack_settings
from ivr.portal import portal_password
from ivr.portal import store as outcomes
from ivr.putthrough import store
from ivr.records import fields

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HERE = Path(__file__).resolve().parent
PEOPLE = HERE.parent / "putthrough" / "people.xml"
TRUNK = "127.0.0.2"
AGENCY = "0611000041"
CALLER = "0612000300"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("scripts")
    people = AnsweringPhones(PEOPLE, tmp / "work")
    stack = Stack(stack_settings(tmp, HERE / "rules"), tmp / "work",
                  trunk=Trunk(TRUNK, people.port))  # fmt: skip
    people.start()
    try:
        await stack.start()
        await stack.phone("op1", ring_ms=200)
        yield stack
    finally:
        await stack.close()
        people.stop()


async def available(stack: Stack) -> None:
    """op1 logs in to the console and says it is available (the queue offers it calls)."""
    s = stack.settings
    base = f"http://{s.bind}:{s.ports.http}/console"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as response:
            form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert form is not None
        login = {"user": "op1", "password": portal_password(s, "op1"), "csrf": form[1]}
        async with http.post(f"{base}/login", data=login) as response:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert csrf is not None
        async with http.post(f"{base}/state", data={"csrf": csrf[1], "state": "available"}):
            pass


async def test_the_operator_goes_through_a_branching_script_from_the_keyboard(
    stack: Stack,
) -> None:
    from playwright.async_api import async_playwright, expect

    s = stack.settings
    base = f"http://{s.bind}:{s.ports.http}/console"
    await available(stack)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"{base}/login")
            await page.fill("#user", "op1")
            await page.fill("#password", portal_password(s, "op1"))
            await page.click("#login")
            await expect(page.locator("body")).to_have_attribute("data-live", "yes")
            call = asyncio.create_task(
                stack.call(AGENCY, caller_num=CALLER, caller_name="Mario", hold_ms=30_000,
                           timeout=90)
            )  # fmt: skip
            await expect(page.locator("#state")).to_have_text("in chiamata", timeout=30_000)
            await page.reload()  # the put-through buttons come with the answer
            keys = page.keyboard
            # Step 1: what to say, with the operator's name; no plain message form.
            await expect(page.locator("#say")).to_have_text(
                "Agenzia Casa, buongiorno, sono Anna. Con chi parlo?"
            )
            await expect(page.locator("#outcome")).to_have_count(0)
            await expect(page.locator("#f-caller_name")).to_be_focused()
            await keys.type("Mario Verdi")
            await keys.press("Enter")  # the callback number is the caller's already
            # Step 2: the property reference is checked as it is typed.
            await expect(page.locator("#script")).to_have_attribute("data-step", "property")
            await expect(page.locator("#say")).to_have_text(
                "Quale immobile le interessa, Mario Verdi?"
            )
            await expect(page.locator("#f-ref")).to_be_focused()
            await keys.type("MI-12")
            ref = page.locator("#f-ref")
            assert await ref.evaluate("e => e.validity.patternMismatch")
            await keys.press("Enter")  # refused in the page: still this step
            await expect(page.locator("#script")).to_have_attribute("data-step", "property")
            await ref.focus()
            await keys.type("34")
            assert await ref.evaluate("e => e.validity.valid")
            await keys.press("Tab")
            await keys.press("ArrowDown")  # Acquisto
            await keys.press("ArrowDown")  # Affitto: the branch to the visit
            await keys.press("Tab")
            await keys.press("Enter")
            # Step 3 of the renting branch: a visit wanted ends by putting the caller through.
            await expect(page.locator("#script")).to_have_attribute("data-step", "rent")
            await expect(page.locator("#say")).to_have_text("Vuole visitare MI-1234?")
            await keys.press("ArrowDown")  # sì
            await keys.press("Tab")
            await keys.press("Enter")
            await expect(page.locator("#saved")).to_be_visible(timeout=20_000)
            record = await stack.wait_record(lambda r: r.caller_number == CALLER)
            attempts = await poll(
                lambda: store.for_call(stack.sessions, record.linkedid),
                lambda found: bool(found) and found[-1].outcome is not None,
                60,
                "the put-through closed",
            )
            assert (attempts[-1].outcome, attempts[-1].person_name) == ("accepted", "Gina Rossi")
        finally:
            await browser.close()
    kept = await fields.fields_for(stack.sessions, [record.linkedid])
    assert [(a.field, a.shown) for a in kept[record.linkedid]] == [
        ("caller_name", "Mario Verdi"),
        ("callback", CALLER),
        ("ref", "MI-1234"),
        ("want", "Affitto"),
        ("visit", "sì"),
    ]
    outcome = await outcomes.get_outcome(stack.sessions, record.linkedid)
    assert outcome is not None and outcome.caller_name == "Mario Verdi"
    assert outcome.message == ""  # the answers are fields, not folded into a text
    result = await call
    assert result.ok, result.output[-1500:]
