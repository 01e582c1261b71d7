"""Call records: the queries, and the writes that do not go through the records writer.

Facts fold into a record the same way wherever they come from (ivr/records/facts.py); the
engine writes them in batches (ivr/records/writer.py). open_call() and note_failure() write
one fact at once, for tools and tests.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.clock import Clock, utcnow
from ivr.records.batch import Change, write_batch
from ivr.records.facts import (
    ABANDONED,
    ANSWERED,
    FAILED,
    IN_PROGRESS,
    MESSAGE_LEFT,
    UNKNOWN,
    Fact,
    Facts,
    Row,
)
from ivr.records.models import AccountCursor, Call

log = logging.getLogger(__name__)

__all__ = [
    "ABANDONED",
    "ANSWERED",
    "FAILED",
    "IN_PROGRESS",
    "MESSAGE_LEFT",
    "UNKNOWN",
    "CallRecord",
    "Facts",
]

# What Asterisk writes for an empty caller ID field.
_UNKNOWN = {"", "<unknown>"}


@dataclass(frozen=True)
class CallRecord:
    """A snapshot of one call, safe to keep after the session is gone."""

    id: int
    linkedid: str
    channel: str | None
    client_id: str | None
    client_name: str | None
    called: str | None
    caller_number: str | None
    caller_name: str | None
    arrived_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    operator: str | None
    outcome: str
    message_path: str | None
    message_at: datetime | None
    failure_reason: str | None
    failed_at: datetime | None
    route: str | None
    updated_at: datetime
    rebuilt: bool = False  # completed from Asterisk's own account of the call
    end_inferred: bool = False  # ended_at is the best time known, not an observed end

    @property
    def when(self) -> datetime:
        """When the call started, as well as it is known."""
        return self.arrived_at or self.answered_at or self.ended_at or self.updated_at

    @classmethod
    def of(cls, call: Call) -> CallRecord:
        return cls(**{f.name: getattr(call, f.name) for f in dataclasses.fields(cls)})


async def write(
    sm: async_sessionmaker[AsyncSession], items: Sequence[Fact | Row], clock: Clock = utcnow
) -> int:
    """Write facts and rows at once, in one transaction; how many records changed. clock: the
    services' (the time of a fact that has none)."""
    async with sm.begin() as session:
        conn = await session.connection()
        changes: list[Change] = await conn.run_sync(write_batch, list(items), clock())
    return len(changes)


def open_fact(
    *,
    linkedid: str,
    channel: str,
    client_id: str | None,
    client_name: str | None,
    called: str,
    caller_number: str,
    caller_name: str,
    arrived_at: datetime,
    route: str | None,
    kind: str = "open",
) -> Fact:
    """What the AGI request knows and what the engine decided (route None: not yet)."""
    identity = {
        "channel": channel,
        "client_id": client_id,
        "client_name": client_name,
        "called": called,
        "caller_number": caller_number,
        "caller_name": caller_name,
    }
    if route is not None:
        identity["route"] = route
    return Fact(
        linkedid,
        Facts(identity=identity, authoritative=True, arrived_at=arrived_at),
        source="agi",
        kind=kind,
        at=arrived_at,
        data={**identity, "arrived_at": arrived_at.isoformat()},
    )


def failure_fact(linkedid: str, reason: str, at: datetime) -> Fact:
    """The engine could not serve the call (the dialplan's failure context takes over)."""
    return Fact(
        linkedid,
        Facts(failure_reason=reason, failed_at=at),
        source="agi",
        kind="failure",
        at=at,
        data={"reason": reason, "at": at.isoformat()},
    )


async def open_call(
    sm: async_sessionmaker[AsyncSession], clock: Clock = utcnow, **values: Any
) -> bool:
    """open_fact() written at once; True if the record changed."""
    return await write(sm, [open_fact(**values)], clock) > 0


async def note_failure(
    sm: async_sessionmaker[AsyncSession], linkedid: str, reason: str, at: datetime
) -> bool:
    return await write(sm, [failure_fact(linkedid, reason, at)], lambda: at) > 0


def _known(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN else value


def _when() -> ColumnElement[datetime]:
    return func.coalesce(Call.arrived_at, Call.answered_at, Call.ended_at, Call.updated_at)


async def list_calls(
    sm: async_sessionmaker[AsyncSession],
    *,
    client_id: str | None = None,
    limit: int = 100,
    since: datetime | None = None,
) -> list[CallRecord]:
    """The newest calls first."""
    query = select(Call).order_by(_when().desc(), Call.id.desc()).limit(limit)
    if client_id is not None:
        query = query.where(Call.client_id == client_id)
    if since is not None:
        query = query.where(_when() >= since)
    async with sm() as session:
        return [CallRecord.of(call) for call in await session.scalars(query)]


async def get_call(sm: async_sessionmaker[AsyncSession], linkedid: str) -> CallRecord | None:
    async with sm() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
        return None if call is None else CallRecord.of(call)


def _same_caller(
    client_id: str, caller_number: str, exclude_linkedid: str | None
) -> list[ColumnElement[bool]]:
    conditions = [Call.client_id == client_id, Call.caller_number == caller_number]
    if exclude_linkedid is not None:
        conditions.append(Call.linkedid != exclude_linkedid)
    return conditions


async def caller_history(
    sm: async_sessionmaker[AsyncSession],
    client_id: str,
    caller_number: str,
    limit: int = 5,
    *,
    exclude_linkedid: str | None = None,
) -> list[CallRecord]:
    """This caller's calls to this client, newest first (a withheld number has no history).

    Pass the current call as exclude_linkedid to get only the earlier ones.
    """
    if _known(caller_number) is None:
        return []
    query = (
        select(Call)
        .where(*_same_caller(client_id, caller_number, exclude_linkedid))
        .order_by(_when().desc(), Call.id.desc())
        .limit(limit)
    )
    async with sm() as session:
        return [CallRecord.of(call) for call in await session.scalars(query)]


async def seconds_since_last_call(
    sm: async_sessionmaker[AsyncSession],
    client_id: str,
    caller_number: str,
    now: datetime,
    *,
    exclude_linkedid: str | None = None,
) -> float | None:
    """Seconds since this caller's latest call to this client arrived; None if never.

    A withheld number is nobody in particular, so it is never a repeat caller.
    """
    if _known(caller_number) is None:
        return None
    query = (
        select(Call.arrived_at)
        .where(*_same_caller(client_id, caller_number, exclude_linkedid))
        .where(Call.arrived_at <= now)
        .order_by(Call.arrived_at.desc())
        .limit(1)
    )
    async with sm() as session:
        last = await session.scalar(query)
    return None if last is None else (now - last).total_seconds()


async def open_records(
    sm: async_sessionmaker[AsyncSession], before: datetime
) -> list[tuple[str, datetime]]:
    """Records not ended that began before `before`: (linkedid, latest time known)."""
    began = func.coalesce(Call.arrived_at, Call.updated_at)
    query = select(
        Call.linkedid,
        Call.arrived_at,
        Call.answered_at,
        Call.message_at,
        Call.failed_at,
        Call.updated_at,
    ).where(Call.ended_at.is_(None), began < before)
    async with sm() as session:
        rows = (await session.execute(query)).all()
    return [
        (row[0], max(t for t in row[1:5] if t is not None) if any(row[1:5]) else row[5])
        for row in rows
    ]


async def get_cursor(sm: async_sessionmaker[AsyncSession], source: str) -> int:
    """How far the account `source` has been reconciled (0: from its start)."""
    async with sm() as session:
        found = await session.scalar(
            select(AccountCursor.position).where(AccountCursor.source == source)
        )
    return int(found or 0)


async def set_cursor(
    sm: async_sessionmaker[AsyncSession], source: str, position: int, now: datetime
) -> None:
    async with sm.begin() as session:
        found = await session.get(AccountCursor, source)
        if found is None:
            session.add(AccountCursor(source=source, position=position, updated_at=now))
        else:
            found.position, found.updated_at = position, now
