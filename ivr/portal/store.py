"""The operators' records: outcomes saved from the console, queue events, today's figures.

The figures are computed from the stored events and call records (not app_queue's own
counters, which restart with Asterisk and know nothing of other nodes sharing the store).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.clock import Clock, utcnow
from ivr.portal.models import CallOutcome, QueueEvent
from ivr.records import outbox
from ivr.records.models import Call

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
ANSWERED_WITHIN = 20  # seconds: the service level the supervisor page reports

# app_queue's AMI events and what they are called in queue_events.
QUEUE_KINDS = {
    "QueueCallerJoin": "join",
    "QueueCallerLeave": "leave",
    "QueueCallerAbandon": "abandon",
    "AgentConnect": "connect",
    "AgentComplete": "complete",
}


@dataclass(frozen=True)
class Outcome:
    linkedid: str
    operator: str
    client_id: str | None
    caller_name: str
    callback: str
    message: str
    category: str
    urgent: bool
    escalation: str | None
    saved_at: datetime

    @classmethod
    def of(cls, row: CallOutcome) -> Outcome:
        return cls(
            row.linkedid,
            row.operator,
            row.client_id,
            row.caller_name,
            row.callback,
            row.message,
            row.category,
            row.urgent,
            row.escalation,
            row.saved_at,
        )


async def save_outcome(sessions: Sessions, outcome: Outcome) -> None:
    """Save the outcome of a call; saving again (a correction) replaces it. The client's
    users are told of it through the outbox row written in the same transaction."""
    values = {
        "operator": outcome.operator,
        "client_id": outcome.client_id,
        "caller_name": outcome.caller_name,
        "callback": outcome.callback,
        "message": outcome.message,
        "category": outcome.category,
        "urgent": outcome.urgent,
        "escalation": outcome.escalation,
        "saved_at": outcome.saved_at,
    }
    for _ in range(2):  # a racing first save makes the insert fail once: update it then
        try:
            async with sessions.begin() as session:
                row = await session.scalar(
                    select(CallOutcome).where(CallOutcome.linkedid == outcome.linkedid)
                )
                if row is None:
                    session.add(CallOutcome(linkedid=outcome.linkedid, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
                if outcome.client_id:
                    await outbox.add_message(
                        session, outcome.linkedid, outcome.client_id, outcome.urgent,
                        outcome.saved_at,
                    )  # fmt: skip
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"could not save the outcome of call {outcome.linkedid}")


async def set_escalation(sessions: Sessions, linkedid: str, text: str) -> None:
    async with sessions.begin() as session:
        row = await session.scalar(select(CallOutcome).where(CallOutcome.linkedid == linkedid))
        if row is not None:
            row.escalation = text


async def get_outcome(sessions: Sessions, linkedid: str) -> Outcome | None:
    async with sessions() as session:
        row = await session.scalar(select(CallOutcome).where(CallOutcome.linkedid == linkedid))
        return None if row is None else Outcome.of(row)


async def outcomes_for(sessions: Sessions, linkedids: list[str]) -> dict[str, Outcome]:
    if not linkedids:
        return {}
    async with sessions() as session:
        rows = await session.scalars(select(CallOutcome).where(CallOutcome.linkedid.in_(linkedids)))
        return {row.linkedid: Outcome.of(row) for row in rows}


def _timestamp(value: str | None, clock: Clock) -> datetime:
    try:
        return datetime.fromtimestamp(float(Decimal(value or "")), UTC)
    except (InvalidOperation, ValueError, OverflowError, OSError):
        return clock()


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


def queue_event_row(event: Mapping[str, str], clock: Clock = utcnow) -> dict[str, Any] | None:
    """The queue_events row of an app_queue AMI event, or None for any other event."""
    kind = QUEUE_KINDS.get(event.get("Event", ""))
    if kind is None:
        return None
    linkedid = event.get("Linkedid") or event.get("Uniqueid") or ""
    operator = event.get("MemberName") or None
    stamp = event.get("Timestamp", "")
    return {
        "at": _timestamp(stamp, clock),
        "kind": kind,
        "queue": event.get("Queue") or None,
        "linkedid": linkedid or None,
        "operator": operator,
        "caller_number": event.get("CallerIDNum") or None,
        "wait": _int(event.get("HoldTime")),
        "dedupe_key": f"{kind}|{linkedid}|{event.get('Queue', '')}|{operator or ''}|{stamp}",
    }


async def add_queue_event(sessions: Sessions, row: Mapping[str, Any]) -> bool:
    """Store one fact; False when it was stored before (the same event delivered twice)."""
    try:
        async with sessions.begin() as session:
            session.add(QueueEvent(**row))
        return True
    except IntegrityError:
        return False


async def note_operator(sessions: Sessions, operator: str, kind: str, at: datetime) -> None:
    """A console action (login, logout, available, pause) as a queue event."""
    key = f"{kind}|{operator}|{at.isoformat()}"
    await add_queue_event(
        sessions,
        {"at": at, "kind": kind, "operator": operator, "dedupe_key": key},
    )


@dataclass(frozen=True)
class Figures:
    """One day's figures for the supervisor."""

    since: datetime
    offered: int = 0  # callers who joined a queue
    answered: int = 0
    answered_within: int = 0  # answered within ANSWERED_WITHIN seconds of joining
    abandoned: int = 0  # hung up while waiting
    average_wait: float | None = None  # seconds, over answered and abandoned callers
    waiting: dict[str, int] = field(default_factory=dict)  # queue -> callers waiting now
    per_client: dict[str, int] = field(default_factory=dict)  # client name -> calls

    @property
    def service_level(self) -> float | None:
        return None if not self.answered else self.answered_within / self.answered


QueueFact = tuple[str, str | None, int | None]  # kind, queue, wait


async def queue_facts(sessions: Sessions, since: datetime) -> list[QueueFact]:
    """(kind, queue, wait) of the queue events since `since`, in order."""
    async with sessions() as session:
        rows = await session.execute(
            select(QueueEvent.kind, QueueEvent.queue, QueueEvent.wait)
            .where(QueueEvent.at >= since)
            .order_by(QueueEvent.at)
        )
        return [(kind, queue, wait) for kind, queue, wait in rows]


async def figures(sessions: Sessions, since: datetime) -> Figures:
    async with sessions() as session:
        events = list(
            await session.scalars(
                select(QueueEvent).where(QueueEvent.at >= since).order_by(QueueEvent.at)
            )
        )
        clients = list(
            await session.execute(
                select(Call.client_id, Call.client_name).where(Call.arrived_at >= since)
            )
        )
    joined: dict[tuple[str | None, str | None], str | None] = {}
    left: set[tuple[str | None, str | None]] = set()
    answered = within = abandoned = 0
    waits: list[int] = []
    for e in events:
        key = (e.linkedid, e.queue)
        if e.kind == "join":
            joined[key] = e.queue
        elif e.kind == "leave":
            left.add(key)
        elif e.kind == "connect":
            answered += 1
            if e.wait is not None:
                waits.append(e.wait)
                within += e.wait <= ANSWERED_WITHIN
        elif e.kind == "abandon":
            abandoned += 1
            if e.wait is not None:
                waits.append(e.wait)
    waiting = Counter(q for key, q in joined.items() if key not in left and q)
    per_client = Counter((name or client_id or "(no client)") for client_id, name in clients)
    return Figures(
        since=since,
        offered=len(joined),
        answered=answered,
        answered_within=within,
        abandoned=abandoned,
        average_wait=sum(waits) / len(waits) if waits else None,
        waiting=dict(sorted(waiting.items())),
        per_client=dict(sorted(per_client.items())),
    )
