"""The campaigns' personal data: contacts (numbers, names, companies, addresses, anything of
the list), calls (numbers, operators' notes and form fields, recordings), appointments'
addresses, refusals' numbers. See ivr.privacy.

Rows are made anonymous rather than deleted: an appointment or a promise is also a result a
client was billed for, and a statement must still add up after a contact is erased. What is
personal goes (the number becomes "erased-<id>", never dialled; names, notes and recordings
are removed); what was done, when, by which operator and for how much stays.

Do-not-call lists keep refusing an erased number: its entries are rewritten as the number's
hash, sha256 of the database's own random salt (table number_salt) and the number, and the
dialer looks numbers up both ways. That keeps the number out of sight of anyone reading the
lists, their exports or a backup of them alone; it is pseudonymous, not anonymous: someone
holding the whole database could try every Italian number against the salt. A suppression
list must be able to say "this one", so any scheme that keeps refusing can be tried that way.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns import eligibility as el
from ivr.campaigns.models import (
    Appointment,
    Attempt,
    Contact,
    ContactList,
    DoNotCall,
    NumberSalt,
    Refusal,
)
from ivr.dialpolicy import NumberError, normalise
from ivr.privacy import Cutoffs, Removed, Scope

ERASED = "erased"
HASH_PREFIX = "#"
# A verification contact's own keys (ids, who may not call): nothing of the person.
KEPT_EXTRA = ("verification", "appointment", "not_operator", "contested")


def hashed(salt: str, number: str) -> str:
    return HASH_PREFIX + hashlib.sha256(f"{salt}:{number}".encode()).hexdigest()[:30]


async def number_salt(session: AsyncSession) -> str:
    value = await session.scalar(select(NumberSalt.salt).where(NumberSalt.id == 1))
    return value or ""


def _anonymise(contact: Contact) -> None:
    contact.number = f"{ERASED}-{contact.id}"
    contact.name, contact.debtor, contact.company = "", None, None
    contact.contact_person, contact.address, contact.zone = None, None, None
    contact.extra = {k: v for k, v in (contact.extra or {}).items() if k in KEPT_EXTRA}
    if contact.status in el.OPEN_STATUSES:
        contact.status, contact.refusal = el.REFUSED, ERASED


class CampaignData:
    name = "campaign contacts and calls"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        rows = await session.scalars(
            select(Attempt.linkedid).where(Attempt.number.in_(sorted(numbers)))
        )
        return set(rows)

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        given = sorted(numbers)
        contacts = list(await session.scalars(select(Contact).where(Contact.number.in_(given))))
        ids = [c.id for c in contacts]
        for contact in contacts:
            _anonymise(contact)
        removed.add("campaign contacts", len(contacts))
        attempts = list(
            await session.scalars(
                select(Attempt).where(
                    or_(Attempt.contact_id.in_(ids), Attempt.number.in_(given),
                        Attempt.linkedid.in_(sorted(linkedids)))
                )
            )
        )  # fmt: skip
        for attempt in attempts:
            removed.file(attempt.recording_path)
            attempt.number, attempt.recording_path = ERASED, None
            attempt.notes, attempt.data = None, {}
        removed.add("campaign calls", len(attempts))
        places = await session.execute(
            update(Appointment).where(Appointment.contact_id.in_(ids)).values(address="")
        )
        removed.rows("appointment addresses", places)
        refused = await session.execute(
            update(Refusal)
            .where(or_(Refusal.contact_id.in_(ids), Refusal.number.in_(given)))
            .values(number=None)
        )
        removed.rows("numbers on refusals", refused)
        removed.add("do-not-call entries kept as a hash", await self._hash_dnc(session, given))

    async def _hash_dnc(self, session: AsyncSession, given: list[str]) -> int:
        salt = await number_salt(session)
        rows = list(await session.scalars(select(DoNotCall).where(DoNotCall.number.in_(given))))
        for row in rows:
            try:
                canonical = normalise(row.number)
            except NumberError:
                canonical = row.number
            digest = hashed(salt, canonical)
            taken = await session.scalar(
                select(DoNotCall.id).where(DoNotCall.scope == row.scope,
                                           DoNotCall.number == digest)
            )  # fmt: skip
            if taken is not None:
                await session.execute(delete(DoNotCall).where(DoNotCall.id == row.id))
            else:
                row.number = digest
        await session.flush()
        return len(rows)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        mine = scope.where(Attempt.client_id)
        old = list(
            await session.execute(
                select(Attempt.id, Attempt.recording_path).where(
                    mine, Attempt.recording_path.is_not(None),
                    Attempt.placed_at < cutoffs.recordings,
                )
            )
        )  # fmt: skip
        for _, path in old:
            removed.file(path)
        if old:
            await session.execute(
                update(Attempt)
                .where(Attempt.id.in_([i for i, _ in old]))
                .values(recording_path=None)
            )
        removed.add("campaign recordings", len(old))
        notes = await session.execute(
            update(Attempt)
            .where(mine, Attempt.placed_at < cutoffs.messages, Attempt.notes.is_not(None))
            .values(notes=None, data={})
        )
        removed.rows("operators' notes on campaign calls", notes)
        numbers = await session.execute(
            update(Attempt)
            .where(mine, Attempt.placed_at < cutoffs.numbers, Attempt.number != ERASED)
            .values(number=ERASED)
        )
        removed.rows("numbers on campaign calls", numbers)
        await self._purge_contacts(session, scope, cutoffs, removed)

    async def _purge_contacts(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        """Contacts done with, on lists older than the numbers' retention, and not called
        since: made anonymous, with their appointments' addresses and refusals' numbers."""
        lists = select(ContactList.id).where(
            scope.where(ContactList.client_id), ContactList.imported_at < cutoffs.numbers
        )
        recent = select(Attempt.contact_id).where(Attempt.placed_at >= cutoffs.numbers)
        contacts = list(
            await session.scalars(
                select(Contact).where(
                    Contact.list_id.in_(lists),
                    Contact.status.not_in(el.OPEN_STATUSES),
                    Contact.id.not_in(recent),
                    Contact.number.not_like(f"{ERASED}-%"),
                )
            )
        )
        for contact in contacts:
            _anonymise(contact)
        ids = [c.id for c in contacts]
        removed.add("campaign contacts", len(ids))
        if ids:
            await session.execute(
                update(Appointment).where(Appointment.contact_id.in_(ids)).values(address="")
            )
            await session.execute(
                update(Refusal).where(Refusal.contact_id.in_(ids)).values(number=None)
            )
