"""The client area's tables: its users, their password-reset tokens, what each client did
with each message (read, handled with a note), and the notices already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

ADMIN, MEMBER = "admin", "member"
ROLES = (ADMIN, MEMBER)
# How a user is told of a new message: an email for each, only urgent ones, a daily digest.
NOTIFY = ("each", "urgent", "digest", "none")


class AreaUser(Base):
    __tablename__ = "area_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # Argon2id, with its parameters
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_on: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8))
    notify: Mapped[str] = mapped_column(String(16))
    digest_at: Mapped[str] = mapped_column(String(5))  # HH:MM in the client's time zone
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ResetToken(Base):
    """A single-use, expiring password-reset link (kept as its SHA-256)."""

    __tablename__ = "area_reset_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessageState(Base):
    """What the client did with the message of one call."""

    __tablename__ = "area_message_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_by: Mapped[str | None] = mapped_column(String(255))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """A message already told to a user (by its own email or in a digest): told once."""

    __tablename__ = "area_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    linkedid: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("user_id", "linkedid", name="uq_area_notices_user_linkedid"),
        Index("ix_area_notices_at", "at"),
    )
