"""A month's results, read from the campaigns' own rows: what each earned from, and what
became of it (verified, contested, credited). Storage only: no protocol here.

A result is named by a key: "A12" an appointment (counted in the month of its date, once its
time has passed), "S34" a sale or an interested contact (the attempt with that outcome,
counted in the month the operator recorded it), "P5" a payment the client confirmed against a
promise to pay (counted in the month it was paid). Months are calendar months in the client's
time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr import bounds
from ivr.billing.models import Contest, Payment, Verification
from ivr.billing.terms import APPOINTMENT, INTERESTED, PAID, SALE
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Attempt, Contact

PREFIX = {APPOINTMENT: "A", SALE: "S", INTERESTED: "S", PAID: "P"}
_KEY = re.compile(r"^([ASP])([0-9]{1,12})$")
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
# What became of a result.
BILLABLE, UPCOMING, NOT_HELD, CREDITED = "billable", "upcoming", "not-held", "credited"
GIVEN_UP = {"refused": "refused", "exhausted": "unreachable"}  # a contact's -> a verification's


def parse_key(key: str) -> tuple[str, int] | None:
    found = _KEY.match(key or "")
    number = bounds.row_id(found.group(2)) if found else None
    return None if found is None or number is None else (found.group(1), number)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        found = _MONTH.match((text or "").strip())
        if found is None or not bounds.year_ok(int(found.group(1))):
            raise ValueError(f"not a month: {text!r} (YYYY-MM, 2000 to 2199)")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def containing(cls, at: datetime, zone: str) -> Month:
        return cls.of(at.astimezone(ZoneInfo(zone)).date())

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, zone: str) -> datetime:
        """Its first instant in the client's time zone."""
        return datetime.combine(self.first, time(0), ZoneInfo(zone))

    def end(self, zone: str) -> datetime:
        return self.next().start(zone)

    def day(self, n: int, zone: str, hour: int = 0) -> datetime:
        """Day n of the month (clamped to its last) at hour, in the zone."""
        last = (self.next().first - timedelta(days=1)).day
        return datetime.combine(date(self.year, self.month, min(n, last)), time(hour),
                                ZoneInfo(zone))  # fmt: skip


@dataclass
class Result:
    key: str
    kind: str  # appointment, sale, interested, paid
    campaign_id: str
    client_id: str
    at: datetime  # puts it in its month, and in order within the month
    label: str  # who it is about, as the statement shows it
    attempt_id: int  # the call that got it
    operator: str | None
    amount: Decimal | None = None  # recovered: a payment confirmed
    promised: Decimal | None = None
    paid_on: date | None = None
    starts_at: datetime | None = None  # an appointment's
    ends_at: datetime | None = None
    salesperson: str | None = None
    address: str | None = None
    recording: str | None = None  # the booking call's
    notes: str | None = None
    verification: Verification | None = None
    contest: Contest | None = None
    status: str = BILLABLE
    # The verification's state as it stands: "pending" becomes "refused" or "unreachable"
    # when its contact will never be called (a do-not-call list, its calls used up).
    check_status: str | None = None

    @property
    def billable(self) -> bool:
        return self.status == BILLABLE


def _label(contact: Contact | None, kind: str) -> str:
    if contact is None:
        return ""
    if kind == APPOINTMENT:
        return " - ".join(p for p in (contact.company, contact.contact_person) if p) or contact.name
    if kind == PAID:
        who = contact.debtor or contact.name
        return f"{who} ({contact.invoice})" if contact.invoice else who
    return contact.name


def counted(campaigns: list[Campaign], what: str) -> list[str]:
    return [c.id for c in campaigns if c.billing is not None and what in c.billing.counts]


async def gather(
    session: AsyncSession,
    campaigns: list[Campaign],
    client_id: str,
    month: Month,
    zone: str,
    now: datetime,
) -> list[Result]:
    """The month's results of the client's billed campaigns, each with its state, in order."""
    start, end = month.start(zone), month.end(zone)
    out: list[Result] = []
    ids = counted(campaigns, APPOINTMENT)
    if ids:
        rows = await session.execute(
            select(Appointment, Attempt, Contact)
            .join(Attempt, Attempt.id == Appointment.attempt_id)
            .join(Contact, Contact.id == Appointment.contact_id)
            .where(Appointment.campaign_id.in_(ids), Appointment.client_id == client_id,
                   Appointment.starts_at >= start, Appointment.starts_at < end)
        )  # fmt: skip
        for appointment, attempt, contact in rows:
            out.append(
                Result(
                    f"A{appointment.id}", APPOINTMENT, appointment.campaign_id, client_id,
                    appointment.starts_at, _label(contact, APPOINTMENT), attempt.id,
                    appointment.booked_by, starts_at=appointment.starts_at,
                    ends_at=appointment.ends_at, salesperson=appointment.salesperson,
                    address=appointment.address, recording=attempt.recording_path,
                    notes=attempt.notes,
                )
            )  # fmt: skip
    for what in (SALE, INTERESTED):
        ids = counted(campaigns, what)
        if not ids:
            continue
        sales = await session.execute(
            select(Attempt, Contact)
            .join(Contact, Contact.id == Attempt.contact_id)
            .where(Attempt.campaign_id.in_(ids), Attempt.client_id == client_id,
                   Attempt.outcome == what, Attempt.outcome_at >= start,
                   Attempt.outcome_at < end)
        )  # fmt: skip
        for attempt, contact in sales:
            assert attempt.outcome_at is not None
            out.append(
                Result(f"S{attempt.id}", what, attempt.campaign_id, client_id, attempt.outcome_at,
                       _label(contact, what), attempt.id, attempt.outcome_by,
                       recording=attempt.recording_path, notes=attempt.notes)
            )  # fmt: skip
    ids = counted(campaigns, PAID)
    if ids:
        paid = await session.execute(
            select(Payment, Attempt, Contact)
            .join(Attempt, Attempt.id == Payment.attempt_id)
            .join(Contact, Contact.id == Payment.contact_id)
            .where(Payment.campaign_id.in_(ids), Payment.client_id == client_id,
                   Payment.paid_on >= month.first, Payment.paid_on < month.next().first)
        )  # fmt: skip
        for payment, attempt, contact in paid:
            at = datetime.combine(payment.paid_on, time(12), ZoneInfo(zone))
            out.append(
                Result(f"P{payment.id}", PAID, payment.campaign_id, client_id, at,
                       _label(contact, PAID), attempt.id, attempt.outcome_by,
                       amount=payment.amount, promised=attempt.promise_amount,
                       paid_on=payment.paid_on, recording=attempt.recording_path,
                       notes=attempt.notes)
            )  # fmt: skip
    await _states(session, client_id, out, now)
    out.sort(key=lambda r: (r.campaign_id, r.at, r.key))
    return out


async def _states(
    session: AsyncSession, client_id: str, found: list[Result], now: datetime
) -> None:
    appointments = [int(r.key[1:]) for r in found if r.kind == APPOINTMENT]
    checks = {}
    if appointments:
        checks = {
            v.appointment_id: v
            for v in await session.scalars(
                select(Verification).where(Verification.appointment_id.in_(appointments))
            )
        }
    contests = {
        c.result_key: c
        for c in await session.scalars(
            select(Contest).where(Contest.client_id == client_id,
                                  Contest.result_key.in_([r.key for r in found]))
        )
    }  # fmt: skip
    called: dict[int, str] = {}
    if checks:
        called = dict(
            (
                await session.execute(
                    select(Contact.id, Contact.status).where(
                        Contact.id.in_([c.contact_id for c in checks.values() if c.contact_id])
                    )
                )
            ).all()
        )
    for result in found:
        if result.kind == APPOINTMENT:
            result.verification = check = checks.get(int(result.key[1:]))
            if check is not None:
                contact_status = called.get(check.contact_id or 0, "")
                result.check_status = check.status
                if check.status == "pending" and contact_status in GIVEN_UP:
                    result.check_status = GIVEN_UP[contact_status]
        result.contest = contests.get(result.key)
        result.status = state_of(result, now)


def state_of(result: Result, now: datetime) -> str:
    """Credited by a decision; not yet held (its time to come); not held as a verification
    call found (unless the center decided a contest on it stays billed); else billable."""
    contest, check = result.contest, result.verification
    if contest is not None and contest.status == "credited":
        return CREDITED
    if result.ends_at is not None and result.ends_at > now:
        return UPCOMING
    kept = contest is not None and contest.status == "rejected"
    if check is not None and check.happened is False and not kept:
        return NOT_HELD
    return BILLABLE


async def month_of_key(
    session: AsyncSession, client_id: str, key: str, zone: str
) -> tuple[Month, str] | None:
    """The month a result of this client counts in, and its campaign; None if not its own."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    prefix, number = parsed
    if prefix == "A":
        row = await session.get(Appointment, number)
        if row is None or row.client_id != client_id:
            return None
        return Month.containing(row.starts_at, zone), row.campaign_id
    if prefix == "S":
        attempt = await session.get(Attempt, number)
        if attempt is None or attempt.client_id != client_id or attempt.outcome_at is None:
            return None
        return Month.containing(attempt.outcome_at, zone), attempt.campaign_id
    payment = await session.get(Payment, number)
    if payment is None or payment.client_id != client_id:
        return None
    return Month.of(payment.paid_on), payment.campaign_id


async def find(
    session: AsyncSession,
    campaigns: list[Campaign],
    client_id: str,
    key: str,
    zone: str,
    now: datetime,
) -> tuple[Month, Result] | None:
    """One result of the client, with its state; None if there is no such result of its own."""
    where = await month_of_key(session, client_id, key, zone)
    if where is None:
        return None
    month, _ = where
    for result in await gather(session, campaigns, client_id, month, zone, now):
        if result.key == key:
            return month, result
    return None
