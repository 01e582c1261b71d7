"""Putting callers through, with the real Asterisk: a sipp caller, the operator's sipp phone,
and the client's people as sipp phones behind the trunk (people.xml) that take the call (1),
turn it down (2) or never answer. The operator works the console over HTTP, as the browser
does. One stack for the module: the cases run one after the other on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from ivr.ami.client import AmiClient
from ivr.ami.message import Message
from ivr.asterisk.render import Trunk
from ivr.harness.sipp import SCENARIOS, Phone, SippResult
from ivr.harness.sipp.contacts import AnsweringPhones
from ivr.harness.stack import AmiEvents, Stack, poll, stack_settings
from ivr.portal import portal_password
from ivr.putthrough import store
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HERE = Path(__file__).resolve().parent
TRUNK = "127.0.0.2"
STUDIO = "0611000031"
IMPRESA = "0611000032"


@dataclass
class Desk:
    """The stack, the operator's console session and an AMI connection of the test's."""

    stack: Stack
    http: aiohttp.ClientSession
    csrf: str
    events: AmiEvents
    phone: Phone

    @property
    def ami(self) -> AmiClient:
        return self.events.client

    @property
    def base(self) -> str:
        s = self.stack.settings
        return f"http://{s.bind}:{s.ports.http}/console"

    async def page(self, path: str = "/") -> str:
        async with self.http.get(self.base + path) as response:
            assert response.status == 200, await response.text()
            return await response.text()

    async def post(self, path: str, **data: str) -> tuple[int, str]:
        async with self.http.post(self.base + path, data={"csrf": self.csrf, **data}) as response:
            return response.status, await response.text()

    async def state(self, wanted: str, timeout: float = 30.0) -> str:
        pattern = re.compile(r'id="state" data-state="([^"]+)"')

        async def read() -> str:
            found = pattern.search(await self.page())
            return found[1] if found else ""

        return await poll(read, lambda state: state == wanted, timeout, f"op1 {wanted}")

    async def answered(self, caller: str) -> repo.CallRecord:
        """The caller's call, once op1 has it on the console (the hold button is there)."""
        await poll(lambda: self.page("/panel"), lambda html: 'id="hold"' in html, 30, "a call")
        return await self.stack.wait_record(
            lambda r: r.caller_number == caller and r.operator == "op1" and not r.ended_at
        )

    async def bridges(self) -> dict[str, set[str]]:
        """Asterisk's bridges now: bridge id -> the channels in it."""
        out: dict[str, set[str]] = {}
        for event in await self.ami.send_action_list([("Action", "CoreShowChannels")]):
            if event.get("BridgeId"):
                out.setdefault(event["BridgeId"], set()).add(event.get("Channel", ""))
        return out

    async def bridged_with(self, channel: str, timeout: float = 20.0) -> set[str]:
        """The channels bridged with `channel`, once it is in a bridge with another."""
        together = await poll(
            self.bridges,
            lambda b: any(channel in chans and len(chans) == 2 for chans in b.values()),
            timeout,
            f"{channel} bridged",
        )
        return next(chans for chans in together.values() if channel in chans) - {channel}

    async def put_through(self, caller: str) -> tuple[repo.CallRecord, store.Attempt]:
        """The caller's call once its put-through was accepted: the attempt closed so, and the
        caller bridged with the trunk (the person reached) alone, the operator gone."""
        record = await self.stack.wait_record(
            lambda r: r.caller_number == caller and not r.ended_at and r.operator
        )
        attempt = await self.attempt(record.linkedid)
        assert attempt.outcome == "accepted"
        assert record.channel is not None
        others = await self.bridged_with(record.channel)
        assert all(c.startswith("PJSIP/trunk-") for c in others), others
        return record, attempt

    async def take_message(self, record: repo.CallRecord, text: str) -> None:
        status, page = await self.post(
            "/outcome", linkedid=record.linkedid, caller_name="Mario Verdi",
            callback=record.caller_number or "0612000000", message=text, category="message",
        )  # fmt: skip
        assert status == 200 and 'id="saved"' in page, page[-1500:]

    async def joined(self, number: str, times: int = 1) -> Message:
        """The `times`-th QueueCallerJoin of this caller."""

        def seen() -> list[Message]:
            return self.events.all(
                lambda e: e.event == "QueueCallerJoin" and e.get("CallerIDNum") == number
            )

        await self.events.wait(lambda e: len(seen()) >= times, timeout=60)
        return seen()[times - 1]

    async def connected(self, number: str) -> Message:
        return await self.events.wait(
            lambda e: e.event == "AgentConnect" and e.get("CallerIDNum") == number, timeout=60
        )

    async def attempt(self, linkedid: str) -> store.Attempt:
        attempts = await poll(
            lambda: store.for_call(self.stack.sessions, linkedid),
            lambda found: bool(found) and found[-1].outcome is not None,
            60,
            f"the attempt on {linkedid} closed",
        )
        return attempts[-1]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(
    tmp_path_factory: pytest.TempPathFactory, asterisk_available: None
) -> AsyncIterator[Desk]:
    tmp = tmp_path_factory.mktemp("putthrough")
    people = AnsweringPhones(HERE / "people.xml", tmp / "work")
    settings = stack_settings(tmp, HERE / "rules")
    stack = Stack(settings, tmp / "work", trunk=Trunk(TRUNK, people.port))
    people.start()
    try:
        await stack.start()
        phone = await stack.phone("op1", ring_ms=200)
        s = stack.settings
        events = await AmiEvents(stack).__aenter__()
        jar = aiohttp.CookieJar(unsafe=True)  # the console is on 127.0.0.1
        base = f"http://{s.bind}:{s.ports.http}/console"
        async with aiohttp.ClientSession(cookie_jar=jar, headers={"Accept-Language": "en"}) as http:
            async with http.get(f"{base}/login") as response:
                form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
            assert form is not None
            login = {"user": "op1", "password": portal_password(s, "op1"), "csrf": form[1]}
            async with http.post(f"{base}/login", data=login) as response:
                page = await response.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None, page[-1500:]
            desk = Desk(stack, http, csrf[1], events, phone)
            status, _ = await desk.post("/state", state="available")
            assert status == 200
            try:
                yield desk
            finally:
                await events.__aexit__()
                # What Asterisk said, for reading after a failure (the stack's logs go).
                with open(tmp / "events.txt", "w") as out:
                    for e in events.seen:
                        out.write(f"{e.get('Timestamp')} {e.event} {e.get('Channel')} "
                                  f"{e.get('CallerIDNum')} {e.get('DestChannel', '')} "
                                  f"{e.get('State', '')} {e.get('Device', '')} "
                                  f"{e.get('Paused', '')} {e.get('DialStatus', '')} "
                                  f"{e.get('Context', '')}\n")  # fmt: skip
    finally:
        await stack.close()
        people.stop()


async def run_ivr(stack: Stack, *args: str) -> str:
    """The `ivr` command as an admin runs it on this instance; its output."""
    env = {**stack.engine_env(), "PYTHONPATH": str(Path.cwd())}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


@contextlib.asynccontextmanager
async def console_in_chromium(desk: Desk) -> AsyncIterator[Any]:
    """op1's console in a real headless Chromium, in Italian (the browser's language), with
    the desk phone chosen at login: each form loads the console again."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"{desk.base}/login")
            await page.fill("#user", "op1")
            await page.fill("#password", portal_password(desk.stack.settings, "op1"))
            await page.check("#phone-desk")
            await page.click("#login")
            await expect(page.locator("body")).to_have_attribute("data-live", "yes")
            yield page
        finally:
            await browser.close()


async def on_the_call(page: Any) -> None:
    """The console says the operator is on the call; reloaded for the card's buttons."""
    from playwright.async_api import expect

    await expect(page.locator("#state")).to_have_text("in chiamata", timeout=20_000)
    await page.reload()


async def take_message_in(page: Any, text: str) -> None:
    from playwright.async_api import expect

    await page.fill("#caller_name", "Mario Verdi")
    await page.fill("#message", text)
    await page.click("#save")
    await expect(page.locator("#saved")).to_be_visible(timeout=20_000)


def caller(desk: Desk, number: str, hold_ms: int, to: str = STUDIO) -> asyncio.Task[SippResult]:
    return asyncio.create_task(
        desk.stack.call(to, caller_num=number, caller_name="Mario Verdi", hold_ms=hold_ms,
                        timeout=90)
    )  # fmt: skip


async def test_announced_and_accepted_the_caller_talks_to_the_person(desk: Desk) -> None:
    call = caller(desk, "0612000100", hold_ms=16_000)
    record = await desk.answered("0612000100")
    assert record.channel is not None
    # The card says why this caller is on a list, and offers the people.
    panel = await desk.page("/panel")
    assert 'data-action="always"' in panel and "il commercialista dello studio" in panel
    assert "Studio Rossi, buongiorno, sono Anna: come posso aiutarla?" in panel

    status, page = await desk.post("/putthrough", person="gina", mode="announced",
                                   why="the annual accounts")  # fmt: skip
    assert status == 200 and 'id="problem"' not in page, page[-1500:]

    attempt = await desk.attempt(record.linkedid)
    assert (attempt.outcome, attempt.mode, attempt.operator) == ("accepted", "announced", "op1")
    assert attempt.number == "+397100001" and attempt.person_name == "Gina Rossi"
    assert attempt.answered_at is not None and attempt.held_seconds is not None
    assert attempt.held_seconds >= 2.5  # the music, the ringing and the announcement
    # The caller and Gina are bridged; the operator's phone is out of the call and free.
    others = await desk.bridged_with(record.channel)
    assert not any(c.startswith("PJSIP/op1-") for c in others), others
    assert all(c.startswith("PJSIP/trunk-") for c in others), others
    await desk.state("available")
    result = await call
    assert result.ok, result.output[-1500:]
    ended = await desk.stack.wait_record(lambda r: r.linkedid == record.linkedid and r.ended_at)
    assert ended.outcome == "answered" and ended.operator == "op1"


async def test_declined_the_caller_is_back_with_the_operator(desk: Desk) -> None:
    from playwright.async_api import expect

    async with console_in_chromium(desk) as page:
        call = caller(desk, "0612000300", hold_ms=20_000)
        record = await desk.answered("0612000300")
        assert record.channel is not None
        await on_the_call(page)
        async with page.expect_navigation():
            await page.click("#announce-paolo")  # Paolo presses 2

        attempt = await desk.attempt(record.linkedid)
        assert (attempt.outcome, attempt.number) == ("declined", "+397600001")
        assert attempt.held_seconds is not None and attempt.held_seconds >= 2.5
        others = await desk.bridged_with(record.channel)
        assert [c for c in others if c.startswith("PJSIP/op1-")], others  # with op1 again
        # The operator takes a message; the card's history shows the attempt.
        await page.reload()
        row = page.locator(f'#attempts tr[data-attempt="{attempt.id}"]')
        await expect(row).to_have_attribute("data-outcome", "declined")
        await expect(row.locator(".outcome")).to_have_text("rifiutata")
        await take_message_in(page, "Paolo è occupato: richiamare domani.")
    result = await call
    assert result.ok, result.output[-1500:]


async def test_no_answer_on_any_number_the_caller_is_back_with_the_operator(desk: Desk) -> None:
    await desk.state("available")
    call = caller(desk, "0612000400", hold_ms=25_000)
    record = await desk.answered("0612000400")
    assert record.channel is not None

    status, page = await desk.post("/putthrough", person="lia", mode="announced")
    assert status == 200 and 'id="problem"' not in page, page[-1500:]

    attempt = await desk.attempt(record.linkedid)
    assert attempt.outcome == "no-answer"
    assert (attempt.tried, attempt.number) == (2, "+397200002")  # both numbers, in order
    assert attempt.answered_at is None
    assert attempt.held_seconds is not None and attempt.held_seconds >= 5  # 2 x 3 s of ringing
    others = await desk.bridged_with(record.channel)
    assert [c for c in others if c.startswith("PJSIP/op1-")], others
    await desk.take_message(record, "Lia did not answer.")
    result = await call
    assert result.ok, result.output[-1500:]
    # `ivr calls` shows the attempt with the call.
    listed = json.loads(await run_ivr(desk.stack, "calls", "--json", "--client", "studio"))
    [mine] = [c for c in listed if c["linkedid"] == record.linkedid]
    assert mine["put_throughs"] == [
        {"person": "Lia Bianchi", "number": "+397200002", "mode": "announced",
         "outcome": "no-answer", "held_seconds": attempt.held_seconds}
    ]  # fmt: skip
    table = await run_ivr(desk.stack, "calls", "--client", "studio")
    assert "Lia Bianchi no-answer (announced" in table


async def test_direct_no_answer_goes_back_to_the_queue_ahead_of_waiting_callers(
    desk: Desk,
) -> None:
    await desk.state("available")
    async with console_in_chromium(desk) as page:
        first = caller(desk, "0612000101", hold_ms=30_000)
        record = await desk.answered("0612000101")
        waiting = caller(desk, "0612000500", hold_ms=18_000)  # op1 is busy: this one waits
        await desk.joined("0612000500")
        await on_the_call(page)
        async with page.expect_navigation():  # the console's answer to the form
            await page.click("#direct-ugo")  # one click: the caller goes straight to Ugo
    # The operator is free at once: the caller who waited is connected while Ugo's phone rings.
    await desk.connected("0612000500")
    second = await desk.stack.wait_record(lambda r: r.caller_number == "0612000500")
    await desk.take_message(second, "Just a question.")
    later = caller(desk, "0612000600", hold_ms=2_000)
    assert (await desk.joined("0612000600"))["Position"] == "1"
    # Ugo never answers: the caller goes back to the queue, first in line ahead of `later`.
    back = await desk.joined("0612000101", times=2)
    assert back["Position"] == "1", back
    attempt = await desk.attempt(record.linkedid)
    assert (attempt.mode, attempt.outcome, attempt.number) == ("direct", "no-answer", "+397200003")
    assert attempt.held_seconds is not None and attempt.held_seconds >= 7  # Ugo's 8 s
    # Once op1 is free again, the returned caller is connected before the one who waited.
    again = await desk.connected("0612000101")
    assert not desk.events.all(
        lambda e: e.event == "AgentConnect" and e.get("CallerIDNum") == "0612000600"
    ), "the later caller went first"
    assert again["Queue"] == "desk"
    await desk.take_message(record, "Ugo was out: call back.")
    await desk.connected("0612000600")
    third = await desk.stack.wait_record(lambda r: r.caller_number == "0612000600")
    await desk.take_message(third, "Waited patiently.")
    for task in (first, waiting, later):
        result = await task
        assert result.ok, result.output[-1500:]


async def test_the_rules_put_a_screened_caller_straight_through(desk: Desk) -> None:
    result = await desk.stack.call(IMPRESA, caller_num="0612000800", hold_ms=2_000)
    assert result.ok, result.output[-1500:]
    record = await desk.stack.wait_record(lambda r: r.caller_number == "0612000800")
    attempt = await desk.attempt(record.linkedid)
    assert (attempt.mode, attempt.outcome, attempt.operator) == ("rules", "accepted", None)
    assert (attempt.person_name, attempt.number) == ("Eva Gialli", "+397100005")


async def test_the_rules_fall_back_to_the_desk_when_the_person_does_not_answer(
    desk: Desk,
) -> None:
    await desk.state("available")
    call = caller(desk, "0612000700", hold_ms=4_000, to=IMPRESA)
    record = await desk.answered("0612000700")  # after Ugo's 3 s of ringing: the desk
    attempt = await desk.attempt(record.linkedid)
    assert (attempt.mode, attempt.outcome, attempt.person_name) == (
        "rules",
        "no-answer",
        "Ugo Gialli",
    )
    panel = await desk.page("/panel")
    assert "suppliers: the site manager wants them" in panel  # why the caller is on a list
    await desk.take_message(record, "Ugo did not answer.")
    result = await call
    assert result.ok, result.output[-1500:]


async def test_in_chromium_the_operator_announces_and_puts_the_caller_through(desk: Desk) -> None:
    from playwright.async_api import async_playwright, expect

    s = desk.stack.settings
    await desk.state("available")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"{desk.base}/login")
            await page.fill("#user", "op1")
            await page.fill("#password", portal_password(s, "op1"))
            await page.click("#login")
            await expect(page.locator("body")).to_have_attribute("data-live", "yes")
            call = caller(desk, "0612000100", hold_ms=16_000)
            # The card pops in Italian with the operator's name in the greeting, and says
            # why this caller is always put through.
            await expect(page.locator("#greeting")).to_have_text(
                "Studio Rossi, buongiorno, sono Anna: come posso aiutarla?", timeout=20_000
            )
            await expect(page.locator("#screening")).to_contain_text("Passare sempre")
            await expect(page.locator("#state")).to_have_text("in chiamata", timeout=20_000)
            await page.reload()  # (the hold and put-through buttons come with the answer)
            await page.fill('#people tr[data-person="gina"] input[name="why"]', "il bilancio")
            await page.click("#announce-gina")
            _, attempt = await desk.put_through("0612000100")
            # The operator is free: the console says so by itself (server-sent events).
            await expect(page.locator("#state")).to_have_text("disponibile", timeout=20_000)
            await page.reload()
            row = page.locator(f'#attempts tr[data-attempt="{attempt.id}"]')
            await expect(row).to_have_attribute("data-outcome", "accepted")
            await expect(row).to_contain_text("Gina Rossi")
        finally:
            await browser.close()
    result = await call
    assert result.ok, result.output[-1500:]


async def test_an_unregistered_phone_is_offline_on_the_console(desk: Desk) -> None:
    await desk.state("available")
    await desk.phone.stop()  # unregisters (expires 0), as a phone switched off cleanly
    await desk.state("offline")
    page = await desk.page()
    assert '<span class="state" id="state" data-state="offline"' in page


async def test_hold_and_resume_and_the_search_for_someone(desk: Desk) -> None:
    if desk.phone.process is None or desk.phone.process.returncode is not None:
        await desk.phone.start()  # (the unregistered-phone case switched it off)
    await desk.state("available")
    call = caller(desk, "0612000900", hold_ms=12_000)
    record = await desk.answered("0612000900")
    assert record.channel is not None

    status, page = await desk.post("/hold")
    assert status == 200 and 'id="resume"' in page, page[-1500:]
    await desk.state("on hold")
    # On hold: in the hold context and out of the operator's bridge. Asterisk's channel list
    # can show the new context a moment before the bridge is gone: both are waited for.
    channels = await poll(
        lambda: desk.ami.send_action_list([("Action", "CoreShowChannels")]),
        lambda found: any(
            c.get("Channel") == record.channel
            and c.get("Context") == "ivr-in-hold"
            and not c.get("BridgeId")
            for c in found
        ),
        20,
        "the caller on hold, out of the bridge",
    )
    assert [c for c in channels if c.get("Channel") == record.channel]

    status, page = await desk.post("/resume")
    assert status == 200 and 'id="hold"' in page, page[-1500:]
    others = await desk.bridged_with(record.channel)
    assert [c for c in others if c.startswith("PJSIP/op1-")], others
    await desk.state("on call")

    # Paolo phoned the center: in a meeting until late. The card stops offering him.
    status, page = await desk.post("/presence", person="paolo", status="meeting", until="23:59")
    assert status == 200 and 'id="problem"' not in page, page[-1500:]
    panel = await desk.page("/panel")
    assert 'data-person="paolo"' in panel and 'id="announce-paolo"' not in panel
    assert 'data-presence="meeting"' in panel and 'id="announce-gina"' in panel
    presence = await store.presence_of(desk.stack.sessions, "studio", datetime.now(UTC))
    assert presence["paolo"].status == "meeting" and presence["paolo"].set_by == "op1"
    status, page = await desk.post("/presence", person="paolo", status="available")
    assert 'id="announce-paolo"' in await desk.page("/panel")

    # A caller asks for someone: the search finds the person and the client by name or role.
    found = await desk.page("/search?q=neri")
    assert "Studio Rossi" in found and "Paolo Neri (socio)" in found and "Gina" not in found
    assert 'id="nothing"' not in found
    found = await desk.page("/search?q=site+manager")
    assert "Impresa Gialli" in found and "Ugo Gialli (site manager)" in found
    await desk.take_message(record, "Held and resumed.")
    result = await call
    assert result.ok, result.output[-1500:]


MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@contextlib.asynccontextmanager
async def browser_phone_console(desk: Desk) -> AsyncIterator[Any]:
    """op1's console in Chromium with fake audio devices, the page being op1's phone (the
    login's default) and the desk phone unregistered: only the page rings."""
    from playwright.async_api import async_playwright, expect

    await desk.state("available")
    await desk.phone.register(expires=0)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
        )
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"{desk.base}/login")
            await page.fill("#user", "op1")
            await page.fill("#password", portal_password(desk.stack.settings, "op1"))
            await page.click("#login")
            await expect(page.locator("#phone-on")).to_be_checked()
            await expect(page.locator("#phone-status")).to_have_text(
                "telefono pronto", timeout=30_000
            )
            yield page
        finally:
            await browser.close()
            await desk.phone.register()


async def answer_in_the_page(page: Any) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#phone-answer")).to_be_visible(timeout=30_000)
    await page.click("#phone-answer")
    await expect(page.locator("#state")).to_have_text("in chiamata", timeout=20_000)


async def test_a_browser_operator_puts_the_caller_through_from_the_page(desk: Desk) -> None:
    """The same announced put-through, the operator answering in the console page's own phone
    (WebRTC) with the desk phone unregistered: the card's buttons come with the answer, no
    reload (which would end the call the page carries)."""
    from playwright.async_api import expect

    async with browser_phone_console(desk) as page:
        call = caller(desk, "0612000150", hold_ms=16_000)
        await answer_in_the_page(page)
        await page.fill('#people tr[data-person="gina"] input[name="why"]', "il bilancio")
        await page.click("#announce-gina")
        record, _ = await desk.put_through("0612000150")
        assert record.operator == "op1"
        # The caller talks to Gina; the page's call has ended and the operator is free.
        await expect(page.locator("#state")).to_have_text("disponibile", timeout=20_000)
        await expect(page.locator("#phone-hangup")).to_be_hidden(timeout=20_000)
    result = await call
    assert result.ok, result.output[-1500:]


def keys_in_rtp_caller(folder: Path) -> Path:
    """The caller whose carrier offers keys in RTP (RFC 4733), as carriers do: the keys the
    person presses on the bridged call reach the caller there, not as SIP INFO, which the
    plain caller scenario does not expect."""
    scenario = (SCENARIOS / "caller.xml").read_text()
    offer = "RTP/AVP 0\n      a=rtpmap:0 PCMU/8000"
    assert scenario.count(offer) == 1, "the caller's SDP changed"
    events = "RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000"
    path = folder / "caller_rtp_keys.xml"
    path.write_text(scenario.replace(offer, events))
    return path


async def test_a_browser_operator_holds_is_declined_and_puts_through_directly(
    desk: Desk, tmp_path: Path
) -> None:
    """The card's forms do not leave the page that carries the call: hold and resume, an
    announced put-through that the person declines (the caller is back with the operator in
    the page), then a direct one to the person the screening names."""
    from playwright.async_api import expect

    async with browser_phone_console(desk) as page:
        call = asyncio.create_task(
            desk.stack.call(STUDIO, caller_num="0612000101", caller_name="Mario Verdi",
                            hold_ms=40_000, timeout=90, scenario=keys_in_rtp_caller(tmp_path))
        )  # fmt: skip
        await answer_in_the_page(page)
        await page.evaluate("window.sameDocument = true")  # gone if the page were reloaded
        record = await desk.answered("0612000101")
        assert record.channel is not None
        # The screening says why this caller is put through, and to whom.
        await expect(page.locator("#screening")).to_have_attribute("data-action", "always")
        await expect(page.locator("#screening")).to_contain_text("il commercialista")

        await page.click("#hold")
        await expect(page.locator("#state")).to_have_text("in attesa", timeout=20_000)
        await expect(page.locator("#resume")).to_be_visible()
        await page.click("#resume")
        await expect(page.locator("#state")).to_have_text("in chiamata", timeout=20_000)
        others = await desk.bridged_with(record.channel)
        assert [c for c in others if c.startswith("PJSIP/op1-web-")], others

        await page.click("#announce-paolo")  # Paolo presses 2
        declined = await desk.attempt(record.linkedid)
        assert (declined.outcome, declined.mode) == ("declined", "announced")
        others = await desk.bridged_with(record.channel)
        assert [c for c in others if c.startswith("PJSIP/op1-web-")], others  # back with op1
        await expect(page.locator("#phone-hangup")).to_be_visible()

        await page.click("#direct-gina")
        attempts = await poll(
            lambda: store.for_call(desk.stack.sessions, record.linkedid),
            lambda found: len(found) == 2 and found[-1].outcome is not None,
            60,
            "the direct attempt closed",
        )
        direct = attempts[-1]
        assert (direct.mode, direct.outcome, direct.person_name) == (
            "direct", "accepted", "Gina Rossi",
        )  # fmt: skip
        others = await desk.bridged_with(record.channel)
        assert all(c.startswith("PJSIP/trunk-") for c in others), others
        # The page's call ended with the put-through, in the same page all along.
        await expect(page.locator("#phone-hangup")).to_be_hidden(timeout=20_000)
        assert await page.evaluate("window.sameDocument === true")
        await expect(page.locator("#state")).not_to_have_text("in chiamata", timeout=20_000)
    result = await call
    assert result.ok, result.output[-1500:]
