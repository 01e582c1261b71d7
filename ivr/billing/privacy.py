"""Billing's personal data: what a verification call was told (with whom the operator spoke,
notes), a contest's note, and the names shown on statements and in the audit log.

Amounts, dates, statuses and decisions stay: they are the center's accounts, and an issued
statement still adds up after an erasure. The frozen rows (statements, lines, the audit) are
blanked where they name a person, which is all the database lets anyone change in them.
Runs before the campaigns' handler, which makes the contacts anonymous: their numbers are how
this one finds what to blank. See ivr.privacy.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.billing.models import AuditEntry, Contest, Line, Payment, Statement, Verification
from ivr.campaigns.models import Appointment, Attempt, Contact
from ivr.privacy import Cutoffs, Removed, Scope


class BillingData:
    name = "billing: verifications, contests, statements, audit"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        return set()  # the campaigns' handler names the calls

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        contacts = select(Contact.id).where(Contact.number.in_(sorted(numbers)))
        appointments = list(
            await session.scalars(
                select(Appointment.id).where(Appointment.contact_id.in_(contacts))
            )
        )
        attempts = list(
            await session.scalars(select(Attempt.id).where(Attempt.contact_id.in_(contacts)))
        )
        payments = list(
            await session.scalars(select(Payment.id).where(Payment.contact_id.in_(contacts)))
        )
        keys = {f"A{i}" for i in appointments} | {f"S{i}" for i in attempts}
        keys |= {f"P{i}" for i in payments}
        told = await session.execute(
            update(Verification)
            .where(Verification.appointment_id.in_(appointments))
            .values(spoke_with=None, notes=None)
        )
        removed.rows("verification answers", told)
        await self._blank(session, keys, removed)

    async def _blank(self, session: AsyncSession, keys: set[str], removed: Removed) -> None:
        """Blank what names a person in the contests, statements and log of these results."""
        if not keys:
            return
        contests = list(
            await session.scalars(select(Contest).where(Contest.result_key.in_(sorted(keys))))
        )
        for contest in contests:
            contest.note = ""
        removed.add("contest notes", len(contests))
        lines = await session.execute(
            update(Line).where(Line.result_key.in_(sorted(keys)), Line.label != "")
            .values(label="")
        )  # fmt: skip
        removed.rows("names on statement lines", lines)
        clients = {c.client_id for c in contests} | set(
            await session.scalars(select(Line.client_id).where(Line.result_key.in_(sorted(keys))))
        )
        for statement in await session.scalars(
            select(Statement).where(Statement.client_id.in_(sorted(clients)))
        ):
            statement.data = _scrubbed(statement.data, keys)
        subjects = sorted(keys | {f"contest {c.id}" for c in contests})
        logged = await session.execute(
            update(AuditEntry)
            .where(AuditEntry.subject.in_(subjects), AuditEntry.erased_at.is_(None))
            .values(before={}, after={}, erased_at=removed.at)
        )
        removed.rows("audit entries emptied", logged)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        told = await session.execute(
            update(Verification)
            .where(scope.where(Verification.client_id), Verification.verified_at < cutoffs.messages,
                   Verification.spoke_with.is_not(None) | Verification.notes.is_not(None))
            .values(spoke_with=None, notes=None)
        )  # fmt: skip
        removed.rows("verification answers", told)
        notes = await session.execute(
            update(Contest)
            .where(scope.where(Contest.client_id), Contest.filed_at < cutoffs.messages,
                   Contest.note != "")
            .values(note="")
        )  # fmt: skip
        removed.rows("contest notes", notes)
        old = list(
            await session.scalars(
                select(Statement).where(scope.where(Statement.client_id),
                                        Statement.issued_at < cutoffs.numbers)
            )
        )  # fmt: skip
        for statement in old:
            statement.data = _scrubbed(statement.data, None)
        if old:
            lines = await session.execute(
                update(Line).where(Line.statement_id.in_([s.id for s in old]), Line.label != "")
                .values(label="")
            )  # fmt: skip
            removed.rows("names on statement lines", lines)
        logged = await session.execute(
            update(AuditEntry)
            .where(scope.where(AuditEntry.client_id), AuditEntry.at < cutoffs.numbers,
                   AuditEntry.erased_at.is_(None))
            .values(before={}, after={}, erased_at=removed.at)
        )  # fmt: skip
        removed.rows("audit entries emptied", logged)


def _scrubbed(data: dict[str, Any], keys: Collection[str] | None) -> dict[str, Any]:
    """A statement's shown data with the names of these results (all: None) blanked."""
    out = dict(data)
    sections = []
    for section in data.get("sections", []):
        items = [
            {**item, "label": ""} if keys is None or item.get("key") in keys else item
            for item in section.get("items", [])
        ]
        sections.append({**section, "items": items})
    out["sections"] = sections
    out["adjustments"] = [
        {**a, "label": ""} if keys is None or a.get("key") in keys else a
        for a in data.get("adjustments", [])
    ]
    return out
