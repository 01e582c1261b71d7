"""Put-through attempts and people's presence: the queries and the writes (no protocol here).

An attempt's row is written when the attempt starts and closed once, compare-and-set: the
first outcome stands (an engine that hears the same end twice, or a second engine, changes
nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.portal.models import QueueEvent
from ivr.putthrough.models import AVAILABLE, AWAY, MEETING, PersonPresence, PutThrough

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Attempt:
    id: int
    linkedid: str
    client_id: str | None
    operator: str | None
    person_id: str
    person_name: str
    mode: str
    number: str | None
    tried: int
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    held_seconds: float | None
    detail: str | None

    @classmethod
    def of(cls, row: PutThrough) -> Attempt:
        return cls(
            row.id, row.linkedid, row.client_id, row.operator, row.person_id, row.person_name,
            row.mode, row.number, row.tried, row.started_at, row.answered_at, row.ended_at,
            row.outcome, row.held_seconds, row.detail,
        )  # fmt: skip


async def start(
    sessions: Sessions,
    *,
    linkedid: str,
    client_id: str | None,
    operator: str | None,
    person_id: str,
    person_name: str,
    mode: str,
    at: datetime,
    number: str | None = None,
    key: str | None = None,
) -> int:
    """A new attempt's row; with `key`, the row already written under that key if any."""
    values: dict[str, Any] = dict(
        linkedid=linkedid, client_id=client_id, operator=operator, person_id=person_id,
        person_name=person_name, mode=mode, number=number, tried=1 if number else 0,
        started_at=at,
    )  # fmt: skip
    if key is not None:
        async with sessions() as session:
            found = await session.scalar(select(PutThrough.id).where(PutThrough.dedupe_key == key))
        if found is not None:
            return int(found)
    try:
        async with sessions.begin() as session:
            row = PutThrough(**values, dedupe_key=key or f"pending-{linkedid}-{at.timestamp()}")
            session.add(row)
            await session.flush()
            if key is None:
                row.dedupe_key = f"attempt-{row.id}"
            return int(row.id)
    except IntegrityError:
        if key is None:
            raise
        async with sessions() as session:
            found = await session.scalar(select(PutThrough.id).where(PutThrough.dedupe_key == key))
        assert found is not None
        return int(found)


async def ringing(sessions: Sessions, attempt_id: int, number: str) -> None:
    """The next number of the person is rung."""
    async with sessions.begin() as session:
        row = await session.get(PutThrough, attempt_id)
        if row is not None and row.outcome is None:
            row.number, row.tried = number, row.tried + 1


async def answered(sessions: Sessions, attempt_id: int, at: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(PutThrough)
            .where(PutThrough.id == attempt_id, PutThrough.answered_at.is_(None))
            .values(answered_at=at)
        )


async def finish(
    sessions: Sessions,
    attempt_id: int,
    outcome: str,
    at: datetime,
    *,
    held_seconds: float | None = None,
    detail: str | None = None,
) -> bool:
    """Close the attempt with its outcome; False if it was closed before (the first stands)."""
    values: dict[str, Any] = {"outcome": outcome, "ended_at": at}
    if held_seconds is not None:
        values["held_seconds"] = round(max(held_seconds, 0.0), 1)
    if detail is not None:
        values["detail"] = detail
    async with sessions.begin() as session:
        done = await session.execute(
            update(PutThrough)
            .where(PutThrough.id == attempt_id, PutThrough.outcome.is_(None))
            .values(**values)
        )
    return bool(getattr(done, "rowcount", 0))


async def get(sessions: Sessions, attempt_id: int) -> Attempt | None:
    async with sessions() as session:
        row = await session.get(PutThrough, attempt_id)
        return None if row is None else Attempt.of(row)


async def for_calls(sessions: Sessions, linkedids: Iterable[str]) -> dict[str, list[Attempt]]:
    """Each call's attempts, oldest first."""
    wanted = sorted(set(linkedids))
    out: dict[str, list[Attempt]] = {}
    if not wanted:
        return out
    async with sessions() as session:
        rows = await session.scalars(
            select(PutThrough)
            .where(PutThrough.linkedid.in_(wanted))
            .order_by(PutThrough.started_at, PutThrough.id)
        )
        for row in rows:
            out.setdefault(row.linkedid, []).append(Attempt.of(row))
    return out


async def for_call(sessions: Sessions, linkedid: str) -> list[Attempt]:
    return (await for_calls(sessions, [linkedid])).get(linkedid, [])


async def for_client(sessions: Sessions, client_id: str, limit: int = 50) -> list[Attempt]:
    """The client's latest attempts, newest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(PutThrough)
            .where(PutThrough.client_id == client_id)
            .order_by(PutThrough.started_at.desc(), PutThrough.id.desc())
            .limit(limit)
        )
        return [Attempt.of(row) for row in rows]


async def unfinished(sessions: Sessions, before: datetime) -> list[Attempt]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PutThrough).where(PutThrough.outcome.is_(None), PutThrough.started_at < before)
        )
        return [Attempt.of(row) for row in rows]


async def queue_of_call(sessions: Sessions, linkedid: str) -> str | None:
    """The queue whose operator answered the call (its latest answer), if a queue did."""
    async with sessions() as session:
        found = await session.scalar(
            select(QueueEvent.queue)
            .where(QueueEvent.linkedid == linkedid, QueueEvent.kind == "connect")
            .order_by(QueueEvent.at.desc())
            .limit(1)
        )
    return str(found) if found else None


# -- presence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    status: str  # available, meeting, away
    until: datetime | None = None
    note: str = ""
    set_by: str = ""

    @property
    def available(self) -> bool:
        return self.status == AVAILABLE


def effective(found: Presence | None, now: datetime) -> Presence:
    """A meeting or an absence is over once its time is past: the person is available."""
    if found is None or found.status == AVAILABLE:
        return found or Presence(AVAILABLE)
    if found.until is not None and found.until <= now:
        return Presence(AVAILABLE)
    return found


def end_of_day(now: datetime, zone: Any) -> datetime:
    """Midnight after `now` in the client's time zone: when "away today" ends."""
    local = now.astimezone(zone)
    tomorrow = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return tomorrow


def until_of(status: str, hour: str, now: datetime, zone: str) -> datetime | None:
    """When a presence ends: a meeting at `hour` (HH:MM in the client's zone, today, or
    tomorrow if that time is past), an absence at the end of the day; None when available."""
    tz = ZoneInfo(zone)
    if status == AWAY:
        return end_of_day(now, tz)
    if status != MEETING:
        return None
    wanted = time.fromisoformat(hour)  # ValueError on anything but HH:MM
    local = now.astimezone(tz)
    end = datetime.combine(local.date(), wanted, tzinfo=tz)
    return end if end > local else end + timedelta(days=1)


async def presence_of(sessions: Sessions, client_id: str, now: datetime) -> dict[str, Presence]:
    """Each person's presence now (those never set are available)."""
    async with sessions() as session:
        rows = await session.scalars(
            select(PersonPresence).where(PersonPresence.client_id == client_id)
        )
        found = {
            row.person_id: Presence(row.status, row.until, row.note, row.set_by) for row in rows
        }
    return {person: effective(p, now) for person, p in found.items()}


async def set_presence(
    sessions: Sessions,
    client_id: str,
    person_id: str,
    status: str,
    until: datetime | None,
    note: str,
    set_by: str,
    now: datetime,
) -> None:
    if status not in (AVAILABLE, MEETING, AWAY):
        raise ValueError(f"presence {status!r}: available, meeting or away")
    values = dict(status=status, until=until, note=note, set_by=set_by, set_at=now)
    for _ in range(2):  # a racing first write makes the insert fail once: update it then
        try:
            async with sessions.begin() as session:
                row = await session.scalar(
                    select(PersonPresence).where(
                        PersonPresence.client_id == client_id,
                        PersonPresence.person_id == person_id,
                    )
                )
                if row is None:
                    session.add(PersonPresence(client_id=client_id, person_id=person_id, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
            return
        except IntegrityError:
            continue
