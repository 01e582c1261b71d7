"""The answers a script collected on a call, one row per field: what the card's history, the
client's area, its exports and emails, `ivr calls` and the dispatch read.

Kept as fields (not folded into the message's text) so that each is a column of an export,
a key of a webhook's JSON and a term the area can search on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

Sessions = async_sessionmaker[AsyncSession]


class CallField(Base):
    """One answer of a script, for one call."""

    __tablename__ = "call_fields"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)  # the order the script asked them in
    field: Mapped[str] = mapped_column(String(64))  # the field's id in the script
    label: Mapped[str] = mapped_column(String(255))  # what it was called when asked
    value: Mapped[str] = mapped_column(Text)  # as stored: a choice's value, 2026-12-09T10:30
    shown: Mapped[str] = mapped_column(Text)  # as a person reads it: a choice's label
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("linkedid", "field"),
        Index("ix_call_fields_client_id", "client_id"),
    )


@dataclass(frozen=True)
class Answer:
    field: str
    label: str
    value: str
    shown: str


async def replace_fields(
    session: AsyncSession,
    linkedid: str,
    client_id: str | None,
    answers: Sequence[Answer],
    now: datetime,
) -> None:
    """The call's answers, in the session's transaction; saving again replaces them."""
    await session.execute(delete(CallField).where(CallField.linkedid == linkedid))
    for n, answer in enumerate(answers):
        session.add(
            CallField(
                linkedid=linkedid,
                client_id=client_id,
                position=n,
                field=answer.field,
                label=answer.label,
                value=answer.value,
                shown=answer.shown,
                saved_at=now,
            )
        )


async def fields_for(sessions: Sessions, linkedids: Sequence[str]) -> dict[str, list[Answer]]:
    """The answers of each call (in the order asked); a call with none is absent."""
    if not linkedids:
        return {}
    out: dict[str, list[Answer]] = {}
    async with sessions() as session:
        for start in range(0, len(linkedids), 500):
            rows = await session.scalars(
                select(CallField)
                .where(CallField.linkedid.in_(list(linkedids[start : start + 500])))
                .order_by(CallField.linkedid, CallField.position)
            )
            for row in rows:
                out.setdefault(row.linkedid, []).append(
                    Answer(row.field, row.label, row.value, row.shown)
                )
    return out


def columns(answers: Sequence[Sequence[Answer]]) -> list[tuple[str, str]]:
    """(field, label) of every field met in these calls, in the order first met: an
    export's extra columns."""
    seen: dict[str, str] = {}
    for one in answers:
        for answer in one:
            seen.setdefault(answer.field, answer.label)
    return list(seen.items())
