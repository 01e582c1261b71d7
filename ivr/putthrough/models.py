"""The put-through tables: every attempt to put a caller through to one of the client's people,
and each person's presence (set by them in the client's area, or by the center).

They share ivr.records' Base (one schema, one alembic history: revision 0010).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

# How an attempt was made: announced by a prompt (warm), straight through (blind), or by the
# rules without an operator (a screened caller).
ANNOUNCED, DIRECT, RULES = "announced", "direct", "rules"
# How it ended.
ACCEPTED, DECLINED, NO_ANSWER, NO_KEY = "accepted", "declined", "no-answer", "no-key"
REFUSED, HUNG_UP, FAILED, LOST = "refused", "caller-hung-up", "failed", "lost"
OUTCOMES = (ACCEPTED, DECLINED, NO_ANSWER, NO_KEY, REFUSED, HUNG_UP, FAILED, LOST)
# Presence.
AVAILABLE, MEETING, AWAY = "available", "meeting", "away"
PRESENCES = (AVAILABLE, MEETING, AWAY)


class PutThrough(Base):
    __tablename__ = "put_throughs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(255))
    operator: Mapped[str | None] = mapped_column(String(255))  # None: the rules did it
    person_id: Mapped[str] = mapped_column(String(255))
    person_name: Mapped[str] = mapped_column(String(255))
    mode: Mapped[str] = mapped_column(String(16))
    number: Mapped[str | None] = mapped_column(String(64))  # the number rung last
    tried: Mapped[int] = mapped_column(Integer, default=0)  # numbers rung
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))
    held_seconds: Mapped[float | None] = mapped_column(Float)  # the caller, on hold or ringing
    detail: Mapped[str | None] = mapped_column(Text)
    # One row per attempt even when several engines hear the same events.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)

    __table_args__ = (Index("ix_put_throughs_linkedid", "linkedid"),)


class PersonPresence(Base):
    __tablename__ = "person_presence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("client_id", "person_id"),)
