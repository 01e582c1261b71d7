"""The dialer's pacing modes side by side: preview, progressive and ratio, through the real
Asterisk, the engine, sipp contacts and sipp operator phones, in interleaved rounds.

Contacts answer after a random delay (some never) and talk a random time; the operators'
phones answer at once; each operator is at the console (preview: reads the card for a moment,
then presses call). Printed per mode: operator occupancy (talk time / logged-in time), the
wait between one call and the next (p50, p99), the drop rate (dropped / answered), contacts
talked to per operator-hour, and CPU seconds. Figures only: nothing asserts on time.

The day's drop budget (3 % of the answered calls) would let a ratio campaign dial ahead only
after its first ~35 answered calls of the day; each mode's campaign starts with the same
earlier part of the day (--history answered calls, no drop), as a campaign that has been
running since the morning has.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select

from bench.calls import cpu_seconds, percentile
from ivr.asterisk.render import Trunk
from ivr.campaigns import floor, importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.models import Attempt, Contact
from ivr.control import bearer
from ivr.harness.console_client import ConsoleClient
from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import sipp_binary
from ivr.harness.stack import Stack, stack_settings
from ivr.routing import load_rules

HERE = Path(__file__).resolve().parent
RULES = HERE / "dialer_rules"
TRUNK = "127.0.0.2"
MODES = ("preview", "progressive", "ratio", "predictive")
# The bench's client's own customers until today: no register check needed for them.
HEADER = ["numero", "nome", "customer_until"]


# The engine's clock runs from a moment the legal floor allows calls for hours (10:00 in Rome
# on the next weekday that is no national holiday), whatever day the bench runs.
OFFSET = timedelta(0)


def floor_morning(real: datetime) -> datetime:
    rome = ZoneInfo("Europe/Rome")
    local = real.astimezone(rome)
    day = local.date() if local.time() < time(10) else local.date() + timedelta(days=1)
    while day.weekday() >= 5 or floor.national_holiday(day) is not None:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), rome)


def now() -> datetime:
    """The engine's time now."""
    return datetime.now(UTC) + OFFSET


def TODAY() -> str:  # noqa: N802 - a column's value, read like a constant
    return now().astimezone(ZoneInfo("Europe/Rome")).date().isoformat()


class Desk(ConsoleClient):
    def __init__(self, stack: Stack, operator: str) -> None:
        super().__init__(stack.settings, operator)
        self.page: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Logged in with the console's page open, as an operator at work has it: its event
        stream connected (without one the engine pauses the operator after
        console_gone_seconds, and every later round had nobody to call for)."""
        await self.login()
        self.page = asyncio.create_task(self._stream())

    async def _stream(self) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(
                    f"{self.base}/events", timeout=aiohttp.ClientTimeout(total=None)
                ) as response:
                    async for _ in response.content:
                        pass
            await asyncio.sleep(1.0)  # the page's EventSource reconnects so

    async def close(self) -> None:
        if self.page is not None:
            self.page.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.page
        await super().close()

    async def preview_clicker(self, read_seconds: float) -> None:
        """Reads each preview card for a moment, then presses call (until cancelled)."""
        while True:
            _, page = await self.get("/panel")
            if 'id="call"' in page:
                await asyncio.sleep(read_seconds)  # the operator reads the card
                await self.post("/campaign/call", {})
            await asyncio.sleep(0.2)  # how often the console is looked at


@dataclass
class Figures:
    mode: str
    seconds: float = 0.0
    operators: int = 0
    placed: int = 0
    answered: int = 0
    connected: int = 0
    dropped: int = 0
    talk: float = 0.0
    waits: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def add(self, other: Figures) -> None:
        for name in ("seconds", "placed", "answered", "connected", "dropped", "talk", "cpu"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.operators = other.operators
        self.waits += other.waits

    @property
    def occupancy(self) -> float:
        return self.talk / (self.operators * self.seconds) if self.seconds else 0.0

    @property
    def per_operator_hour(self) -> float:
        return self.connected / (self.operators * self.seconds / 3600) if self.seconds else 0.0


def contact_rows(rng: random.Random, count: int, serial: int) -> list[list[str]]:
    rows = []
    for n in range(count):
        delay = 0 if rng.random() < 0.2 else rng.randint(1, 6)  # a fifth never answer
        talk = rng.randint(5, 12)
        rows.append([f"068{delay}{talk:02d}{serial + n:05d}", f"Contatto {serial + n}", TODAY()])
    return rows


async def seed_history(stack: Stack, campaign: Any, answered: int, rng: random.Random) -> None:
    """The earlier part of the day: answered calls like this afternoon's, none dropped."""
    when = now() - timedelta(hours=1)
    rows = [[f"02{8000000 + n}", f"Mattina {n}", TODAY()] for n in range(answered)]
    parsed = importer.parse_rows(campaign.kind, HEADER, enumerate(rows, start=2))
    summary = await lists.import_contacts(stack.sessions, campaign, parsed, "morning", when)
    async with stack.sessions.begin() as session:
        contacts = await session.scalars(select(Contact).where(Contact.list_id == summary.list_id))
        for n, contact in enumerate(contacts):
            contact.status, contact.attempts = "done", 1
            # Put to an operator a second after the answer: a call connected more than 3 s
            # after it is abandoned as the authority counts it (floor.abandoned), and a
            # history of those would shut the modes that dial ahead down to progressive.
            answered = when + timedelta(seconds=rng.randint(1, 6))
            session.add(Attempt(
                campaign_id=campaign.id, client_id=campaign.client_id, contact_id=contact.id,
                seq=1, number=contact.number, linkedid=f"cmp-morning-{campaign.id}-{n}",
                engine="morning", mode=campaign.mode, placed_at=when, answered_at=answered,
                connected_at=answered + timedelta(seconds=1),
                ended_at=answered + timedelta(seconds=1 + rng.randint(5, 12)),
                system_outcome="connected", data={},
            ))  # fmt: skip


async def measure(stack: Stack, campaign_id: str, t0: datetime, t1: datetime, ops: int) -> Figures:
    async with stack.sessions() as session:
        rows = list(await session.scalars(
            select(Attempt).where(Attempt.campaign_id == campaign_id, Attempt.placed_at >= t0)
        ))  # fmt: skip
    out = Figures(campaign_id.removeprefix("bench-"), (t1 - t0).total_seconds(), ops)
    calls: dict[str, list[tuple[datetime, datetime]]] = {}
    for a in rows:
        out.placed += 1
        out.answered += a.answered_at is not None
        out.dropped += a.dropped_at is not None
        if a.connected_at is not None:
            out.connected += 1
            end = min(a.ended_at or t1, t1)
            out.talk += max(0.0, (end - max(a.connected_at, t0)).total_seconds())
            calls.setdefault(a.operator or "?", []).append((a.connected_at, a.ended_at or t1))
    for spans in calls.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            out.waits.append(max(0.0, (start - end).total_seconds()))
    return out


async def run(args: argparse.Namespace) -> dict[str, Figures]:
    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-dialer-"))
    rng = random.Random(args.seed)
    phones_log = open(tmp / "contacts.log", "wb")  # noqa: SIM115
    contacts_port = free_udp_port(TRUNK)
    uas = subprocess.Popen(  # noqa: S603, ASYNC220 - started once, before the loop's work
        [sipp_binary(), "-sf", str(HERE / "dialer_contacts.xml"), "-i", TRUNK, "-p",
         str(contacts_port), "-mp", str(free_media_port(TRUNK)), "-nostdin"],
        stdin=subprocess.DEVNULL, stdout=phones_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    settings = stack_settings(tmp, RULES, rtp_ports=600)
    stack = Stack(settings, tmp / "work", trunk=Trunk(TRUNK, contacts_port))
    stack.extra_env["IVR_WRAPUP_SECONDS"] = str(args.wrapup)
    global OFFSET
    real = datetime.now(UTC)
    OFFSET = floor_morning(real) - real
    stack.extra_env["IVR_CLOCK_START"] = now().isoformat()
    desks: list[Desk] = []
    totals = {mode: Figures(mode) for mode in MODES}
    try:
        await stack.start()
        # The engine's clock started when its process did, a while after CLOCK_START was
        # set: the windows are measured on the engine's own time, read from it.
        status = await asyncio.to_thread(stack.status) or {}
        if status.get("clock"):
            OFFSET = datetime.fromisoformat(status["clock"]) - datetime.now(UTC)
        operators = [f"op{n}" for n in range(1, args.operators + 1)]
        for op in operators:
            await stack.phone(op, ring_ms=100)
            desk = Desk(stack, op)
            await desk.open()
            desks.append(desk)
        rules = load_rules(RULES)
        campaigns = load_campaigns(RULES, rules, settings)
        for mode in MODES:
            await seed_history(stack, campaigns.by_id[f"bench-{mode}"], args.history,
                               random.Random(args.seed))  # fmt: skip
        serial = 0
        engine_pid = stack.engine.pid if stack.engine else 0
        for round_ in range(args.rounds):
            for mode in MODES:
                campaign = campaigns.by_id[f"bench-{mode}"]
                rows = contact_rows(random.Random(args.seed + round_), args.contacts, serial)
                serial += args.contacts
                parsed = importer.parse_rows(campaign.kind, HEADER,
                                             enumerate(rows, start=2))  # fmt: skip
                await lists.import_contacts(stack.sessions, campaign, parsed, f"r{round_}", now())
                clickers = []
                if mode == "preview":
                    clickers = [asyncio.create_task(d.preview_clicker(args.read)) for d in desks]
                cpu0 = cpu_seconds(engine_pid) + cpu_seconds(stack.asterisk.process.pid)  # type: ignore[union-attr]
                t0 = now()
                await store.set_status(stack.sessions, campaign.id, store.RUNNING, t0, "bench")
                await wake(stack)
                await asyncio.sleep(args.seconds)  # the measurement window
                t1 = now()
                await store.set_status(stack.sessions, campaign.id, store.PAUSED, t1, "bench")
                for task in clickers:
                    task.cancel()
                await settle(stack)
                cpu1 = cpu_seconds(engine_pid) + cpu_seconds(stack.asterisk.process.pid)  # type: ignore[union-attr]
                figures = await measure(stack, campaign.id, t0, t1, len(operators))
                figures.cpu = cpu1 - cpu0
                totals[mode].add(figures)
                print(
                    f"  round {round_ + 1} {mode:11}: {figures.connected} talks, "
                    f"occupancy {figures.occupancy:.0%}, {figures.dropped} dropped",
                    flush=True,
                )
                rng.random()
    finally:
        for desk in desks:
            await desk.close()
        await stack.close()
        uas.terminate()
        uas.wait(10)
        phones_log.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    return totals


async def wake(stack: Stack) -> None:
    s = stack.settings
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://{s.bind}:{s.ports.http}/campaigns/wake", headers=bearer(s.control_token)
        ):
            pass


async def settle(stack: Stack, timeout: float = 120.0) -> None:
    """Wait for the calls in progress to end (a paused campaign places no new one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with stack.sessions() as session:
            open_calls = list(await session.scalars(
                select(Attempt.id).where(Attempt.ended_at.is_(None))
            ))  # fmt: skip
        status = await asyncio.to_thread(stack.status) or {}
        if not open_calls and not status.get("campaigns", {}).get("reserved"):
            return
        await asyncio.sleep(0.5)  # polling the rows between two rounds
    raise RuntimeError(f"campaign calls still open after {timeout:.0f} s: the figures would mix")


def report(totals: dict[str, Figures], args: argparse.Namespace) -> None:
    print(f"{args.operators} operators, {args.rounds} x {args.seconds:.0f} s per mode, "
          f"wrap-up {args.wrapup} s, preview read time {args.read} s; contacts answer after"
          f" 1-6 s (a fifth never), talk 5-12 s")  # fmt: skip
    print(
        f"{'mode':12} {'occupancy':>9} {'wait p50':>9} {'wait p99':>9} {'drop rate':>10} "
        f"{'talks/op-h':>11} {'calls':>6} {'answered':>9} {'dropped':>8} {'CPU s':>7}"
    )
    base = totals["progressive"].occupancy or 1.0
    for mode, f in totals.items():
        drop = f.dropped / f.answered if f.answered else 0.0
        print(
            f"{mode:12} {f.occupancy:>8.0%} {percentile(f.waits, 50):>8.1f}s "
            f"{percentile(f.waits, 99):>8.1f}s {drop:>9.1%} {f.per_operator_hour:>11.0f} "
            f"{f.placed:>6} {f.answered:>9} {f.dropped:>8} {f.cpu:>7.1f}"
            f"   ({f.occupancy / base:.2f}x progressive)"
        )


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench dialer")
    parser.add_argument("--operators", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=60.0, help="per mode and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--contacts", type=int, default=200, help="imported per mode and round")
    parser.add_argument("--wrapup", type=int, default=1, help="seconds after each call")
    parser.add_argument("--read", type=float, default=2.0, help="preview: seconds on the card")
    parser.add_argument("--history", type=int, default=300, help="answered calls earlier today")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the logs and the database")
    args = parser.parse_args(argv)
    totals = asyncio.run(run(args))
    report(totals, args)
    idle = [mode for mode, f in totals.items() if not f.placed or not f.connected]
    if idle:  # a mode that placed or connected nothing measured nothing: the bench is broken
        raise SystemExit(f"bench dialer: no call placed and connected in {', '.join(idle)}")
