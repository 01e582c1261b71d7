"""The legal floor through the real Asterisk: every dial is judged at the moment it is placed
(a preview card held past 20:00, a number put on the do-not-call list while its card is
shown), and a contact who answers and hangs up in the silence is an abandoned call whose
number rests, in any campaign."""

from __future__ import annotations

import asyncio
import time as clock
from datetime import datetime, time, timedelta

import pytest
from campaign_rig import ROME, Rig, console_page, e164, floor_morning, now, number

from ivr.campaigns import eligibility as el
from ivr.campaigns import floor, lists
from ivr.harness.stack import poll
from ivr.portal.board import ON_CALL

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
HEADER = ["numero", "nome"]


async def test_a_number_put_on_the_list_while_its_card_is_shown_is_not_dialled(
    rig: Rig,
) -> None:
    desk = await rig.desk("op1")
    await rig.add_contacts("evening", HEADER, [[number(71, 40), "Cambia idea"]])
    await rig.start("evening")
    await poll(desk.panel, lambda page: 'id="call"' in page, 30, "the preview card")
    # Meanwhile the contact asked another campaign of the center not to be called again.
    await lists.add_do_not_call(rig.sessions, "*", [e164(71, 40)], "asked", "test", now())
    status, _ = await desk.post("/campaign/call", {})
    assert status == 200
    refusals = await poll(
        lambda: rig.refusals("evening"), lambda r: any(x.reason == el.DNC_CENTER for x in r), 30,
        "the refusal at the moment of dialling",
    )  # fmt: skip
    assert [r.number for r in refusals if r.reason == el.DNC_CENTER] == [e164(71, 40)]
    assert await rig.attempts("evening") == []
    [contact] = await rig.contacts("evening")
    assert (contact.status, contact.refusal) == ("refused", el.DNC_CENTER)
    await rig.stop("evening")
    await rig.idle()


async def test_a_preview_card_held_past_20_00_is_not_dialled(rig: Rig) -> None:
    stack = rig.stack
    day = floor_morning(now()).date()  # a weekday, no holiday
    start = datetime.combine(day, time(19, 59, 15), ROME)  # the card shows before 19:59:55
    await stack.stop_engine()
    stack.extra_env["IVR_CLOCK_START"] = start.isoformat()
    try:
        launched = clock.monotonic()
        await stack.start_engine()
        await rig.new_desks()
        desk = await rig.desk("op1")
        await rig.add_contacts("evening", HEADER, [[number(71, 41), "Sera"]], name="sera.csv")
        await rig.start("evening")
        await poll(desk.panel, lambda page: "Sera" in page and 'id="call"' in page, 30,
                   "the preview card before 20:00")  # fmt: skip
        # The operator leaves the card on screen past 20:00 (the engine's clock is at most
        # this far on: it started after the process was launched), then presses call.
        closes = datetime.combine(day, time(20, 0, 5), ROME)
        await poll(
            lambda: _async(start + timedelta(seconds=clock.monotonic() - launched)),
            lambda at: at >= closes + timedelta(seconds=5), 120, "20:00 on the engine's clock",
        )  # fmt: skip
        status, _ = await desk.post("/campaign/call", {})
        assert status == 200
        refusals = await poll(
            lambda: rig.refusals("evening"),
            lambda r: any(x.number == e164(71, 41) for x in r), 30, "the refusal",
        )  # fmt: skip
    finally:
        del stack.extra_env["IVR_CLOCK_START"]
    [refused] = [r for r in refusals if r.number == e164(71, 41)]
    assert refused.reason in (floor.HOURS_REASON, floor.RING_REASON, el.WINDOW), refused
    assert not [a for a in await rig.attempts("evening") if a.number == e164(71, 41)]
    contact = next(c for c in await rig.contacts("evening") if c.number == e164(71, 41))
    assert contact.status == "pending" and contact.attempts == 0  # tried again tomorrow
    assert contact.next_at.astimezone(ROME) >= datetime.combine(day, time(20), ROME)
    await rig.stop("evening")
    await stack.stop_engine()
    await stack.start_engine()
    await rig.new_desks()


async def _async(value: datetime) -> datetime:
    return value


async def test_a_contact_who_hangs_up_in_the_silence_is_abandoned_and_rests_everywhere(
    rig: Rig,
) -> None:
    await rig.desk("op3")  # her phone takes 5 s to answer: the contact gives up after 1 s
    await rig.desk("op1")
    await rig.add_contacts("silence", HEADER, [[number(78, 1), "Frettoloso"]])
    await rig.start("silence")
    [call] = await rig.wait_attempts("silence", lambda a: bool(a) and a[0].ended_at)
    await rig.stop("silence")
    await rig.idle()
    assert call.answered_at is not None and call.connected_at is None
    assert call.system_outcome == "dropped"  # abandoned, as the authority counts it
    assert floor.abandoned(call.answered_at, call.amd, None, call.dropped_at, call.ended_at)
    [contact] = await rig.contacts("silence")
    assert contact.next_at - call.ended_at >= timedelta(days=floor.ABANDON_REST_DAYS)
    # The same number in another campaign's new list: not dialled, and the reason logged.
    await rig.add_contacts("after", HEADER, [[number(78, 1), "Frettoloso"]], name="new.csv")
    await rig.start("after")
    refusals = await poll(lambda: rig.refusals("after"), bool, 30, "the rest's refusal")
    await rig.stop("after")
    assert [(r.reason, r.number) for r in refusals] == [(el.REST, e164(78, 1))]
    assert await rig.attempts("after") == []


async def test_in_a_real_browser_a_debtor_asks_not_to_be_called_again(rig: Rig) -> None:
    from playwright.async_api import expect

    header = ["numero", "debitore", "importo", "scadenza", "fattura"]
    await rig.add_contacts(
        "reminders", header, [[number(76, 20), "Dario", "10", "01/10/2026", "R"]]
    )
    async with console_page(rig, "op1") as page:
        await expect(page.locator("#state")).to_be_visible()
        await page.click("#go-available")
        await expect(page.locator("body")).to_have_attribute("data-live", "yes")
        await rig.start("reminders")
        # A reminder, not a promotion: the button is there all the same.
        await expect(page.locator("#dnc")).to_be_visible(timeout=30_000)
        await page.click("#dnc")
        await expect(page.locator("#dnc-added")).to_be_visible(timeout=30_000)
    # On the client's own list at once (a reminder is the client's business, not the center's).
    assert await lists.on_do_not_call(rig.sessions, e164(76, 20), "acme") == {"acme"}
    await rig.wait_attempts("reminders", lambda a: bool(a) and all(x.ended_at for x in a))
    await rig.stop("reminders")


async def test_in_a_real_browser_an_inbound_caller_asks_not_to_be_called(rig: Rig) -> None:
    from playwright.async_api import expect

    caller = "0612000041"
    other = await rig.desk("op2")  # the desk's other operator is on a break: op1 answers
    await other.state("pause")
    async with console_page(rig, "op1") as page:
        await expect(page.locator("#state")).to_be_visible()
        await page.click("#go-available")
        await expect(page.locator("body")).to_have_attribute("data-live", "yes")
        # A caller of acme (a client that runs campaigns) reaches op1 and says "never again".
        inbound = asyncio.create_task(
            rig.stack.call("0611000001", caller_num=caller, hold_ms=8000, timeout=90)
        )
        await expect(page.locator("#dnc-inbound-button")).to_be_visible(timeout=30_000)
        # The card comes up as the phone rings; the caller speaks once it is answered.
        await expect(page.locator("#state")).to_have_attribute(
            "data-state", ON_CALL, timeout=30_000
        )
        await page.click("#dnc-inbound-button")
        await expect(page.locator("#dnc-inbound-added")).to_be_visible(timeout=30_000)
        assert (await inbound).ok
    assert await lists.on_do_not_call(rig.sessions, f"+39{caller}", "acme") == {"acme"}
    await other.state("available")
