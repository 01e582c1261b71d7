"""Personal data has an end: a daily purge past each client's retention, and the erasure of
one caller's data everywhere (`ivr erase --number N`).

Every table that holds a caller's data plugs in here with a PersonalData handler, listed
once in handlers(): the call records, the escalations, the operators' outcomes and queue
events, the client area's notes and notices, the campaigns' contacts and calls, billing's
verifications, contests and statements; a feature that adds such a table adds its own.
A handler never deletes files itself: it names them, and the purge or the erasure removes
them once its transaction is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, or_

from ivr import dialpolicy

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ivr.routing.model import Retention


@dataclass(frozen=True)
class Scope:
    """The clients a purge step covers: `only` these, or every client but `besides` (and
    the calls of no client) when `only` is None."""

    only: frozenset[str] | None = None
    besides: frozenset[str] = frozenset()

    def where(self, column: Any) -> ColumnElement[bool]:
        """The condition on a client_id column."""
        if self.only is not None:
            return column.in_(sorted(self.only))
        if not self.besides:
            return column.is_(None) | column.is_not(None)
        return or_(column.is_(None), column.not_in(sorted(self.besides)))


@dataclass(frozen=True)
class Cutoffs:
    """Data older than these is purged."""

    recordings: datetime
    messages: datetime
    numbers: datetime

    @classmethod
    def of(cls, retention: Retention, now: datetime) -> Cutoffs:
        return cls(
            now - timedelta(days=retention.recordings),
            now - timedelta(days=retention.messages),
            now - timedelta(days=retention.numbers),
        )


@dataclass
class Removed:
    """What a purge or an erasure removed: counts by kind, and the files to delete."""

    counts: dict[str, int] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)  # paths as Asterisk sees them
    at: datetime | None = None  # the moment of the run (the services' clock): rows say so

    def add(self, kind: str, count: int) -> None:
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + count

    def rows(self, kind: str, result: Any) -> None:
        """Count the rows an UPDATE or DELETE statement's result says it touched."""
        self.add(kind, int(getattr(result, "rowcount", 0) or 0))

    def file(self, path: str | None) -> None:
        if path:
            self.files.add(path)


class PersonalData(Protocol):
    name: str

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        """The calls this table ties to one of these numbers (the caller's, or a callback)."""

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        """Remove every row of these calls, and any other row naming these numbers."""

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        """Remove (or blank) what is older than the cutoffs, for the clients in scope."""


def handlers() -> list[PersonalData]:
    """Every table with a caller's data. A new one is added here."""
    from ivr.area.privacy import AreaData
    from ivr.billing.privacy import BillingData
    from ivr.campaigns.privacy import CampaignData
    from ivr.escalation.privacy import EscalationData
    from ivr.portal.privacy import OperatorData
    from ivr.records.privacy import CallRecordData

    # Billing before the campaigns: it finds its rows by the contacts' numbers, which the
    # campaigns' handler then makes anonymous.
    return [CallRecordData(), EscalationData(), OperatorData(), AreaData(), BillingData(),
            CampaignData()]  # fmt: skip


def variants(number: str) -> frozenset[str]:
    """The ways a caller's number may have been stored: as received (national, E.164,
    00-international, with or without the +), digits only."""
    raw = number.strip()
    found = {raw, "".join(c for c in raw if c.isdigit() or c == "+")}
    try:
        e164 = dialpolicy.normalise(raw)
    except dialpolicy.NumberError:
        return frozenset(v for v in found if v)
    found |= {e164, e164[1:], "00" + e164[1:]}
    national = dialpolicy.COUNTRY
    if e164.startswith("+" + national):
        found.add(e164[1 + len(national) :])
    return frozenset(v for v in found if v)
