"""Node heartbeats: one row per node (its Asterisk instance), the last moment its engine
knew it alive (engine running, AMI logged in). Storage only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

Sessions = async_sessionmaker[AsyncSession]


class NodeHeartbeat(Base):
    __tablename__ = "node_heartbeats"

    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    engine: Mapped[str] = mapped_column(String(128))
    alive_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Up to when its calls were closed by another engine (None: none closed since it beat).
    closed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


@dataclass(frozen=True)
class Beat:
    node: str
    engine: str
    alive_at: datetime
    closed_until: datetime | None


async def beat(sessions: Sessions, node: str, engine: str, at: datetime) -> None:
    """This node is alive at `at` (its row made the first time)."""
    async with sessions.begin() as session:
        dialect = session.get_bind().dialect.name
        values = dict(node=node, engine=engine, alive_at=at, closed_until=None)
        statement: Any
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(NodeHeartbeat).values(values)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(NodeHeartbeat).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[NodeHeartbeat.node],
            set_=dict(engine=engine, alive_at=at, closed_until=None),
        )
        await session.execute(statement)


async def beats(sessions: Sessions) -> list[Beat]:
    async with sessions() as session:
        rows = (await session.scalars(select(NodeHeartbeat).order_by(NodeHeartbeat.node))).all()
    return [Beat(r.node, r.engine, r.alive_at, r.closed_until) for r in rows]


async def mark_closed(sessions: Sessions, node: str, alive_at: datetime) -> None:
    """The node's calls were closed up to its heartbeat `alive_at` (unless it beat since)."""
    async with sessions.begin() as session:
        await session.execute(
            update(NodeHeartbeat)
            .where(NodeHeartbeat.node == node, NodeHeartbeat.alive_at == alive_at)
            .values(closed_until=alive_at)
            .execution_options(synchronize_session=False)
        )
