"""The phone in the console page, through the real Asterisk: headless Chromium with fake
audio devices logs into the console, its JsSIP phone registers through the console's relay,
and answers a real call that sipp places through the trunk. Audio flows both ways (the
browser's getStats() and Asterisk's channel statistics), hold and resume, the caller hangs
up and the card goes to wrap-up; the phone's registration lapsing shows the operator
offline; the SIP password the page was given is refused once the operator has logged out.

Nothing here skips: a missing Chromium, Asterisk or sipp is a failure.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from phonebrowser import log_in, tone
from playwright.async_api import Browser, Page, expect

from ivr.harness.sipp import speaking_scenario
from ivr.harness.stack import AmiEvents, Stack, poll
from ivr.portal import portal_password

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RULES = Path(__file__).resolve().parents[1] / "queues" / "rules"
SHOP = "0611000009"
CALLER = "0612000888"


@pytest.fixture
def rules_folder() -> Path:
    return RULES


async def stats(page: Page) -> dict[str, int]:
    found = await page.evaluate("window.ivrPhone.stats()")
    assert found is not None, "no call in the page"
    return {"received": int(found["received"]), "sent": int(found["sent"])}


async def meter(page: Page) -> float:
    return float(await page.eval_on_selector("#phone-level", "m => m.value"))


async def microphone_id(page: Page, label: str) -> str:
    option = page.locator("#phone-mic option", has_text=label)
    value = await option.get_attribute("value")
    assert value, label
    return value


def keys_by_rtp(scenario: str, path: Path) -> Path:
    """The speaking caller, whose carrier also offers keys in RTP (RFC 4733), as carriers do:
    the operator's keys reach the caller there (the plain scenario would get SIP INFO)."""
    offer = "RTP/AVP 0\n      a=rtpmap:0 PCMU/8000"
    assert scenario.count(offer) == 1, "the caller's SDP changed"
    events = "RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000"
    path.write_text(scenario.replace(offer, events))
    return path


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def read(path: Path) -> str:
    return await asyncio.to_thread(_text, path)


async def asterisk_packets(events: AmiEvents, channel: str) -> tuple[int, int]:
    """RTP packets Asterisk received from and sent to the channel (its RTCP-backed counts)."""
    counts = []
    for which in ("rxcount", "txcount"):
        reply = await events.client.send_action(
            [("Action", "Getvar"), ("Channel", channel),
             ("Variable", f"CHANNEL(rtcp,{which},audio)")]
        )  # fmt: skip
        counts.append(int(reply.get("Value") or 0))
    return counts[0], counts[1]


async def test_operator_answers_in_the_console_page(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page(locale="en-GB")
    await log_in(page, stack, "op1")
    # The page is Anna's phone from the login: the login form's default.
    await expect(page.locator("#phone-on")).to_be_checked()
    await expect(page.locator("#phone-status")).to_have_text("phone ready", timeout=20_000)
    await page.click("#go-available")
    await expect(page.locator("#state")).to_have_text("available", timeout=20_000)
    await page.wait_for_selector("body[data-live=yes]")

    # She picks a microphone before the call (the fake devices: a default and two more).
    await expect(page.locator("#phone-mic option", has_text="Fake Audio Input 1")).to_have_count(
        1, timeout=20_000
    )
    first_mic = await microphone_id(page, "Fake Audio Input 1")
    await page.select_option("#phone-mic", first_mic)
    # Asterisk logs every key it receives: the keypad's digits are read there.
    await stack.asterisk.cli("logger add channel webphone-dtmf.log dtmf")
    keys_seen = stack.settings.host_run_dir / "log" / "webphone-dtmf.log"

    caller_voice = tone(tmp_path, "caller.wav", 8000, ["-e", "u-law"], 8)
    caller = keys_by_rtp(speaking_scenario(caller_voice), tmp_path / "caller.xml")
    async with AmiEvents(stack) as events:
        call = asyncio.create_task(
            stack.call(SHOP, caller_num=CALLER, hold_ms=20000, scenario=caller, timeout=120)
        )
        # The browser rings: the answer button shows, and the card pops.
        await expect(page.locator("#phone-answer")).to_be_visible(timeout=30_000)
        await expect(page.locator("#state")).to_have_text("ringing", timeout=20_000)
        await page.click("#phone-answer")
        await expect(page.locator("#state")).to_have_text("on call", timeout=20_000)
        await expect(page.locator("#caller")).to_have_text(CALLER, timeout=20_000)
        answered = await events.wait(
            lambda e: (
                e.event == "DialEnd"
                and "op1-web" in e.get("DestChannel", "")
                and e.get("DialStatus") == "ANSWER"
            )
        )
        # Audio both ways: bytes in the browser's RTP statistics and in Asterisk's.
        heard = await poll(lambda: stats(page), lambda s: s["received"] > 8000 and s["sent"] > 8000,
                           timeout=20, what="audio both ways in the browser")  # fmt: skip
        assert heard["received"] > 0 and heard["sent"] > 0
        browser_leg = answered.get("DestChannel")
        rx, tx = await poll(lambda: asterisk_packets(events, browser_leg),
                            lambda n: n[0] > 50 and n[1] > 50,
                            timeout=20, what="RTP both ways in Asterisk")  # fmt: skip
        assert rx > 50 and tx > 50
        assert answered.get("Linkedid")

        # The call sends the chosen microphone, and the level meter moves with its sound.
        assert await page.evaluate("window.ivrPhone.microphone()") == first_mic
        await poll(lambda: meter(page), lambda v: v > 0.05, timeout=20, what="a level")
        # Another microphone during the call: its sound replaces the first one's.
        second_mic = await microphone_id(page, "Fake Audio Input 2")
        await page.select_option("#phone-mic", second_mic)
        await poll(lambda: page.evaluate("window.ivrPhone.microphone()"),
                   lambda found: found == second_mic, timeout=20,
                   what="the second microphone sent")  # fmt: skip
        await poll(lambda: meter(page), lambda v: v > 0.05, timeout=20, what="its level")

        # The keypad: Asterisk receives the digits on the browser's channel.
        for key in ("5", "#"):
            await page.click(f'#phone-keys button[data-key="{key}"]')
        logged = await poll(lambda: read(keys_seen),
                            lambda text: "DTMF end '#' received on PJSIP/op1-web" in text,
                            timeout=20, what="the keys in Asterisk")  # fmt: skip
        assert "DTMF end '5' received on PJSIP/op1-web" in logged

        # Hold: the console shows the caller on hold; resume: on the call again.
        await page.click("#phone-hold")
        await expect(page.locator("#state")).to_have_text("on hold", timeout=20_000)
        await expect(page.locator("#phone-hold")).to_have_attribute("data-held", "yes")
        await page.click("#phone-hold")
        await expect(page.locator("#state")).to_have_text("on call", timeout=20_000)
        await page.click("#phone-mute")
        await expect(page.locator("#phone-mute")).to_have_attribute("data-muted", "yes")
        await poll(lambda: meter(page), lambda v: v == 0, timeout=20, what="silence when muted")
        await page.click("#phone-mute")
        await poll(lambda: meter(page), lambda v: v > 0.05, timeout=20, what="sound unmuted")

        # The caller hangs up: the card goes to wrap-up, the phone is free again.
        result = await call
        assert result.ok, result.output[-1500:]
        await expect(page.locator("#state")).to_have_text("wrap-up", timeout=20_000)
        await expect(page.locator("#phone-hangup")).to_be_hidden()
    record = await stack.wait_record(lambda r: r.caller_number == CALLER and r.ended_at)
    assert record.outcome == "answered" and record.operator == "op1"

    # The SIP password this login was given stops working when the operator logs out.
    credential = await page.evaluate(
        "fetch('/console/phone', {credentials: 'same-origin'}).then(r => r.json())"
    )
    assert credential["user"] == "op1-web"
    await page.click("#logout")
    await expect(page.locator("#user")).to_be_visible()
    # The page's registration is gone with it: Asterisk says the browser phone is away.
    await poll(lambda: stack.asterisk.cli("pjsip show contacts"),
               lambda text: "op1-web/" not in text, timeout=20,
               what="the browser's contact removed")  # fmt: skip
    assert await register_status(stack, credential["user"], credential["password"]) == 401
    # And the relay refuses a connection without a console login.
    s = stack.settings
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(
                f"ws://{s.bind}:{s.ports.http}/console/phone/ws", protocols=("sip",),
                headers={"Origin": f"http://{s.bind}:{s.ports.http}"},
            )  # fmt: skip
    assert refused.value.status == 403

    # Logging in with the desk phone chosen: the page registers no phone, and this browser
    # remembers the choice for the next login.
    await page.check("#phone-desk")
    await page.fill("#user", "op1")
    await page.fill("#password", portal_password(s, "op1"))
    await page.click("#login")
    await page.wait_for_selector("body[data-live=yes]")
    await expect(page.locator("#phone-on")).not_to_be_checked()
    await expect(page.locator("#phone-status")).to_have_text("phone offline")
    assert "op1-web/" not in await stack.asterisk.cli("pjsip show contacts")
    await page.click("#logout")
    await expect(page.locator("#phone-desk")).to_be_checked()


def _register(user: str, host: str, call_id: str, cseq: int, authorization: str = "") -> str:
    lines = [
        f"REGISTER sip:{host} SIP/2.0",
        f"Via: SIP/2.0/WS test.invalid;branch=z9hG4bK{call_id}{cseq}",
        "Max-Forwards: 70",
        f"To: <sip:{user}@{host}>",
        f"From: <sip:{user}@{host}>;tag={call_id}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:{user}@test.invalid;transport=ws>",
        "Expires: 60",
    ]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return "\r\n".join([*lines, "Content-Length: 0", "", ""])


async def register_status(stack: Stack, user: str, password: str) -> int:
    """REGISTER straight to Asterisk's WebSocket with a user and password (digest MD5, as
    any SIP phone would): the final status code."""
    import hashlib

    s = stack.settings
    host, call_id = s.bind, "webphonetest1"
    async with aiohttp.ClientSession() as client:
        url = f"ws://{s.bind}:{s.ports.asterisk_http}/ws"
        async with client.ws_connect(url, protocols=("sip",)) as ws:
            await ws.send_str(_register(user, host, call_id, 1))
            challenge = (await ws.receive(timeout=10)).data
            status = int(challenge.split(" ", 2)[1])
            if status != 401:
                return status
            header = next(
                line for line in challenge.split("\r\n") if line.lower().startswith("www-auth")
            )
            realm = re.search(r'realm="([^"]*)"', header)
            nonce = re.search(r'nonce="([^"]*)"', header)
            assert realm and nonce, header

            def md5(text: str) -> str:
                return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 (SIP digest is MD5)

            uri = f"sip:{host}"
            ha1 = md5(f"{user}:{realm.group(1)}:{password}")
            response = md5(f"{ha1}:{nonce.group(1)}:{md5(f'REGISTER:{uri}')}")
            authorization = (
                f'Digest username="{user}", realm="{realm.group(1)}", nonce="{nonce.group(1)}", '
                f'uri="{uri}", response="{response}", algorithm=MD5'
            )
            await ws.send_str(_register(user, host, call_id, 2, authorization))
            final = (await ws.receive(timeout=10)).data
            return int(final.split(" ", 2)[1])


async def test_a_second_console_window_takes_the_phone_unless_a_call_is_up(
    stack: Stack, browser: Browser
) -> None:
    """Two windows of one login would take the calls from each other in turn (the last
    registration wins): the newer one takes the phone, the older one says so; a window with a
    call up keeps it."""
    context = await browser.new_context(locale="en-GB")
    try:
        first = await context.new_page()
        await log_in(first, stack, "op1")
        await expect(first.locator("#phone-status")).to_have_text("phone ready", timeout=20_000)
        second = await context.new_page()
        await second.goto(first.url)
        await expect(second.locator("#phone-status")).to_have_text("phone ready", timeout=20_000)
        await expect(first.locator("#phone")).to_have_attribute("data-phone", "elsewhere")
        await expect(first.locator("#phone-status")).to_have_text(
            "phone in another window of this browser"
        )
        await expect(first.locator("#phone-here")).to_be_visible()
        # Asterisk has one contact for the browser phone: the second window's, which rings.
        contacts = await poll(lambda: stack.asterisk.cli("pjsip show contacts"),
                              lambda text: text.count("op1-web/") == 1, timeout=20,
                              what="one browser contact")  # fmt: skip
        assert contacts.count("op1-web/") == 1
        await second.click("#go-available")
        await expect(second.locator("#state")).to_have_text("available", timeout=20_000)
        call = asyncio.create_task(stack.call(SHOP, caller_num="0612000777", hold_ms=8000))
        await expect(second.locator("#phone-answer")).to_be_visible(timeout=30_000)
        await expect(first.locator("#phone-answer")).to_be_hidden()
        await second.click("#phone-answer")
        await expect(second.locator("#state")).to_have_text("on call", timeout=20_000)
        # The first window asks for the phone back during the call: the call keeps it.
        await first.click("#phone-here")
        await expect(first.locator("#phone")).to_have_attribute("data-phone", "elsewhere")
        await expect(second.locator("#phone")).to_have_attribute("data-phone", "registered")
        assert (await call).ok
        record = await stack.wait_record(lambda r: r.caller_number == "0612000777" and r.ended_at)
        assert record.outcome == "answered" and record.operator == "op1"
        # With the call over, it takes the phone back; a reload of the other keeps it aside.
        await first.click("#phone-here")
        await expect(first.locator("#phone-status")).to_have_text("phone ready", timeout=20_000)
        await expect(second.locator("#phone")).to_have_attribute("data-phone", "elsewhere")
        await second.reload()
        await expect(second.locator("#phone")).to_have_attribute("data-phone", "elsewhere")
        await expect(first.locator("#phone")).to_have_attribute("data-phone", "registered")
    finally:
        await context.close()
