"""Overrides in the shared database, for engines that share PostgreSQL: one row per client,
set from any node's area (or `ivr override`) and obeyed by every node.

The call path never waits on the database: each engine keeps the overrides in memory and
reads them again when told (a NOTIFY, topic `overrides`, sent after every change; and every
topic once whenever the LISTEN link is made again, so a change missed while it was away is
read then). On SQLite (one engine) the overrides stay in the state folder's file.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime
from ivr.routing.overrides import Override, OverrideError, Overrides

if TYPE_CHECKING:
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
TOPIC = "overrides"


class OverrideRow(Base):
    __tablename__ = "overrides"

    client: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # Override.to_json(), as JSON text
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


async def load(sessions: Sessions) -> Overrides:
    async with sessions() as session:
        rows = (await session.scalars(select(OverrideRow).order_by(OverrideRow.client))).all()
    items = []
    for row in rows:
        try:
            items.append(Override.from_json(json.loads(row.data)))
        except (OverrideError, ValueError) as exc:
            log.error("override of %s in the database refused: %s", row.client, exc)
    return Overrides(tuple(items))


async def put(sessions: Sessions, item: Override, now: datetime) -> None:
    """Store a client's override (replacing any) and drop those that have ended."""
    async with sessions.begin() as session:
        await session.execute(delete(OverrideRow).where(OverrideRow.client == item.client))
        await session.execute(delete(OverrideRow).where(OverrideRow.until <= now))
        session.add(OverrideRow(client=item.client, data=json.dumps(item.to_json()),
                                until=item.until))  # fmt: skip


async def remove(sessions: Sessions, client: str, now: datetime) -> bool:
    """Remove a client's override; False if it had none in force."""
    async with sessions.begin() as session:
        had = await session.get(OverrideRow, client)
        active = had is not None and (had.until is None or had.until > now)
        await session.execute(delete(OverrideRow).where(OverrideRow.client == client))
        await session.execute(delete(OverrideRow).where(OverrideRow.until <= now))
    return active


class SharedOverrides:
    """The overrides in force for the call path, a copy of the database's kept in memory."""

    def __init__(self, sessions: Sessions, wakeups: Wakeups) -> None:
        self.sessions = sessions
        self.wakeups = wakeups
        self._overrides = Overrides()
        self._again = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.reloads = 0

    async def start(self) -> None:
        await self.reload()
        self.wakeups.on(TOPIC, lambda _payload: self._again.set())
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="overrides")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _follow(self) -> None:
        while True:
            await self._again.wait()
            self._again.clear()
            try:
                await self.reload()
            except Exception as exc:  # the database is away: the relay wakes us when back
                self.last_error = repr(exc)
                log.warning("overrides not read again: %r", exc)

    async def reload(self) -> None:
        self._overrides = await load(self.sessions)
        self.last_error = None
        self.reloads += 1

    def current(self) -> Overrides:
        return self._overrides

    async def put(self, item: Override, now: datetime) -> None:
        await put(self.sessions, item, now)
        await self.reload()  # this engine at once, the others when told
        await self.wakeups.send(TOPIC)

    async def remove(self, client: str, now: datetime) -> bool:
        removed = await remove(self.sessions, client, now)
        await self.reload()
        await self.wakeups.send(TOPIC)
        return removed

    def status(self, now: datetime) -> dict[str, Any]:
        active = [o for o in self._overrides.items if o.active(now)]
        return {
            "path": "database",
            "in_force": {o.client: o.mode for o in active},
            "last_error": self.last_error,
        }


class DatabaseStore:
    """`ivr override` where the engines share PostgreSQL: OverrideStore's calls on the
    database, each followed by the NOTIFY that every engine reads them again on."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _run(self, work: Any) -> Any:
        from sqlalchemy import text

        from ivr.records.db import make_engine, session_factory
        from ivr.records.listen import CHANNEL

        async def go() -> Any:
            engine = make_engine(self.url)
            try:
                sessions = session_factory(engine)
                result = await work(sessions)
                async with sessions.begin() as session:
                    await session.execute(
                        text("SELECT pg_notify(:channel, :payload)"),
                        {"channel": CHANNEL, "payload": f"{TOPIC}\n"},
                    )
                return result
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def load(self) -> Overrides:
        result: Overrides = self._run(load)
        return result

    def set(self, item: Override, now: datetime) -> None:
        self._run(lambda sessions: put(sessions, item, now))

    def clear(self, client: str, now: datetime) -> bool:
        return bool(self._run(lambda sessions: remove(sessions, client, now)))
