"""Amounts recovered: the client confirms what was actually paid against each promise to pay
(in its area, or with a file of payments); only confirmed amounts are billed. A confirmation
may be corrected; every change is in the audit log."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.billing import audit
from ivr.billing.models import Payment
from ivr.billing.results import counted
from ivr.billing.terms import PAID
from ivr.campaigns.importer import ImportError_, csv_rows, parse_day, parse_money
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Attempt, Contact
from ivr.dialpolicy import NumberError, normalise
from ivr.i18n import tr

Sessions = async_sessionmaker[AsyncSession]
MAX_AMOUNT = Decimal("999999999.99")
COLUMNS = {
    "invoice": ("invoice", "fattura", "riferimento", "reference", "rif"),
    "number": ("number", "numero", "telefono", "phone"),
    "amount": ("amount", "importo", "pagato", "paid", "somma"),
    "paid_on": ("paid_on", "paid on", "data", "date", "pagato il", "data pagamento"),
}


@dataclass
class Promise:
    attempt_id: int
    campaign_id: str
    label: str
    invoice: str | None
    promised: Decimal | None
    promise_date: date | None
    payment: Payment | None


@dataclass
class ImportReport:
    confirmed: int = 0
    changed: int = 0
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # line, column, reason


async def promises(sessions: Sessions, campaigns: list[Campaign], client_id: str) -> list[Promise]:
    """Every promise to pay of the client's campaigns billed on payments, with its payment."""
    ids = counted([c for c in campaigns if c.client_id == client_id], PAID)
    if not ids:
        return []
    async with sessions() as session:
        rows = await session.execute(
            select(Attempt, Contact, Payment)
            .join(Contact, Contact.id == Attempt.contact_id)
            .outerjoin(Payment, Payment.attempt_id == Attempt.id)
            .where(Attempt.campaign_id.in_(ids), Attempt.client_id == client_id,
                   Attempt.outcome == "promise")
            .order_by(Attempt.promise_date, Attempt.id)
        )  # fmt: skip
        return [
            Promise(a.id, a.campaign_id, c.debtor or c.name, c.invoice, a.promise_amount,
                    a.promise_date, p)
            for a, c, p in rows
        ]  # fmt: skip


def check(amount: Decimal, paid_on: date, promised_at: datetime | None, today: date,
          lang: str) -> str | None:  # fmt: skip
    """Why this confirmation cannot be taken (None: it can)."""
    if not Decimal(0) < amount <= MAX_AMOUNT:
        return tr(lang, "The amount paid is more than 0.")
    if paid_on > today:
        return tr(lang, "The day of payment cannot be in the future.")
    if promised_at is not None and paid_on < promised_at.date():
        return tr(lang, "The day of payment is before the promise was made.")
    return None


async def confirm(
    session: AsyncSession,
    campaigns: list[Campaign],
    client_id: str,
    attempt_id: int,
    amount: Decimal,
    paid_on: date,
    who: str,
    source: str,
    now: datetime,
    zone: str,
    lang: str = "en",
) -> tuple[str | None, bool]:
    """Confirm (or correct) the payment of one promise, in the caller's transaction:
    (why not, None if done; True if it changed anything)."""
    ids = counted([c for c in campaigns if c.client_id == client_id], PAID)
    attempt = await session.get(Attempt, attempt_id)
    if (attempt is None or attempt.client_id != client_id or attempt.campaign_id not in ids
            or attempt.outcome != "promise"):  # fmt: skip
        return tr(lang, "There is no such promise to pay."), False
    today = now.astimezone(ZoneInfo(zone)).date()
    problem = check(amount, paid_on, attempt.outcome_at, today, lang)
    if problem is not None:
        return problem, False
    row = await session.scalar(select(Payment).where(Payment.attempt_id == attempt_id))
    subject = f"P{row.id}" if row is not None else ""
    if row is not None:
        if row.amount == amount and row.paid_on == paid_on:
            return None, False
        before = {"amount": row.amount, "paid_on": row.paid_on, "by": row.confirmed_by}
        row.amount, row.paid_on, row.confirmed_by = amount, paid_on, who[:255]
        row.confirmed_at, row.source = now, source[:255]
        await audit.record(session, client_id, who, subject, "payment corrected", before,
                           {"amount": amount, "paid_on": paid_on}, now)  # fmt: skip
        return None, True
    row = Payment(client_id=client_id, campaign_id=attempt.campaign_id, attempt_id=attempt.id,
                  contact_id=attempt.contact_id, amount=amount, paid_on=paid_on,
                  confirmed_by=who[:255], confirmed_at=now, source=source[:255])  # fmt: skip
    session.add(row)
    await session.flush()
    await audit.record(
        session, client_id, who, f"P{row.id}", "payment confirmed", None,
        {"amount": amount, "paid_on": paid_on, "promise": attempt.id,
         "promised": attempt.promise_amount, "source": source}, now,
    )  # fmt: skip
    return None, True


async def confirm_one(sessions: Sessions, *args: Any, **kwargs: Any) -> tuple[str | None, bool]:
    try:
        async with sessions.begin() as session:
            return await confirm(session, *args, **kwargs)
    except IntegrityError:  # confirmed by someone else at the same moment: try it as a change
        async with sessions.begin() as session:
            return await confirm(session, *args, **kwargs)


def _column(header: str) -> str | None:
    plain = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    plain = " ".join(plain.lower().replace("_", " ").split())
    for name, aliases in COLUMNS.items():
        if plain in {a.replace("_", " ") for a in aliases}:
            return name
    return None


async def import_payments(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    text: str,
    name: str,
    who: str,
    now: datetime,
    zone: str,
    lang: str = "en",
) -> ImportReport:
    """A file of payments: a row per payment with the invoice (or the debtor's number), the
    amount and the day paid. Each good row confirms its promise; each bad one is reported
    with its line, column and reason, and the good ones are kept."""
    report = ImportReport()
    try:
        header, rows = csv_rows(text, name)
    except ImportError_ as exc:
        report.bad.append((1, "", str(exc)))
        return report
    columns = [_column(h) for h in header]
    if (
        "amount" not in columns
        or "paid_on" not in columns
        or not ("invoice" in columns or "number" in columns)
    ):
        report.bad.append(
            (1, "", tr(lang, "The file needs the columns invoice (or number), amount, paid_on."))
        )
        return report
    index = {c: i for i, c in enumerate(columns) if c is not None}
    matches = await _promises_by_reference(sessions, campaigns, client_id)
    for line, row in rows:
        await _import_row(sessions, campaigns, client_id, line, row, index, matches, report,
                          name, who, now, zone, lang)  # fmt: skip
    return report


async def _import_row(
    sessions: Sessions, campaigns: list[Campaign], client_id: str, line: int, row: list[Any],
    index: dict[str, int], matches: dict[str, int], report: ImportReport, name: str, who: str,
    now: datetime, zone: str, lang: str,
) -> None:  # fmt: skip
    def cell(column: str) -> str:
        i = index.get(column)
        return str(row[i]).strip() if i is not None and i < len(row) and row[i] is not None else ""

    if not any(str(v).strip() for v in row):
        return
    attempt_id = None
    if cell("invoice"):
        attempt_id = matches.get("i:" + cell("invoice").lower())
    if attempt_id is None and cell("number"):
        try:
            attempt_id = matches.get("n:" + normalise(cell("number")))
        except NumberError:
            pass
    if attempt_id is None:
        column = "invoice" if cell("invoice") else "number"
        report.bad.append((line, column, tr(lang, "No promise to pay matches this row.")))
        return
    try:
        amount = parse_money(cell("amount"))
    except ValueError:
        report.bad.append((line, "amount", tr(lang, "Not an amount in euro.")))
        return
    try:
        paid_on = parse_day(cell("paid_on"))
    except ValueError:
        report.bad.append((line, "paid_on", tr(lang, "Not a date (31/12/2026).")))
        return
    problem, changed = await confirm_one(
        sessions, campaigns, client_id, attempt_id, amount, paid_on, who, f"file {name}"[:255],
        now, zone, lang,
    )  # fmt: skip
    if problem is not None:
        report.bad.append((line, "amount", problem))
    elif changed:
        report.confirmed += 1


async def _promises_by_reference(
    sessions: Sessions, campaigns: list[Campaign], client_id: str
) -> dict[str, int]:
    """ "i:<invoice>" and "n:<number>" -> the latest promise's attempt of that contact."""
    out: dict[str, int] = {}
    for promise_row in await _latest_promises(sessions, campaigns, client_id):
        attempt_id, invoice, number = promise_row
        for ref in (invoice or "").split(","):
            if ref.strip():
                out["i:" + ref.strip().lower()] = attempt_id
        out["n:" + number] = attempt_id
    return out


async def _latest_promises(
    sessions: Sessions, campaigns: list[Campaign], client_id: str
) -> Iterable[tuple[int, str | None, str]]:
    ids = counted([c for c in campaigns if c.client_id == client_id], PAID)
    if not ids:
        return []
    async with sessions() as session:
        rows = await session.execute(
            select(Attempt.id, Contact.invoice, Contact.number)
            .join(Contact, Contact.id == Attempt.contact_id)
            .where(Attempt.campaign_id.in_(ids), Attempt.client_id == client_id,
                   Attempt.outcome == "promise")
            .order_by(Attempt.id)
        )  # fmt: skip
        return [(a, i, n) for a, i, n in rows]
