"""`ivr demo --campaign`: a short reminder campaign worked between inbound calls.

Real Asterisk, the engine, two operators' phones at the console, the debtors' phones behind
the trunk (they answer, are busy, never answer, hang up), and a caller who rings the client's
line while the campaign runs: the caller gets the next free operator before any new outbound
call. Like `ivr demo`, its moment comes from the rules (the client open, the campaign's window
open: now, or the next time both are) and the engine's clock runs on from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ivr.asterisk.instance import Asterisk
from ivr.asterisk.render import Trunk, render_instance
from ivr.campaigns import floor, importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Attempt
from ivr.config import Settings, operator_password
from ivr.harness.console_client import ConsoleClient
from ivr.harness.demo import EngineFactory, first_moment
from ivr.harness.sipp import Phone, place_calls
from ivr.harness.sipp.contacts import TRUNK, ContactPhones, contact_number
from ivr.records import repo
from ivr.routing import CallInfo, evaluate, load_rules

CAMPAIGN = "demo-solleciti"
CLIENT_NUMBER = "0611111111"  # Rossi Idraulica in the example rules
CALLER = "0612345678"
DEBTORS = [  # behaviour (ivr/harness/sipp/campaign_contacts.xml), debtor, amount
    (76, "Mario Bianchi", "1.250,00"),
    (76, "Lucia Verdi", "310,50"),
    (72, "Paolo Neri", "99,00"),
    (73, "Anna Russo", "45,00"),
    (76, "Marco Gallo", "780,00"),
    (74, "Sara Conti", "12,00"),
]
DEMO_MINUTES = timedelta(minutes=10)
CAMPAIGN_FILE = """# Written by `ivr demo --campaign`: progressive reminders for Rossi Idraulica.
name: Solleciti (demo)
client: rossi-idraulica
kind: reminder
groups: [day]
caller_id: "0611111199"
pacing: {mode: progressive, ring: 6}
attempts: {max: 1}
script: "Buongiorno {debtor}: la fattura {invoice} di {amount} risulta non saldata."
"""


class Operator(ConsoleClient):
    """An operator at the console who notes a promise to pay for each answered debtor."""

    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))  # the engine's

    async def work(self) -> None:
        done: set[str] = set()
        while True:
            _, page = await self.get("/panel")
            found = re.search(r'name="attempt" value="([0-9]+)"', page)  # answered: the form
            if found and found.group(1) not in done:
                done.add(found.group(1))
                promise = (self.clock() + timedelta(days=10)).date().isoformat()
                await self.post("/campaign/outcome", {"attempt": found.group(1),
                                "outcome": "promise", "promise_amount": "100",
                                "promise_date": promise})  # fmt: skip
            await asyncio.sleep(0.5)  # the operator glances at the console


async def run_campaign_demo(settings: Settings, make_engine: EngineFactory) -> int:
    folder = settings.state_dir / "demo-campaign"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(settings.rules, folder / "rules")
    (folder / "rules" / "campaigns" / f"{CAMPAIGN}.yaml").write_text(CAMPAIGN_FILE)
    settings = dataclasses.replace(  # a database of its own: each run starts afresh
        settings, rules=folder / "rules", wrapup_seconds=3,
        db_url=f"sqlite+aiosqlite:///{folder / 'demo.db'}",
    )  # fmt: skip
    campaign = load_campaigns(settings.rules, load_rules(settings.rules), settings).by_id[CAMPAIGN]
    real_start = datetime.now(UTC)
    started = demo_clock_for(settings.rules, campaign, real_start)
    if started != real_start:  # the engine's clock starts there and runs on
        settings = dataclasses.replace(settings, clock_start=started.isoformat())
    phones = ContactPhones(folder / "contacts")
    phones.start()
    render_instance(settings, trunk=Trunk(TRUNK, phones.port))
    asterisk = Asterisk(settings)
    if await asterisk.running():
        await asterisk.stop()
    engine = make_engine(settings)
    desks: list[Operator] = []
    operator_phones: list[Phone] = []
    tasks: list[asyncio.Task[None]] = []
    print("Starting Asterisk, the engine, two operators and the debtors' phones ...")
    await asterisk.start()
    try:
        await engine.start()
        assert engine.services is not None and engine.ami is not None
        await engine.ami.wait_connected(15)
        sessions = engine.services.sessions
        for name in ("op1", "op2"):
            phone = Phone(name, operator_password(settings, name), (settings.bind,
                          settings.ports.sip), folder, ring_ms=300)  # fmt: skip
            operator_phones.append(phone)
            await phone.start()
            desk = Operator(settings, name)
            desk.clock = engine.services.clock
            await desk.login()
            desks.append(desk)
            tasks.append(asyncio.create_task(desk.work()))
        rows = [[contact_number(kind, n), who, amount, "2026-10-31", f"F-{n:03d}"]
                for n, (kind, who, amount) in enumerate(DEBTORS, start=1)]  # fmt: skip
        parsed = importer.parse_rows("reminder", ["numero", "debitore", "importo", "scadenza",
                                                  "fattura"], enumerate(rows, start=2))  # fmt: skip
        await lists.import_contacts(sessions, campaign, parsed, "demo.csv", engine.services.clock())
        print(f"Campaign {CAMPAIGN}: {len(rows)} debtors, progressive, operators op1 and op2")
        await store.set_status(sessions, CAMPAIGN, store.RUNNING, engine.services.clock(), "demo")
        for feature in engine.features:
            if feature.name == "campaigns":
                feature.wake()  # type: ignore[attr-defined]  # the dialer's own
        await asyncio.sleep(4)  # the first debtors are talking to both operators
        print(f"A customer calls Rossi Idraulica ({CLIENT_NUMBER}) while both operators talk")
        result = await place_calls((settings.bind, settings.ports.sip), CLIENT_NUMBER,
                                   caller_num=CALLER, caller_name="Cliente", hold_ms=4000,
                                   timeout=120)  # fmt: skip
        attempts = await _wait_done(sessions, len(rows))
        await asyncio.sleep(1)
        # This run's call only: the reconciliation also rebuilds earlier runs' calls from
        # Asterisk's account, which the instance's run folder keeps.
        inbound = [r for r in await repo.list_calls(sessions, limit=20)
                   if r.caller_number == CALLER and r.when >= real_start]  # fmt: skip
        print()
        zone = campaign.zone
        print(f"{'placed':8} {'debtor':14} {'number':15} {'operator':8} result")
        for a in attempts:
            who = next(d for d in rows if a.number.endswith(d[0].lstrip("0")))[1]
            local = a.placed_at.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S")
            what = a.outcome or a.system_outcome or "in progress"
            print(f"{local:8} {who:14} {a.number:15} {a.operator or '-':8} {what}")
        offset = started - real_start  # the call records keep Asterisk's own (real) times
        for call in inbound:
            answered = (call.answered_at or call.when) + offset
            local = answered.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S")
            print(f"{local:8} inbound call {CALLER} -> Rossi Idraulica, answered by"
                  f" {call.operator}: before any new outbound call of that operator")  # fmt: skip
        print("\nMore: ivr campaign report, and the supervisor's /console/campaigns page.")
        return 0 if result.ok and inbound and len(attempts) == len(rows) else 1
    finally:
        for task in tasks:
            task.cancel()
        for desk in desks:
            await desk.close()
        with contextlib.suppress(Exception):
            await engine.close()
        for phone in operator_phones:
            await phone.stop()
        await asterisk.stop()
        phones.stop()


def demo_clock_for(rules_path: Path, campaign: Campaign, now: datetime) -> datetime:
    """The demo's moment: the client is open to its caller and the campaign may call."""
    rules = load_rules(rules_path)

    def holds(at: datetime) -> bool:
        decision = evaluate(rules, CallInfo(called=CLIENT_NUMBER, caller=CALLER), at)
        # the legal floor too, for the demo's few minutes of calls
        lasts = at + DEMO_MINUTES
        return (
            decision.open
            and campaign.window.is_open(at, campaign.zone, campaign.holidays)
            and floor.refuse(campaign.kind, at, campaign.zone, campaign.ring) is None
            and floor.refuse(campaign.kind, lasts, campaign.zone, campaign.ring) is None
        )

    return first_moment(holds, now, f"{CLIENT_NUMBER} is never open while {campaign.id} may call")


async def _wait_done(sessions: store.Sessions, count: int, timeout: float = 180.0) -> list[Attempt]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    rows: list[Attempt] = []
    while loop.time() < deadline:
        async with sessions() as session:
            rows = list(await session.scalars(
                select(Attempt).where(Attempt.campaign_id == CAMPAIGN).order_by(Attempt.placed_at)
            ))  # fmt: skip
        if len(rows) >= count and all(r.ended_at for r in rows):
            return rows
        await asyncio.sleep(0.5)  # polling the rows until every call has ended
    return rows


__all__ = ["Path", "run_campaign_demo"]
