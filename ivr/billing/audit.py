"""The billing audit log: every change to a result, an amount, a contest or a statement, with
who, when, what it was before and after. Written in the changer's own transaction (a change
and its entry are committed together or not at all); append-only in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.billing.models import AuditEntry

ENGINE = "the engine"  # who, when no person did it (a scheduled draw or issue)


def plain(value: Any) -> Any:
    """A value as the log keeps it (JSON): money and times as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def record(
    session: AsyncSession,
    client_id: str,
    who: str,
    subject: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            client_id=client_id,
            who=who[:255],
            subject=subject[:64],
            action=action[:32],
            before=plain(before or {}),
            after=plain(after or {}),
        )
    )


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    subject: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    erased: bool


async def entries(
    session: AsyncSession, client_id: str, subjects: list[str] | None = None, limit: int = 500
) -> list[Entry]:
    """The client's log (or the entries about these subjects), oldest first."""
    query = select(AuditEntry).where(AuditEntry.client_id == client_id)
    if subjects is not None:
        query = query.where(AuditEntry.subject.in_(subjects))
    rows = await session.scalars(query.order_by(AuditEntry.at, AuditEntry.id).limit(limit))
    return [
        Entry(r.at, r.who, r.subject, r.action, dict(r.before), dict(r.after),
              r.erased_at is not None)
        for r in rows
    ]  # fmt: skip
