"""The billing tests' world: a migrated SQLite database, the campaigns of tests/billing/rules
(acme: appointments in graduated bands with verification, reminders at a percentage of the
amount recovered, sales in volume bands; bravo: appointments), and helpers that write the
campaigns' rows (contacts, calls, appointments, promises) as the dialer and console would.
A module of its own name: every conftest.py is imported as "conftest"."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ivr import config
from ivr.billing import statement
from ivr.billing.results import Month
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Attempt, Contact, ContactList
from ivr.records import db
from ivr.routing import load_rules
from ivr.routing.model import Rules

RULES = Path(__file__).resolve().parent / "rules"
ROME = ZoneInfo("Europe/Rome")
MARCH = Month(2027, 3)
APRIL = Month(2027, 4)


def rome(day: int, hour: int = 10, month: int = 3, year: int = 2027) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=ROME)


@dataclass
class World:
    settings: config.Settings
    rules: Rules
    campaigns: list[Campaign]
    sessions: Any
    engine: Any
    now: datetime = field(default_factory=lambda: rome(5, 12, month=4))
    _lists: dict[str, int] = field(default_factory=dict)
    _numbers: Any = field(default_factory=lambda: itertools.count(1))

    def campaign(self, campaign_id: str) -> Campaign:
        return next(c for c in self.campaigns if c.id == campaign_id)

    async def contact(self, campaign_id: str, **fields: Any) -> int:
        campaign = self.campaign(campaign_id)
        n = next(self._numbers)
        async with self.sessions.begin() as session:
            if campaign_id not in self._lists:
                listed = ContactList(
                    campaign_id=campaign_id, client_id=campaign.client_id, name="list.csv",
                    imported_at=rome(1, 9), rows=0, added=0, merged=0, bad=0,
                    register_checked_on=None,
                )  # fmt: skip
                session.add(listed)
                await session.flush()
                self._lists[campaign_id] = listed.id
            values: dict[str, Any] = {
                "name": f"Contatto {n}", "number": fields.pop("number", f"+39061230{n:04d}"),
                "extra": {}, "status": "done", "attempts": 1, "next_at": rome(1, 9),
                "in_register": False,
            }  # fmt: skip
            values.update(fields)
            row = Contact(campaign_id=campaign_id, list_id=self._lists[campaign_id], **values)
            session.add(row)
            await session.flush()
            return row.id

    async def call(
        self, campaign_id: str, contact_id: int, at: datetime, operator: str, outcome: str,
        **fields: Any,
    ) -> int:  # fmt: skip
        campaign = self.campaign(campaign_id)
        async with self.sessions.begin() as session:
            contact = await session.get(Contact, contact_id)
            assert contact is not None
            made = await session.scalar(
                select(func.count()).where(Attempt.contact_id == contact_id)
            )
            seq = int(made or 0) + 1
            row = Attempt(
                campaign_id=campaign_id, client_id=campaign.client_id, contact_id=contact_id,
                seq=seq, number=contact.number, linkedid=f"cmp-t{contact_id}-{seq}",
                engine="test", mode="progressive", operator=operator, placed_at=at,
                answered_at=at, connected_at=at, ended_at=at + timedelta(minutes=3),
                system_outcome="connected", outcome=outcome, outcome_by=operator,
                outcome_at=at + timedelta(minutes=3),
                recording_path=f"{self.settings.run_dir}/recordings/{campaign_id}/{contact_id}.wav",
                data={}, **fields,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            return row.id

    async def appointment(
        self, starts_at: datetime, operator: str = "op1", campaign_id: str = "visits",
        company: str = "", booked_at: datetime | None = None,
    ) -> int:  # fmt: skip
        n = next(self._numbers)
        contact_id = await self.contact(campaign_id, company=company or f"Bar {n}",
                                        contact_person=f"Titolare {n}",
                                        address=f"Via Roma {n}")  # fmt: skip
        booked = booked_at or starts_at - timedelta(days=7)
        attempt_id = await self.call(campaign_id, contact_id, booked, operator, "appointment")
        campaign = self.campaign(campaign_id)
        async with self.sessions.begin() as session:
            row = Appointment(
                client_id=campaign.client_id, campaign_id=campaign_id, attempt_id=attempt_id,
                contact_id=contact_id, salesperson=next(iter(campaign.salespeople)),
                starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
                address=f"Via Roma {n}", booked_by=operator, booked_at=booked,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            attempt = await session.get(Attempt, attempt_id)
            assert attempt is not None
            attempt.appointment_id = row.id
            return row.id

    async def promise(self, amount: str, at: datetime, invoice: str = "", operator: str = "op1",
                      number: str | None = None) -> int:  # fmt: skip
        n = next(self._numbers)
        fields: dict[str, Any] = {"debtor": f"Debitore {n}", "invoice": invoice or f"F-{n}",
                                  "amount_due": Decimal(amount)}  # fmt: skip
        if number:
            fields["number"] = number
        contact_id = await self.contact("debts", **fields)
        return await self.call("debts", contact_id, at, operator, "promise",
                               promise_amount=Decimal(amount),
                               promise_date=(at + timedelta(days=5)).date())  # fmt: skip

    async def sale(self, at: datetime, outcome: str = "sale", operator: str = "op2") -> int:
        contact_id = await self.contact("offers")
        return await self.call("offers", contact_id, at, operator, outcome)

    async def statement(self, month: Month = MARCH, client: str = "acme") -> statement.View:
        return await statement.statement(self.sessions, self.campaigns, client, client.title(),
                                         "Europe/Rome", month, self.now)  # fmt: skip

    async def issue(self, month: Month = MARCH, client: str = "acme") -> statement.View:
        view, _ = await statement.issue(self.sessions, self.campaigns, client, client.title(),
                                        "Europe/Rome", month, "manager", self.now)  # fmt: skip
        return view


async def make_world(tmp_path: Path, db_url: str = "") -> World:
    settings = config.load(
        environ={}, instance="billingtest", home=tmp_path, rules=RULES, ami_secret="x",
        db_url=db_url or f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}", asterisk_root=tmp_path,
        agi_token="t",
    )  # fmt: skip
    await db.upgrade(settings.db_url)
    engine = db.make_engine(settings.db_url)
    rules = load_rules(RULES)
    campaigns = list(load_campaigns(RULES, rules, settings).by_id.values())
    return World(settings, rules, campaigns, db.session_factory(engine), engine)


def day(text: str) -> date:
    return date.fromisoformat(text)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
