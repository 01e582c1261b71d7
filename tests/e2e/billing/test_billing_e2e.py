"""Paid per result, through the real Asterisk: an appointment campaign is worked by an
operator at the console (contacts behind the trunk are sipp phones, operators' phones sipp
too), the engine's clock is moved past the appointments, the engine draws the month's sample
by itself, the client contests two appointments in its area in a real Chromium, the
verification calls are placed by the same dialer to the other operator (contested ones
first) and recorded, a contest shown wrong questions the other one, the center decides, and
the statement issued with `ivr billing` has the figures the bands say."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from ivr.area import users
from ivr.asterisk.render import Trunk
from ivr.billing.models import Contest, Draw, Verification
from ivr.campaigns import importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.models import Appointment, Attempt
from ivr.control import bearer
from ivr.harness.console_client import ConsoleClient
from ivr.harness.sipp.contacts import ContactPhones, contact_number
from ivr.harness.stack import Stack, poll, stack_settings
from ivr.routing import load_rules

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
RULES = Path(__file__).resolve().parent / "rules"
TRUNK = "127.0.0.2"
BOOKING_CLOCK = "2027-03-01T09:30:00+01:00"  # a Monday: the appointments are that day
VERIFY_CLOCK = "2027-04-06T10:00:00+02:00"  # March is over, and its grace period
EMAIL, PASSWORD = "titolare@acme.example", "una password lunga"


class Desk(ConsoleClient):
    """An operator at the console, over HTTP as a browser would be."""

    def __init__(self, stack: Stack, operator: str) -> None:
        super().__init__(stack.settings, operator)

    async def save(self, data: dict[str, str]) -> tuple[int, str]:
        return await self.post("/campaign/outcome", data)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: Any, asterisk_available: None) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("billing")
    phones = ContactPhones(tmp / "work")
    running = Stack(stack_settings(tmp, RULES), tmp / "work", trunk=Trunk(TRUNK, phones.port))
    running.extra_env.update(IVR_WRAPUP_SECONDS="2", IVR_CLOCK_START=BOOKING_CLOCK,
                             IVR_BILLING_ISSUE_DAY="0")  # fmt: skip
    phones.start()
    try:
        await running.start()
        await running.phone("op1", ring_ms=300)
        await running.phone("op2", ring_ms=300)
        yield running
    finally:
        await running.close()
        phones.stop()


async def attempts(stack: Stack, campaign: str) -> list[Attempt]:
    async with stack.sessions() as session:
        return list(
            await session.scalars(
                select(Attempt).where(Attempt.campaign_id == campaign).order_by(Attempt.id)
            )
        )


async def a_call_to_answer(stack: Stack, campaign: str, done: int) -> Attempt:
    """The next call of the campaign put through to an operator, once `done` are saved."""
    found = await poll(
        lambda: attempts(stack, campaign),
        lambda got: len([a for a in got if a.outcome]) == done
        and any(a.connected_at and not a.outcome for a in got),
        60, f"call {done + 1} of {campaign} put through",
    )  # fmt: skip
    return next(a for a in found if a.connected_at and not a.outcome)


async def ivr(stack: Stack, *argv: str) -> str:
    """The `ivr` command, as a manager runs it on the engine's machine."""
    env = {**os.environ, **stack.engine_env()}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", *argv, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_booked_verified_contested_and_billed(stack: Stack, tmp_path: Path) -> None:
    settings = stack.settings
    campaign = load_campaigns(RULES, load_rules(RULES), settings).by_id["visits"]

    # -- March 1st: op1 books four appointments -------------------------------------------
    desk = Desk(stack, "op1")
    await desk.login()
    # Acme's customers until this month: called without the register check (own customers).
    rows = [[contact_number(76, n), f"Bar {n}", f"Titolare {n}", f"Via Roma {n}", "2027-02-28"]
            for n in range(41, 45)]  # fmt: skip
    header = ["numero", "azienda", "referente", "indirizzo", "customer_until"]
    parsed = importer.parse_rows("appointment", header, enumerate(rows, start=2))
    await lists.import_contacts(stack.sessions, campaign, parsed, "visite.csv",
                                campaign_now())  # fmt: skip
    await store.set_status(stack.sessions, "visits", store.RUNNING, campaign_now(), "test")
    await wake(stack)
    for done in range(4):
        call = await a_call_to_answer(stack, "visits", done)
        panel = await poll(desk.panel, lambda p, c=call: f'name="attempt" value="{c.id}"' in p,
                           30, "the booking form")  # fmt: skip
        slot = re.findall(r'<option value="(giulia\|[^"]+)"', panel)[0]
        status, page = await desk.save(
            {
                "attempt": str(call.id),
                "outcome": "appointment",
                "slot": slot,
                "address": f"Via Roma {41 + done}",
            }
        )
        assert status == 200, page[-600:]
    booked = await poll(lambda: attempts(stack, "visits"),
                        lambda got: len(got) == 4 and all(a.ended_at for a in got), 60,
                        "four booking calls over")  # fmt: skip
    await store.set_status(stack.sessions, "visits", store.STOPPED, campaign_now(), "test")
    await desk.close()
    async with stack.sessions() as session:
        appointments = list(await session.scalars(select(Appointment).order_by(Appointment.id)))
    assert len(appointments) == 4 and {a.booked_by for a in appointments} == {"op1"}
    assert all(a.recording_path and exists(stack, a.recording_path) for a in booked)

    # -- April 6th: the engine draws March's sample by itself ------------------------------
    await stack.stop_engine()
    stack.extra_env["IVR_CLOCK_START"] = VERIFY_CLOCK
    await stack.start_engine()
    found = await poll(draw_of(stack), lambda d: d is not None, 30, "March's draw")
    assert found is not None and found.drawn_by == "the engine" and len(found.drawn) == 3
    ids = [a.id for a in appointments]
    sampled = list(found.drawn)
    left = next(a for a in ids if a not in sampled)
    assert "drawn again from the seed: yes" in await ivr(stack, "verify", "show", "--month",
                                                         "2027-03")  # fmt: skip

    # -- the client contests two appointments in its area, in Chromium -------------------
    await users.add_user(stack.sessions, "acme", EMAIL, PASSWORD, campaign_now(), role="admin")
    area = f"http://{settings.bind}:{settings.ports.http}/area"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"{area}/login")
            await page.fill("#email", EMAIL)
            await page.fill("#password", PASSWORD)
            await page.click("#login")
            await page.goto(f"{area}/billing?month=2027-03")
            await expect(page.locator("#statement")).to_have_attribute("data-total", "240.00")
            await expect(page.locator(".campaign [data-field=band]")).to_contain_text(
                "Fascia 2 raggiunta: ancora 2 appuntamenti per raggiungere la fascia 3"
            )
            for target, note in ((left, "Il titolare dice che nessuno è venuto"),
                                 (sampled[0], "Mai visto il consulente")):  # fmt: skip
                await page.goto(f"{area}/billing?month=2027-03")
                await page.click(f'tr[data-result="A{target}"] a')
                await page.select_option("#reason", "did-not-happen")
                await page.fill("#note", note)
                await page.click("#contest-send")
                await expect(page.locator("#filed")).to_be_visible()
                await expect(page.locator("#contest")).to_have_attribute("data-status", "open")

            # -- the verification calls: op2 only (op1 booked them all), contested first ---
            op1, op2 = Desk(stack, "op1"), Desk(stack, "op2")
            await op1.login()
            await op2.login()
            answers = {left: "yes", sampled[0]: "yes", sampled[1]: "no", sampled[2]: "yes"}
            for done in range(4):
                call = await a_call_to_answer(stack, "visits-verify", done)
                assert call.operator == "op2"
                panel = await poll(op2.panel,
                                   lambda p, c=call: f'name="attempt" value="{c.id}"' in p, 30,
                                   "the verification card")  # fmt: skip
                appointment = int(re.findall(r'data-appointment="(\d+)"', panel)[0])
                status, body = await op2.save({
                    "attempt": str(call.id), "outcome": "verified",
                    "happened": answers[appointment], "spoke_with": "Il titolare",
                    "visited_at": "2027-03-01T11:00", "visit_outcome": "positive",
                    "notes": "gentile",
                })  # fmt: skip
                assert status == 200, body[-600:]
            checked = await poll(lambda: attempts(stack, "visits-verify"),
                                 lambda got: len(got) == 4 and all(a.ended_at for a in got), 60,
                                 "four verification calls over")  # fmt: skip
            await op1.close()
            await op2.close()
            verified = await verification_order(stack, checked)
            assert set(verified[:2]) == {left, sampled[0]}  # the contested ones first
            assert {a.operator for a in checked} == {"op2"}
            assert all(a.recording_path and exists(stack, a.recording_path) for a in checked)

            async with stack.sessions() as session:
                contests = {c.result_key: c for c in await session.scalars(select(Contest))}
            first, second = contests[f"A{left}"], contests[f"A{sampled[0]}"]
            assert first.verdict == "shown-wrong" and second.verdict == "shown-wrong"
            shown_first = first if first.verdict_at <= second.verdict_at else second  # type: ignore[operator]
            other = second if shown_first is first else first
            assert other.questioned_by == shown_first.id  # the other one put in doubt

            # -- the center decides; the statement is issued ----------------------------
            await ivr(stack, "billing", "decide", "acme", str(second.id), "credit", "--by",
                      "direttore", "--note", "per cortesia")  # fmt: skip
            await ivr(stack, "billing", "decide", "acme", str(first.id), "reject", "--by",
                      "direttore")  # fmt: skip
            issued = await ivr(stack, "billing", "issue", "acme", "--month", "2027-03")
            assert "issued: EUR 100.00" in issued
            printed = await ivr(stack, "billing", "statement", "acme", "--month", "2027-03",
                                "--out", str(tmp_path))  # fmt: skip
            # Left (contest rejected) and one sample stay billed: 2 in band 1 at 50 each;
            # one sample was not held, the other contested one was credited.
            assert "TOTAL EUR 100.00" in printed
            assert "Band 1 reached: 1 more appointment to reach band 2" in printed
            assert "results 4, billed 2, contested 2 (open 0), credited 1, not held 1" in printed
            with open(tmp_path / "acme-2027-03.csv", encoding="utf-8-sig") as handle:
                table = list(csv.reader(handle))
            assert table[-1][9] == "100.00"
            report = await ivr(stack, "billing", "disputes", "acme", "--month", "2027-03")
            assert "Shown wrong: the verification call found that the visit took place." in report
            assert "decided: credited by direttore" in report and "verification call " in report

            # The client sees it issued, with the evidence of each result.
            await page.goto(f"{area}/billing?month=2027-03")
            await expect(page.locator("#statement")).to_have_attribute("data-total", "100.00")
            await expect(page.locator("#state")).to_contain_text("Emesso il")
            await page.goto(f"{area}/billing/results/A{sampled[0]}")
            await expect(page.locator("#contest")).to_have_attribute("data-status", "credited")
            await expect(page.locator("#verification-recording")).to_be_attached()
            await expect(page.locator("#booking-recording")).to_be_attached()
        finally:
            await browser.close()
    async with stack.sessions() as session:
        checks = list(await session.scalars(select(Verification)))
    assert {c.appointment_id: c.happened for c in checks} == {
        left: True, sampled[0]: True, sampled[1]: False, sampled[2]: True
    }  # fmt: skip


def campaign_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def exists(stack: Stack, path: str) -> bool:
    return stack.settings.host_path(Path(path)).is_file()


def draw_of(stack: Stack) -> Any:
    async def read() -> Draw | None:
        async with stack.sessions() as session:
            return await session.scalar(select(Draw).where(Draw.client_id == "acme"))

    return read


async def verification_order(stack: Stack, calls: list[Attempt]) -> list[int]:
    """The appointments verified, in the order their calls were placed."""
    async with stack.sessions() as session:
        checks = {
            c.contact_id: c.appointment_id for c in await session.scalars(select(Verification))
        }
    return [checks[a.contact_id] for a in sorted(calls, key=lambda a: a.placed_at)]


async def wake(stack: Stack) -> None:
    s = stack.settings
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://{s.bind}:{s.ports.http}/campaigns/wake", headers=bearer(s.control_token)
        ) as response:
            assert response.status == 200
