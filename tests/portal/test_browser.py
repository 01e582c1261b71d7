"""The operator console in a real headless Chromium, with the real Asterisk, the engine and a
sipp phone: the operator logs in and goes available, a call rings, the card pops with the
right client, the outcome is saved and is on the record; then the supervisor's page.

Nothing here skips: a missing Chromium, Asterisk or sipp is a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from ivr.control import bearer
from ivr.harness.stack import Stack
from ivr.portal import portal_password, store
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RULES = Path(__file__).resolve().parents[1] / "e2e" / "queues" / "rules"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SHOP = "0611000009"
CALLER = "0612000777"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


def chromium() -> str:
    assert Path(CHROMIUM).exists(), "Debian chromium is required: apt-get install -y chromium"
    return CHROMIUM


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def log_in(page: Page, stack: Stack, user: str) -> None:
    s = stack.settings
    await page.goto(f"http://{s.bind}:{s.ports.http}/console/login")
    await page.fill("#user", user)
    await page.fill("#password", portal_password(s, user))
    await page.click("#login")


async def test_operator_takes_a_call_in_the_console(stack: Stack, browser: Browser) -> None:
    await stack.phone("op1", ring_ms=1500)
    # An earlier call of the same caller, answered with nobody at the console.
    earlier = await stack.call(SHOP, caller_num=CALLER, caller_name="Maria Bianchi", hold_ms=300)
    assert earlier.ok, earlier.output[-1500:]
    first = await stack.wait_record(lambda r: r.caller_number == CALLER and r.outcome == "answered")

    page = await browser.new_page(locale="en-GB")  # English: the browser's language
    await log_in(page, stack, "op1")
    await expect(page.locator("#state")).to_be_visible()
    await page.click("#go-available")
    await expect(page.locator("#state")).to_have_text("available")
    await page.wait_for_selector("body[data-live=yes]")  # the event stream is open

    call = asyncio.create_task(
        stack.call(SHOP, caller_num=CALLER, caller_name="Maria Bianchi", hold_ms=3000)
    )
    # The card pops while the phone rings: the client, what to say, the earlier call.
    await expect(page.locator("#client")).to_have_text("Corner Shop", timeout=20_000)
    await expect(page.locator("#greeting")).to_have_text(
        "Corner Shop, good morning, Anna speaking"  # the operator's name in {operator}
    )
    await expect(page.locator("#instructions")).to_have_text("Ask for the order number.")
    await expect(page.locator("#caller")).to_have_text(CALLER)
    await expect(page.locator("#history tr")).to_have_count(2)  # the header and one call
    await expect(page.locator("#state")).to_have_text("on call", timeout=20_000)

    result = await call
    assert result.ok, result.output[-1500:]
    await expect(page.locator("#state")).to_have_text("wrap-up", timeout=20_000)
    record = await stack.wait_record(
        lambda r: r.caller_number == CALLER and r.linkedid != first.linkedid and r.ended_at
    )
    assert record.outcome == "answered" and record.operator == "op1"

    await page.fill("#caller_name", "Maria Bianchi")
    await page.fill("#message", "Order 1234 <b>late</b>: please call back today.")
    await page.select_option("#category", "callback")
    await page.click("#save")
    await expect(page.locator("#problem")).to_contain_text("saved and shown as plain text")
    row = page.locator(f'#recent tr[data-linkedid="{record.linkedid}"]')
    await expect(row).to_contain_text(
        "call back: Maria Bianchi, 0612000777 - Order 1234 <b>late</b>"
    )

    saved = await store.get_outcome(stack.sessions, record.linkedid)
    assert saved is not None
    assert saved.operator == "op1" and saved.client_id == "shop"
    assert saved.message == "Order 1234 <b>late</b>: please call back today."
    assert saved.callback == CALLER and not saved.urgent
    on_record = await repo.get_call(stack.sessions, record.linkedid)
    assert on_record is not None and on_record.operator == "op1"
    await expect(page.locator("#state")).to_have_text("available", timeout=20_000)

    # The supervisor sees the day: two calls answered by the queue, op1 available again.
    supervisor = await browser.new_page(locale="en-GB")
    await log_in(supervisor, stack, "supervisor")
    await expect(supervisor.locator("#answered")).to_have_text("2")
    await expect(supervisor.locator("#abandoned")).to_have_text("0")
    await expect(supervisor.locator('#operators tr[data-operator="op1"] .state')).to_have_text(
        "available"
    )
    await expect(supervisor.locator("#per-client")).to_contain_text("Corner Shop")
    # The queue's day, and op1's occupancy: talking and writing up over the time logged in.
    desk = supervisor.locator('#per-queue tr[data-queue="desk"]')
    await expect(desk.locator(".answered")).to_have_text("2")
    await expect(desk.locator(".abandoned")).to_have_text("0 (0 %)")
    await expect(desk.locator(".level")).to_have_text("100 %")
    await expect(desk.locator(".asa")).to_contain_text(" s")
    occupancy = supervisor.locator('#operators tr[data-operator="op1"] .occupancy')
    await expect(occupancy).to_contain_text(" %")
    assert 0 < int((await occupancy.inner_text()).removesuffix(" %")) <= 100
    await expect(supervisor.locator("#occupancy")).to_contain_text(" %")
    # All of it is inbound's part: no campaign called anyone today.
    await expect(supervisor.locator("#occupancy-outbound")).to_have_text("0.0 %")
    await expect(supervisor.locator("#occupancy-inbound")).not_to_have_text("0.0 %")
    # The same day in /metrics, for Prometheus.
    text = await supervisor.request.get(
        f"http://{stack.settings.bind}:{stack.settings.ports.http}/metrics",
        headers=bearer(stack.settings.control_token),
    )
    metrics = await text.text()
    assert 'ivr_queue_answered_today{queue="desk"} 2.0' in metrics
    assert 'ivr_queue_service_level_today{queue="desk"} 1.0' in metrics
    assert 'ivr_queue_abandon_rate_today{queue="desk"} 0.0' in metrics
    busy = [
        line for line in metrics.splitlines()
        if line.startswith('ivr_operator_seconds_total{operator="op1",state="busy"}')
    ]  # fmt: skip
    assert busy and float(busy[0].split()[-1]) > 0
    # Carla's phone never registered: Asterisk says her endpoint is unavailable, and the
    # supervisor sees her offline, not available.
    carla = supervisor.locator('#operators tr[data-operator="op3"] .state')
    await expect(carla).to_have_attribute("data-state", "offline")
    await expect(carla).to_have_text("offline")

    # An Italian browser gets Italian pages (the default), and either language on request.
    italian = await browser.new_page(locale="it-IT")
    await log_in(italian, stack, "op1")
    await expect(italian.locator("#state")).to_have_text("disponibile")
    await expect(italian.locator("#recent th").first).to_have_text("Quando")
    await expect(italian.locator("html")).to_have_attribute("lang", "it")
    await italian.click("#language")
    await expect(italian.locator("#state")).to_have_text("available")
    await expect(italian.locator("#logout")).to_have_text("Log out")
    await italian.click("#language")
    await expect(italian.locator("#logout")).to_have_text("Esci")
    await supervisor.click("#language")
    carla = supervisor.locator('#operators tr[data-operator="op3"] .state')
    await expect(carla).to_have_text("non collegato")
