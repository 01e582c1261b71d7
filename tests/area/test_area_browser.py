"""The client's reserved area in a real headless Chromium, through the real Asterisk: callers
(sipp) leave messages they speak (RTP) and are answered by an operator's phone (sipp); the
client's user logs in with a TOTP code, sees today's calls, opens a message and plays its
recording in the page, exports the list as CSV, receives the email of the urgent message (a
local SMTP server), sets an override that the next real call obeys, and the page shows that
call as it is stored (server-sent events). The layout is checked at a phone's width and a
desk's, with a screenshot of each written to the test's output folder.

One Asterisk, one engine and one browser for the whole module: the tests run in order on the
calls placed at its start, each adding what it checks.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from area_world import Mailbox
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from ivr.area import users
from ivr.harness.ports import free_tcp_port
from ivr.harness.stack import Stack, poll, stack_settings
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
RULES = Path(__file__).resolve().parent / "rules"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",  # the test presses play by script
]
ACME = "0611000100"  # Acme Idraulica's diverted number (tests/area/rules)
EMAIL = "titolare@acme.example"
PASSWORD = "una password lunga"
SECRET = pyotp.random_base32()
ROME = ZoneInfo("Europe/Rome")
NEVER = 3_600_000


@dataclass
class Site:
    stack: Stack
    box: Mailbox
    out: Path  # the module's output folder: screenshots, the downloaded CSV
    voice: Path  # what callers say

    @property
    def url(self) -> str:
        s = self.stack.settings
        return f"http://{s.bind}:{s.ports.http}/area"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_tcp_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def speech(folder: Path) -> Path:
    """What the callers say: Italian speech (espeak-ng) as 8 kHz mu-law (sox), for sipp."""
    raw, ulaw = folder / "speech-raw.wav", folder / "speech.wav"
    words = "Buongiorno, sono Maria Rossi. Ho una perdita in cucina, richiamatemi."
    subprocess.run(["espeak-ng", "-v", "it", "-w", str(raw), words], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "u-law", str(ulaw)], check=True)
    return ulaw


async def ended(stack: Stack, count: int) -> list[repo.CallRecord]:
    """Acme's calls once `count` of them have ended (the urgent ladder's own outbound calls
    are no calls of Acme's)."""
    return await poll(
        lambda: repo.list_calls(stack.sessions, client_id="acme", limit=50),
        lambda calls: len([c for c in calls if c.ended_at]) >= count,
        60,
        f"{count} calls ended",
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(
    tmp_path_factory: pytest.TempPathFactory,
    mailbox: tuple[Mailbox, int],
    asterisk_available: None,
) -> AsyncIterator[Site]:
    box, port = mailbox
    tmp = tmp_path_factory.mktemp("area-browser")
    out = tmp / "output"
    out.mkdir()
    settings = stack_settings(tmp, RULES, smtp_host="127.0.0.1", smtp_port=port)
    stack = Stack(settings, tmp / "work")
    await stack.start()
    try:
        sessions = stack.sessions
        now = datetime.now(UTC)
        user = await users.add_user(
            sessions, "acme", EMAIL, PASSWORD, now, role="admin", name="Titolare"
        )
        await users.set_prefs(sessions, user.id, language="it", notify="urgent", digest_at="18:00")
        async with sessions.begin() as session:  # as the account page enrols it
            from ivr.area.models import AreaUser

            row = await session.get(AreaUser, user.id)
            assert row is not None
            row.totp_secret, row.totp_on = SECRET, True
        # Nobody's phone is up: both callers leave a message, speaking. The withheld caller
        # is sent to the urgent line (the rules: {escalate: acme-urgent}).
        voice = speech(tmp)
        left = await asyncio.gather(
            stack.call(ACME, caller_num="0612000777", caller_name="Maria Rossi",
                       hold_ms=9000, audio=voice, timeout=60),
            stack.call(ACME, caller_num="anonymous", caller_name="Anonymous",
                       hold_ms=9000, audio=voice, timeout=60),
        )  # fmt: skip
        assert all(r.ok for r in left), [r.output[-1500:] for r in left]
        await stack.phone("op1", ring_ms=300)  # now the operator answers
        answered = await stack.call(ACME, caller_num="0612000888", caller_name="Luca Verdi")
        assert answered.ok, answered.output[-1500:]
        calls = await ended(stack, 3)
        assert sorted(c.outcome for c in calls) == ["answered", "message-left", "message-left"]
        yield Site(stack, box, out, voice)
    finally:
        await stack.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian chromium is required: apt-get install -y chromium"  # noqa: ASYNC240
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(browser: Browser, site: Site) -> AsyncIterator[Page]:
    """The user's desk browser (1280 px wide), logged in with the second factor."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="it-IT", accept_downloads=True
    )
    context.set_default_timeout(30_000)  # a machine busy with other Asterisks is slow
    expect.set_options(timeout=20_000)
    page = await context.new_page()
    await page.goto(f"{site.url}/login")
    await page.fill("#email", EMAIL)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await expect(page).to_have_url(f"{site.url}/totp")
    await page.fill("#code", pyotp.TOTP(SECRET).now())
    await page.click("#verify")
    await expect(page).to_have_url(f"{site.url}/calls")
    yield page
    await context.close()


def row(page: Page, text: str) -> Any:
    return page.locator("#calls tbody tr", has_text=text)


async def test_the_user_sees_todays_calls(desk: Page, site: Site) -> None:
    await expect(desk.locator("#client")).to_have_text("Acme Idraulica")
    await expect(desk.locator("#calls tbody tr")).to_have_count(3)
    maria, luca, withheld = row(desk, "Maria Rossi"), row(desk, "Luca Verdi"), row(desk, "anonimo")
    for found in (maria, luca, withheld):
        await expect(found.locator("td.when")).to_contain_text("oggi")  # in Rome's time
    await expect(withheld).to_contain_text("urgente")  # the caller chose the emergency line
    await expect(maria).not_to_contain_text("urgente")
    await expect(maria).to_contain_text("messaggio lasciato")
    await expect(maria).to_contain_text("registrazione")
    await expect(maria).to_have_class(re.compile("unread"))
    await expect(luca).to_contain_text("risposta")
    await expect(desk.locator("#unread")).to_have_text("2")  # the two messages


async def test_a_message_plays_its_recording_in_the_page(desk: Page, site: Site) -> None:
    answers: list[tuple[int, str, str]] = []
    desk.on(
        "response",
        lambda r: (
            answers.append(
                (r.status, r.request.headers.get("range", ""), r.headers.get("content-range", ""))
            )
            if r.url.endswith("/recording")
            else None
        ),
    )
    await desk.goto(f"{site.url}/calls")
    await row(desk, "Maria Rossi").get_by_role("link").click()
    await expect(desk.locator("h1")).to_have_text("Maria Rossi")
    await expect(desk.locator("#number")).to_have_text("0612000777")
    played = await desk.evaluate(
        """async () => {
            const audio = document.getElementById("recording");
            await audio.play();
            await new Promise((done) => {
                const check = () => audio.currentTime > 0.2 ? done() : setTimeout(check, 50);
                check();
            });
            const state = {ready: audio.readyState, duration: audio.duration,
                           at: audio.currentTime, error: audio.error && audio.error.code};
            audio.currentTime = audio.duration / 2;  // the player seeks
            await new Promise((done) => audio.addEventListener("seeked", done, {once: true}));
            state.seeked = audio.currentTime;
            audio.pause();
            return state;
        }"""
    )
    assert played["error"] is None and played["ready"] >= 2  # HAVE_CURRENT_DATA or more
    assert 1.0 < played["duration"] < 60  # seconds of what the caller said
    assert played["at"] > 0.2 and played["seeked"] >= played["duration"] / 2 - 0.1
    # Chromium asked for byte ranges, the area answered them as such.
    assert any(
        s == 206 and r.startswith("bytes=") and c.startswith("bytes ") for s, r, c in answers
    )
    await desk.goto(f"{site.url}/calls")
    await expect(desk.locator("#unread")).to_have_text("1")  # opened: read
    await expect(row(desk, "Maria Rossi")).not_to_have_class(re.compile("unread"))


async def test_the_list_is_exported_as_csv(desk: Page, site: Site) -> None:
    await desk.goto(f"{site.url}/calls")
    async with desk.expect_download() as info:
        await desk.click("#export-csv")
    download = await info.value
    assert download.suggested_filename == "calls.csv"
    saved = site.out / "calls.csv"
    await download.save_as(saved)
    table = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert table[0][:4] == ["Quando", "Chiamante", "Numero", "Esito"]
    people = sorted((line[1], line[2]) for line in table[1:])
    assert people == [
        ("Luca Verdi", "0612000888"),
        ("Maria Rossi", "0612000777"),
        ("chiamante sconosciuto", "anonimo"),
    ]
    assert {line[3] for line in table[1:]} == {"risposta", "messaggio lasciato"}


async def test_the_urgent_message_is_emailed_and_its_link_opens_it(desk: Page, site: Site) -> None:
    async def mails() -> list[Any]:
        return list(site.box.messages)

    await poll(mails, lambda m: len(m) >= 1, 30, "the email")
    [mail] = site.box.messages  # the user wants urgent messages only: Maria's is not
    assert mail["To"] == EMAIL
    assert mail["Subject"] == "Messaggio URGENTE per Acme Idraulica"
    body = mail.get_content()
    assert "Chiamante: chiamante sconosciuto, anonimo" in body and "urgente" in body
    assert "Il chiamante ha lasciato un messaggio registrato." in body
    link = re.search(r"(http://\S+/area/calls/\S+)", body)
    assert link is not None
    await desk.goto(link.group(1))
    await expect(desk.locator("#outcome")).to_contain_text("messaggio lasciato")
    await expect(desk.locator("#number")).to_have_text("anonimo")
    await expect(desk.locator("#recording")).to_be_visible()


async def test_an_override_routes_the_next_real_call(desk: Page, site: Site) -> None:
    await desk.goto(f"{site.url}/settings")
    await expect(desk.locator("#override")).to_contain_text("Come sempre")
    tomorrow = (datetime.now(ROME) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await desk.check("#kind-closed")
    await desk.fill("#until", tomorrow)
    await desk.click("#override-set")
    await expect(desk.locator("#override")).to_contain_text("Chiuso fino a")
    # The calls page is open when the next caller rings: the operator's phone would answer
    # (it did for Luca Verdi), but the client is closed: the call goes to the message box,
    # and the page shows it by itself once it is stored.
    await desk.goto(f"{site.url}/calls")
    await desk.wait_for_selector("body[data-live=yes]")
    call = await site.stack.call(
        ACME, caller_num="0612000999", caller_name="Giorgio Neri", hold_ms=9000,
        audio=site.voice, timeout=60,
    )  # fmt: skip
    assert call.ok, call.output[-1500:]
    record = await site.stack.wait_record(
        lambda r: r.caller_number == "0612000999" and r.ended_at is not None
    )
    assert record.route == "message" and record.operator is None and record.answered_at is None
    assert record.outcome == "message-left"
    giorgio = row(desk, "Giorgio Neri")
    await expect(giorgio).to_be_visible(timeout=20_000)  # no reload
    await expect(giorgio).to_contain_text("messaggio lasciato")
    await expect(desk.locator("#calls tbody tr").first).to_contain_text("Giorgio Neri")
    await expect(desk.locator("#unread")).to_have_text("1")
    await desk.goto(f"{site.url}/settings")
    await desk.click("#override-clear")
    await expect(desk.locator("#override")).to_contain_text("Come sempre")
    await desk.goto(f"{site.url}/audit")
    await expect(desk.locator("main")).to_contain_text("override.set")
    await expect(desk.locator("main")).to_contain_text("override.clear")


async def no_sideways_scroll(page: Page) -> None:
    wide = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert wide[0] <= wide[1], f"the page is {wide[0]} px wide in a {wide[1]} px window"


async def test_the_layout_on_a_phone_and_on_a_desk(
    browser: Browser, desk: Page, site: Site
) -> None:
    await desk.goto(f"{site.url}/calls")
    await expect(desk.locator("#calls thead")).to_be_visible()  # a table on a desk
    await no_sideways_scroll(desk)
    await desk.screenshot(path=str(site.out / "area-desk.png"), full_page=True)
    state = await desk.context.storage_state()  # the same login, on the user's phone
    phone: BrowserContext = await browser.new_context(
        viewport={"width": 375, "height": 812}, locale="it-IT", is_mobile=True,
        has_touch=True, storage_state=state,
    )  # fmt: skip
    try:
        page = await phone.new_page()
        for path in ("calls", "dashboard", "settings", "account"):
            await page.goto(f"{site.url}/{path}")
            await expect(page.locator("#client")).to_be_visible()
            await no_sideways_scroll(page)
        await page.goto(f"{site.url}/calls")
        await expect(page.locator("#calls thead")).to_be_hidden()  # one card per call
        cards = page.locator("#calls tbody tr")
        await expect(cards).to_have_count(4)
        boxes = [await cards.nth(n).bounding_box() for n in range(2)]
        assert boxes[0] and boxes[1] and boxes[0]["width"] > 300  # the card spans the screen
        assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"] - 1  # stacked, not columns
        await page.screenshot(path=str(site.out / "area-phone.png"), full_page=True)
    finally:
        await phone.close()
    for name in ("area-desk.png", "area-phone.png"):
        assert (site.out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"screenshot: {site.out / name}")
