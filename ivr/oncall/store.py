"""The on-call periods a client's admin adds in the area (holidays, cover), beside those of
the client's file; and who is on call now, from both."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime
from ivr.routing.model import Client, Contact, Ladder
from ivr.routing.oncall import Duty, Period, on_duty

Sessions = async_sessionmaker[AsyncSession]


class OnCallPeriod(Base):
    __tablename__ = "on_call_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    why: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_on_call_periods_client_ends", "client_id", "ends_at"),)


async def periods_of(
    sessions: Sessions, client_id: str, after: datetime | None = None
) -> list[tuple[int, Period]]:
    """The admin's periods (id, period), in the order added; those over before `after` left out."""
    query = select(OnCallPeriod).where(OnCallPeriod.client_id == client_id)
    if after is not None:
        query = query.where(OnCallPeriod.ends_at > after)
    async with sessions() as session:
        rows = await session.scalars(query.order_by(OnCallPeriod.set_at, OnCallPeriod.id))
        return [(r.id, Period(r.starts_at, r.ends_at, r.person_id, r.why)) for r in rows]


async def add_period(
    sessions: Sessions, client_id: str, period: Period, by: str, now: datetime
) -> None:
    async with sessions.begin() as session:
        session.add(
            OnCallPeriod(client_id=client_id, person_id=period.person, starts_at=period.start,
                         ends_at=period.end, why=period.why, set_by=by, set_at=now)
        )  # fmt: skip


async def remove_period(sessions: Sessions, client_id: str, ident: int) -> bool:
    """Remove one of the client's periods; False if it has none by that id."""
    async with sessions.begin() as session:
        result: Any = await session.execute(
            delete(OnCallPeriod).where(
                OnCallPeriod.id == ident, OnCallPeriod.client_id == client_id
            )
        )
    return bool(result.rowcount)


async def duty_now(sessions: Sessions, client: Client, now: datetime) -> Duty | None:
    """Who of the client's people is on call at `now`, and until when; None: nobody."""
    if client.on_call is None:
        return None
    extra = [p for _, p in await periods_of(sessions, client.id, after=now)]
    return on_duty(client.on_call, now, extra)


async def staffed(
    sessions: Sessions, client: Client | None, ladder: Ladder, now: datetime
) -> Ladder:
    """The ladder with each "whoever is on call now" contact replaced by that person (their
    first number), or left out when nobody of the client's is on call."""
    if not any(c.on_call_now for c in ladder.contacts):
        return ladder
    duty = await duty_now(sessions, client, now) if client is not None else None
    person = client.people.get(duty.person) if client is not None and duty else None
    contacts: list[Contact] = []
    for contact in ladder.contacts:
        if not contact.on_call_now:
            contacts.append(contact)
        elif person is not None and person.numbers:
            contacts.append(
                dataclasses.replace(contact, name=person.name, number=person.numbers[0],
                                    on_call_now=False)
            )  # fmt: skip
    return dataclasses.replace(ladder, contacts=tuple(contacts))
