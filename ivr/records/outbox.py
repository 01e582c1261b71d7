"""The outbox: work that a saved fact owes the world (an email about a new message), written
as a row where the fact is saved, and done once by whichever engine takes it.

A row is added once per (topic, key): an engine hearing the same AMI event again, or a second
engine, adds nothing. An engine takes a row for a lease (take()); done() ends it, retry()
gives it back with a later due time; a row whose engine died is taken again when its lease
ends. Nothing polls: the writer wakes the engines (ivr.wake) and each consumer sleeps until
its next due time (next_due()).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

Sessions = async_sessionmaker[AsyncSession]
WAKE = "outbox"  # the wake-up (ivr.wake) a writer sends after adding rows; payload: client id
LEASE = timedelta(minutes=5)  # longer than any one piece of work (an SMTP exchange)
MAX_TRIES = 12
_RETRY_BASE = timedelta(seconds=30)
_RETRY_MAX = timedelta(hours=1)


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_by: Mapped[str | None] = mapped_column(String(128))
    taken_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tries: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("topic", "key", name="uq_outbox_topic_key"),
        # Only the rows not done yet are ever looked for.
        Index(
            "ix_outbox_pending",
            "topic",
            "due_at",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )


@dataclass(frozen=True)
class Work:
    id: int
    topic: str
    key: str
    client_id: str | None
    data: dict[str, Any]
    tries: int  # this one included


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def add(
    session: AsyncSession,
    topic: str,
    key: str,
    client_id: str | None,
    data: dict[str, Any],
    now: datetime,
) -> bool:
    """Add a row inside the writer's own transaction; False if (topic, key) was there."""
    added = await session.scalar(
        _insert(session)(OutboxRow)
        .values(
            topic=topic,
            key=key[:255],
            client_id=client_id,
            data=data,
            created_at=now,
            due_at=now,
            tries=0,
        )
        .on_conflict_do_nothing(index_elements=["topic", "key"])
        .returning(OutboxRow.id)
    )
    return added is not None


def _free(now: datetime) -> Any:
    return (
        OutboxRow.done_at.is_(None)
        & (OutboxRow.due_at <= now)
        & (OutboxRow.taken_until.is_(None) | (OutboxRow.taken_until <= now))
    )


async def take(
    sessions: Sessions, topic: str, me: str, now: datetime, most: int = 50
) -> list[Work]:
    """The rows of topic due now that no live engine holds, taken for a lease by `me`."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.topic == topic, _free(now))
                .order_by(OutboxRow.due_at, OutboxRow.id)
                .limit(most)
            )
        )
    taken: list[Work] = []
    for ident in ids:
        async with sessions.begin() as session:
            # Compare-and-set: of two engines taking the same row, one updates it.
            result: Any = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == ident, _free(now))
                .values(taken_by=me, taken_until=now + LEASE, tries=OutboxRow.tries + 1)
            )
            if result.rowcount != 1:
                continue
            row = await session.get(OutboxRow, ident)
            assert row is not None
            taken.append(Work(row.id, row.topic, row.key, row.client_id, dict(row.data), row.tries))
    return taken


async def done(sessions: Sessions, work: Work, now: datetime, error: str | None = None) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == work.id)
            .values(done_at=now, taken_by=None, taken_until=None, error=error)
        )


async def retry(sessions: Sessions, work: Work, now: datetime, error: str) -> datetime | None:
    """Give the row back to be tried later (backing off); after MAX_TRIES it is done with its
    error. When it is due again, or None."""
    if work.tries >= MAX_TRIES:
        await done(sessions, work, now, f"gave up after {work.tries} tries: {error}")
        return None
    due = now + min(_RETRY_MAX, _RETRY_BASE * 2 ** (work.tries - 1))
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == work.id)
            .values(due_at=due, taken_by=None, taken_until=None, error=error[:2000])
        )
    return due


async def next_due(sessions: Sessions, topic: str) -> datetime | None:
    """When a row of topic not done can next be taken (due, or its lease over); None: none."""
    async with sessions() as session:
        found = await session.scalar(
            select(func.min(func.coalesce(OutboxRow.taken_until, OutboxRow.due_at))).where(
                OutboxRow.topic == topic, OutboxRow.done_at.is_(None)
            )
        )
    if found is None:
        return None
    # min() of a DateTime comes back as text on SQLite, where every stored time is UTC.
    value = found if isinstance(found, datetime) else datetime.fromisoformat(str(found))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def forget(sessions: Sessions, before: datetime) -> int:
    """Delete the rows done before `before`; how many."""
    async with sessions.begin() as session:
        result: Any = await session.execute(
            delete(OutboxRow).where(OutboxRow.done_at.is_not(None), OutboxRow.done_at < before)
        )
    return int(result.rowcount or 0)


# -- the one topic so far: a message a client should hear of ------------------------------

MESSAGE = "message"
DISPATCH = "dispatch"  # the same message, for the ways out other than email (a webhook)


async def add_message(
    session: AsyncSession, linkedid: str, client_id: str | None, urgent: bool, now: datetime
) -> bool:
    """A message was taken for a client (an operator's outcome, a recording): its users are
    to be told. A message that becomes urgent later is a second row; told again, it is not."""
    key = f"{linkedid}|{'urgent' if urgent else 'message'}"
    data = {"linkedid": linkedid, "urgent": urgent}
    await add(session, DISPATCH, key, client_id, data, now)
    return await add(session, MESSAGE, key, client_id, data, now)
