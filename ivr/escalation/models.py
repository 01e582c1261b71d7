"""The escalation tables: one row per ladder run, one row per call to a contact.

They share ivr.records' Base (and so its metadata and naming convention): one schema, one
alembic history. An attempt row is written before its call is placed, and its unique
(run, round, contact, try) is what keeps a restarted engine, or a second engine, from
placing the same call twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime


class EscalationRun(Base):
    __tablename__ = "escalation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The same trigger twice (an event delivered twice, a double click) finds this key.
    key: Mapped[str] = mapped_column(String(255), unique=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str | None] = mapped_column(String(255))
    client_name: Mapped[str | None] = mapped_column(String(255))
    ladder: Mapped[str] = mapped_column(String(255))
    # The ladder as it was at the start (ivr.escalation.ladder.Plan); None until the engine
    # that picks the run up has looked the ladder up in its rules.
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message_path: Mapped[str | None] = mapped_column(Text)
    caller_name: Mapped[str | None] = mapped_column(String(255))
    callback: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mail_result: Mapped[str | None] = mapped_column(Text)
    # The number the call came from ("" withheld): what the per-caller rate limit counts.
    caller_number: Mapped[str | None] = mapped_column(String(64))
    # Why the ladder was refused (status "refused"): a rate limit, a withheld caller.
    reason: Mapped[str | None] = mapped_column(Text)


class EscalationAttempt(Base):
    __tablename__ = "escalation_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("escalation_runs.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    contact: Mapped[int] = mapped_column(Integer)
    try_: Mapped[int] = mapped_column("try", Integer)
    contact_name: Mapped[str] = mapped_column(String(255))
    number: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("run_id", "round", "contact", "try"),)
