"""Node heartbeats: one row per node (its Asterisk instance), the last moment its engine
knew it alive (engine running, AMI logged in). Storage only.

Two times per beat: `alive_at` by the engine's clock (the end a cut-off call is given, in
the same time as its record), and `seen_at` by the database's clock (how long a node has
been silent is measured on the one clock every engine shares, as the leases are)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, String, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

Sessions = async_sessionmaker[AsyncSession]


class NodeHeartbeat(Base):
    __tablename__ = "node_heartbeats"

    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    engine: Mapped[str] = mapped_column(String(128))
    alive_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[float] = mapped_column(Float)  # seconds since 1970, the database's clock
    # Up to when its calls were closed by another engine (None: none closed since it beat).
    closed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class Beat:
    node: str
    engine: str
    alive_at: datetime
    closed_until: datetime | None
    silent: float  # seconds since it last beat, by the database's clock


def _now(session: AsyncSession) -> Any:
    """The database's clock in seconds: PostgreSQL's own; SQLite's is this host's anyway."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", func.clock_timestamp())
    return literal(time.time(), Float)


async def beat(sessions: Sessions, node: str, engine: str, at: datetime) -> None:
    """This node is alive at `at` (its row made the first time)."""
    async with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        now = _now(session)
        values = dict(node=node, engine=engine, alive_at=at, seen_at=now, closed_until=None)
        statement: Any
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(NodeHeartbeat).values(values)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(NodeHeartbeat).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[NodeHeartbeat.node],
            set_=dict(engine=engine, alive_at=at, seen_at=now, closed_until=None),
        )
        await session.execute(statement)


async def beats(sessions: Sessions) -> list[Beat]:
    async with sessions() as session:
        silent = _now(session) - NodeHeartbeat.seen_at
        rows = (
            await session.execute(
                select(NodeHeartbeat, silent).order_by(NodeHeartbeat.node)
            )
        ).all()  # fmt: skip
    return [Beat(r.node, r.engine, r.alive_at, r.closed_until, float(left)) for r, left in rows]


async def mark_closed(sessions: Sessions, node: str, alive_at: datetime) -> None:
    """The node's calls were closed up to its heartbeat `alive_at` (unless it beat since)."""
    async with sessions.begin() as session:
        await session.execute(
            update(NodeHeartbeat)
            .where(NodeHeartbeat.node == node, NodeHeartbeat.alive_at == alive_at)
            .values(closed_until=alive_at)
            .execution_options(synchronize_session=False)
        )
