"""Leases: which engine does each job that must run once among engines sharing the
database (escalation ladders, campaign dialling, the purge, the notices, ...). Storage only.

A lease is a row per job: its holder and when its hold ends, by the database's clock (every
engine compares against the same clock, whatever its host's says). The holder renews it
well before the end; another engine takes it only once it has ended, so an engine that died
loses its jobs within one lease time. Each change of holder adds one to `epoch`, a fencing
number for whoever wants to check that they still hold what they held.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base

Sessions = async_sessionmaker[AsyncSession]
NOBODY = ""


class LeaseRow(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    # Seconds since 1970 on the database's clock: when the hold ends, when it began.
    expires_at: Mapped[float] = mapped_column(Float)
    acquired_at: Mapped[float] = mapped_column(Float)
    epoch: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Held:
    """A lease as the database has it: its holder and the seconds left of the hold."""

    name: str
    holder: str
    left: float
    epoch: int


def _now(session: AsyncSession) -> Any:
    """The database's clock in seconds: PostgreSQL's own; SQLite's is this host's anyway."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", func.clock_timestamp())
    return literal(time.time(), Float)


async def ensure(sessions: Sessions, names: list[str]) -> None:
    """A row for every name (held by nobody), for those that have none yet."""
    async with sessions.begin() as session:
        have = set(await session.scalars(select(LeaseRow.name).where(LeaseRow.name.in_(names))))
        missing = [n for n in names if n not in have]
        if not missing:
            return
        dialect = session.get_bind().dialect.name
        rows = [dict(name=n, holder=NOBODY, expires_at=0.0, acquired_at=0.0, epoch=0)
                for n in missing]  # fmt: skip
        statement: Any = insert(LeaseRow)
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(LeaseRow).on_conflict_do_nothing()
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(LeaseRow).on_conflict_do_nothing()
        await session.execute(statement, rows)


async def acquire(sessions: Sessions, names: list[str], me: str, ttl: float) -> list[Held]:
    """Renew the leases `me` holds and take those that have ended, in one statement; then
    every named lease as it stands (held by me or by whom, for how long)."""
    async with sessions.begin() as session:
        now = _now(session)
        await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name.in_(names))
            .where(or_(LeaseRow.holder == me, LeaseRow.expires_at < now))
            .values(
                expires_at=now + ttl,
                acquired_at=_unless_mine(me, LeaseRow.acquired_at, now),
                epoch=_unless_mine(me, LeaseRow.epoch, LeaseRow.epoch + 1),
                holder=me,
            )
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(LeaseRow.name, LeaseRow.holder, LeaseRow.expires_at - now, LeaseRow.epoch)
                .where(LeaseRow.name.in_(names))
            )
        ).all()  # fmt: skip
    return [Held(name, holder, float(left), int(epoch)) for name, holder, left, epoch in rows]


def _unless_mine(me: str, kept: Any, changed: Any) -> Any:
    from sqlalchemy import case

    return case((LeaseRow.holder == me, kept), else_=changed)


async def release(sessions: Sessions, names: list[str], me: str) -> int:
    """Give up what `me` holds of these: another engine may take it at once."""
    async with sessions.begin() as session:
        result: Any = await session.execute(
            update(LeaseRow)
            .where(LeaseRow.name.in_(names), LeaseRow.holder == me)
            .values(expires_at=0.0, holder=NOBODY)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)


async def holders(sessions: Sessions) -> list[Held]:
    """Every lease and who holds it now (`ivr cluster status`, tests)."""
    async with sessions() as session:
        now = _now(session)
        rows = (
            await session.execute(
                select(LeaseRow.name, LeaseRow.holder, LeaseRow.expires_at - now, LeaseRow.epoch)
                .order_by(LeaseRow.name)
            )
        ).all()  # fmt: skip
    return [
        Held(name, holder if left > 0 else NOBODY, float(left), int(epoch))
        for name, holder, left, epoch in rows
    ]
