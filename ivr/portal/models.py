"""The operators' tables: the outcome an operator saved for a call, and the queue and console
events the supervisor's figures are computed from.

They share ivr.records' Base (one schema, one alembic history: revision 0003).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime


class CallOutcome(Base):
    """What the operator wrote down about a call; one per call (keyed by linkedid)."""

    __tablename__ = "call_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    operator: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(255))
    caller_name: Mapped[str] = mapped_column(String(255))
    callback: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    urgent: Mapped[bool] = mapped_column(Boolean)
    # What became of urgent: the escalation run's id, or why none was started.
    escalation: Mapped[str | None] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueueEvent(Base):
    """One fact about a queue or an operator: an app_queue AMI event, or a console action.

    kind: join, leave, abandon, connect, complete (from AMI), login, logout, available,
    pause (from the console). wait is the caller's seconds in the queue (connect, abandon).
    """

    __tablename__ = "queue_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(255))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(255))
    caller_number: Mapped[str | None] = mapped_column(String(255))
    wait: Mapped[int | None] = mapped_column(Integer)
    # A second delivery of the same AMI event (a reconnect, a second engine) stops here.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)

    __table_args__ = (Index("ix_queue_events_at", "at"),)
