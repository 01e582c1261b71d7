"""The campaigns' end-to-end rig: a real Asterisk and `ivr serve` (one per test module), the
contacts' phones behind the trunk (contacts.xml, by number), the operators' phones, and the
operators at the console over HTTP, as a person's browser would be."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest_asyncio
from sqlalchemy import select

from ivr.asterisk.render import Trunk
from ivr.campaigns import floor, importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Attempt, Contact, Refusal
from ivr.control import bearer
from ivr.harness.console_client import ConsoleClient
from ivr.harness.sipp.contacts import ContactPhones, contact_number
from ivr.harness.stack import AmiEvents, Stack, poll, stack_settings
from ivr.portal import portal_password
from ivr.routing import load_rules

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
TRUNK = "127.0.0.2"
ROME = ZoneInfo("Europe/Rome")


def floor_morning(real: datetime) -> datetime:
    """The next 10:00 in Rome on a weekday that is no national holiday: from then on, for
    hours, the legal floor allows every kind of campaign call (whatever day the suite runs)."""
    local = real.astimezone(ROME)
    day = local.date() if local.time() < time(10) else local.date() + timedelta(days=1)
    while day.weekday() >= 5 or floor.national_holiday(day) is not None:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), ROME)


# The engines' clock runs at the real pace from that morning (IVR_CLOCK_START at each start).
_REAL = datetime.now(UTC)
OFFSET = floor_morning(_REAL) - _REAL


def now() -> datetime:
    """The engines' time now."""
    return datetime.now(UTC) + OFFSET


class FloorStack(Stack):
    """A stack whose engine (at every start, and a second engine's copy of its environment)
    keeps the rig's clock unless a test set its own moment."""

    def engine_env(self) -> dict[str, str]:
        env = super().engine_env()
        env.setdefault("IVR_CLOCK_START", now().isoformat())
        return env


def number(kind: int, n: int) -> str:
    """A contact's number as a list writes it: 06, behaviour 71..77 (contacts.py), then n."""
    return contact_number(kind, n)


def e164(kind: int, n: int) -> str:
    return f"+39{number(kind, n)}"


class Desk(ConsoleClient):
    """An operator at the console, logged in over HTTP."""

    def __init__(self, stack: Stack, operator: str, http_port: int | None = None) -> None:
        super().__init__(stack.settings, operator, http_port)
        self.stack = stack

    async def login(self) -> str:
        page = await super().login()
        assert 'id="state"' in page, page[-500:]
        return page


@dataclass
class Rig:
    stack: Stack
    phones: ContactPhones
    desks: dict[str, Desk] = field(default_factory=dict)

    @property
    def sessions(self) -> Any:
        return self.stack.sessions

    def campaign(self, campaign_id: str) -> Campaign:
        rules = load_rules(self.stack.settings.rules)
        found = load_campaigns(self.stack.settings.rules, rules, self.stack.settings).get(
            campaign_id
        )
        assert found is not None
        return found

    async def new_desks(self) -> None:
        """A new engine knows no login: the operators log in again."""
        for desk in self.desks.values():
            await desk.close()
        self.desks.clear()

    async def desk(self, operator: str) -> Desk:
        if operator not in self.desks:
            desk = Desk(self.stack, operator)
            await desk.login()
            self.desks[operator] = desk
        return self.desks[operator]

    async def add_contacts(
        self, campaign_id: str, header: list[str], rows: list[list[str]], name: str = "list.csv"
    ) -> lists.ImportSummary:
        campaign = self.campaign(campaign_id)
        if campaign.own_customers and "customer_until" not in header:
            # the client's customers until today: exempt from the register for a while yet
            today = now().astimezone(ROME).date().isoformat()
            header, rows = [*header, "customer_until"], [[*row, today] for row in rows]
        parsed = importer.parse_rows(campaign.kind, header, enumerate(rows, start=2))
        assert not parsed.bad, parsed.bad
        return await lists.import_contacts(self.sessions, campaign, parsed, name, now())

    async def start(self, campaign_id: str) -> None:
        await store.set_status(self.sessions, campaign_id, store.RUNNING, now(), "test")
        await self.wake()

    async def stop(self, campaign_id: str) -> None:
        await store.set_status(self.sessions, campaign_id, store.STOPPED, now(), "test")

    async def wake(self) -> None:
        s = self.stack.settings
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"http://{s.bind}:{s.ports.http}/campaigns/wake", headers=bearer(s.control_token)
            ) as response:
                assert response.status == 200

    async def attempts(self, campaign_id: str) -> list[Attempt]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(Attempt).where(Attempt.campaign_id == campaign_id).order_by(Attempt.id)
                )
            )

    async def contacts(self, campaign_id: str) -> list[Contact]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.id)
                )
            )

    async def refusals(self, campaign_id: str) -> list[Refusal]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(Refusal).where(Refusal.campaign_id == campaign_id).order_by(Refusal.id)
                )
            )

    async def wait_attempts(
        self, campaign_id: str, done: Callable[[list[Attempt]], bool], timeout: float = 60.0
    ) -> list[Attempt]:
        try:
            return await poll(lambda: self.attempts(campaign_id), done, timeout, "attempts")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.stack.log_tail()}") from None

    async def wait_contacts(
        self, campaign_id: str, done: Callable[[list[Contact]], bool], timeout: float = 60.0
    ) -> list[Contact]:
        try:
            return await poll(lambda: self.contacts(campaign_id), done, timeout, "contacts")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.stack.log_tail()}") from None

    async def idle(self, timeout: float = 60.0) -> None:
        """Every campaign call has ended and no operator is held (between tests)."""

        async def read() -> tuple[int, dict[str, Any]]:
            async with self.sessions() as session:
                open_calls = len(
                    list(
                        await session.scalars(select(Attempt.id).where(Attempt.ended_at.is_(None)))
                    )
                )
            status = await asyncio.to_thread(self.stack.status) or {}
            return open_calls, status.get("campaigns", {}).get("reserved", {"?": 1})

        await poll(read, lambda got: got[0] == 0 and not got[1], timeout, "idle campaigns")


@contextlib.asynccontextmanager
async def console_page(rig: Rig, user: str, *args: str) -> AsyncIterator[Any]:
    """Debian's Chromium (with `args`) on a page logged into the console as `user`, in
    Italian, as the center's operators and supervisor use it."""
    from playwright.async_api import async_playwright

    s = rig.stack.settings
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", *args]
        )
        try:
            page = await browser.new_page(locale="it-IT")
            await page.goto(f"http://{s.bind}:{s.ports.http}/console/login")
            await page.fill("#user", user)
            await page.fill("#password", portal_password(s, user))
            await page.click("#login")
            yield page
        finally:
            await browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: Any, asterisk_available: None) -> AsyncIterator[Rig]:
    tmp = tmp_path_factory.mktemp("campaigns")
    phones = ContactPhones(tmp / "work")
    settings = stack_settings(tmp, RULES)
    stack = FloorStack(settings, tmp / "work", trunk=Trunk(TRUNK, phones.port))
    stack.extra_env["IVR_WRAPUP_SECONDS"] = "2"
    phones.start()
    rig = Rig(stack, phones)
    try:
        await stack.start()
        await stack.phone("op1", ring_ms=300)
        await stack.phone("op2", ring_ms=300)
        await stack.phone("op3", ring_ms=5000)
        yield rig
    finally:
        for desk in rig.desks.values():
            await desk.close()
        await stack.close()
        phones.stop()


__all__ = ["AmiEvents", "ContactPhones", "Desk", "FloorStack", "Rig", "e164", "now", "number"]
