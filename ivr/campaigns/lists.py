"""Contact lists, do-not-call lists and the opposition register's answers, in the database.

import_contacts() writes a parsed list in batches (100,000 rows in a few seconds): new numbers
are inserted, numbers the campaign already has are merged into their contact. apply_register()
records a register check: the numbers found there are refused, the others released, and the
campaign's lists count as checked on that day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ivr.campaigns import eligibility as el
from ivr.campaigns.dialcheck import log_refusal
from ivr.campaigns.importer import Parsed, ParsedContact
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import CENTER, Contact, ContactList, DoNotCall
from ivr.campaigns.privacy import hashed, number_salt
from ivr.campaigns.store import Sessions

log = logging.getLogger(__name__)
BATCH = 5000


@dataclass(frozen=True)
class ImportSummary:
    list_id: int
    rows: int
    added: int
    merged: int  # rows folded into a contact: a duplicate in the file or one already listed
    bad: int


def _chunks(items: list[str], size: int = BATCH) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _values(campaign: Campaign, list_id: int, c: ParsedContact, now: datetime) -> dict[str, object]:
    return {
        "campaign_id": campaign.id,
        "list_id": list_id,
        "number": c.number,
        "name": c.name,
        "zone": c.zone,
        "debtor": c.debtor,
        "amount_due": c.amount_due,
        "due_date": c.due_date,
        "invoice": c.invoice,
        "company": c.company,
        "contact_person": c.contact_person,
        "address": c.address,
        "extra": c.extra,
        "status": el.PENDING,
        "attempts": 0,
        "next_at": now,
        "in_register": False,
    }


async def import_contacts(
    sessions: Sessions,
    campaign: Campaign,
    parsed: Parsed,
    name: str,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Write the good rows of a parsed list; one transaction, so a failure imports nothing."""
    numbers = list(parsed.contacts)
    merged = parsed.merged
    async with sessions.begin() as session:
        listed = ContactList(
            campaign_id=campaign.id, client_id=campaign.client_id, name=name[:255],
            imported_at=now, rows=parsed.rows,
            added=0, merged=0, bad=len(parsed.bad), register_checked_on=None,
        )  # fmt: skip
        session.add(listed)
        await session.flush()
        existing: dict[str, Contact] = {}
        for chunk in _chunks(numbers):
            rows = await session.scalars(
                select(Contact).where(Contact.campaign_id == campaign.id, Contact.number.in_(chunk))
            )
            existing.update({row.number: row for row in rows})
        fresh = [n for n in numbers if n not in existing]
        for number, row in existing.items():
            _merge_into(row, parsed.contacts[number])
            merged += 1
        for chunk in _chunks(fresh):
            await session.execute(
                insert(Contact),
                [_values(campaign, listed.id, parsed.contacts[n], now) for n in chunk],
            )
            if progress is not None:
                progress(len(chunk))
        listed.added, listed.merged = len(fresh), merged
    log.info(
        "campaign %s: list %r imported: %d rows, %d new contacts, %d merged, %d bad",
        campaign.id, name, parsed.rows, len(fresh), merged, len(parsed.bad),
    )  # fmt: skip
    return ImportSummary(listed.id, parsed.rows, len(fresh), merged, len(parsed.bad))


def _merge_into(row: Contact, new: ParsedContact) -> None:
    """A number the campaign has: a new invoice is added to it; empty fields are filled."""
    if row.invoice and new.invoice and new.invoice not in (row.invoice or "").split(", "):
        extra = dict(row.extra or {})
        invoices = list(extra.get("invoices") or [
            {"invoice": row.invoice, "amount": str(row.amount_due or ""),
             "due_date": row.due_date.isoformat() if row.due_date else ""}
        ])  # fmt: skip
        invoices.append(new._invoice())
        extra["invoices"] = invoices
        row.extra = extra
        row.invoice = ", ".join(i["invoice"] for i in invoices)
        row.amount_due = (row.amount_due or Decimal(0)) + (new.amount_due or Decimal(0))
        if new.due_date and (row.due_date is None or new.due_date < row.due_date):
            row.due_date = new.due_date
    for name in ("name", "zone", "debtor", "company", "contact_person", "address"):
        if not getattr(row, name) and getattr(new, name):
            setattr(row, name, getattr(new, name))
    if new.extra:
        row.extra = {**new.extra, **(row.extra or {})}


# -- do-not-call ----------------------------------------------------------------------------


async def add_do_not_call(
    sessions: Sessions, scope: str, numbers: Iterable[str], reason: str, source: str, now: datetime
) -> int:
    """Add numbers (E.164) to a do-not-call list ("*": the center's); returns how many new."""
    added = 0
    for number in dict.fromkeys(numbers):
        try:
            async with sessions.begin() as session:
                found = await session.scalar(
                    select(DoNotCall.id).where(DoNotCall.scope == scope, DoNotCall.number == number)
                )
                if found is None:
                    session.add(DoNotCall(scope=scope, number=number, reason=reason[:2000],
                                          source=source[:255], added_at=now))  # fmt: skip
                    added += 1
        except IntegrityError:
            continue  # added meanwhile by someone else
    return added


async def do_not_call(sessions: Sessions, scope: str | None = None) -> list[DoNotCall]:
    async with sessions() as session:
        query = select(DoNotCall).order_by(DoNotCall.scope, DoNotCall.number)
        if scope is not None:
            query = query.where(DoNotCall.scope == scope)
        return list(await session.scalars(query))


async def on_do_not_call(sessions: Sessions, number: str, client_id: str) -> set[str]:
    async with sessions() as session:
        kept_as = [number, hashed(await number_salt(session), number)]  # erased: its hash
        rows = await session.scalars(
            select(DoNotCall.scope).where(
                DoNotCall.number.in_(kept_as), DoNotCall.scope.in_([CENTER, client_id])
            )
        )
        return set(rows)


# -- the opposition register -------------------------------------------------------------


@dataclass(frozen=True)
class RegisterSummary:
    lists: int
    found: int  # contacts whose number is in the register: never called
    released: int  # contacts refused by an earlier check, no longer in the register
    later: tuple[int, ...] = ()  # lists imported after the check: not stamped with it


class RegisterDateError(ValueError):
    """A register check whose date cannot be right."""


async def apply_register(
    sessions: Sessions,
    campaign: Campaign,
    registered: set[str],
    checked_on: date,
    now: datetime,
    list_ids: list[int] | None = None,
) -> RegisterSummary:
    """The register's answer for the campaign's lists (or the given ones), checked_on a day.

    A check dated in the future is refused (RegisterDateError); a list imported after the
    check is not stamped with it (its numbers were not in what was checked)."""
    zone = el.ZoneInfo(campaign.zone)
    today = now.astimezone(zone).date()
    if checked_on > today:
        raise RegisterDateError(
            f"the register check is dated {checked_on.isoformat()}, after today"
            f" ({today.isoformat()})"
        )
    found = released = 0
    async with sessions.begin() as session:
        query = select(ContactList).where(ContactList.campaign_id == campaign.id)
        if list_ids:
            query = query.where(ContactList.id.in_(list_ids))
        every = list(await session.scalars(query))
        lists = [row for row in every if row.imported_at.astimezone(zone).date() <= checked_on]
        later = [row.id for row in every if row not in lists]
        ids = [row.id for row in lists]
        for row in lists:
            if row.register_checked_on is None or row.register_checked_on <= checked_on:
                row.register_checked_on = checked_on
        contacts = await session.scalars(select(Contact).where(Contact.list_id.in_(ids)))
        for contact in contacts:
            if contact.number in registered:
                if not contact.in_register:
                    found += 1
                contact.in_register = True
                if contact.status == el.PENDING:
                    contact.status, contact.refusal = el.REFUSED, el.REGISTER
                    await log_refusal(
                        session, campaign.id, el.REGISTER,
                        f"in the opposition register (checked {checked_on.isoformat()})", now,
                        contact_id=contact.id, number=contact.number,
                        key=f"{contact.id}|{el.REGISTER}|{checked_on.isoformat()}",
                    )  # fmt: skip
            elif contact.in_register:
                contact.in_register = False
                if contact.status == el.REFUSED and contact.refusal == el.REGISTER:
                    contact.status, contact.refusal = el.PENDING, None
                    released += 1
    return RegisterSummary(len(ids), found, released, tuple(later))
