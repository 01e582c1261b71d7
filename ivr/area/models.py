"""The client area's tables: its users, their password-reset tokens, what each client did
with each message (read, handled with a note), the notices sent, and area_calls: what the
area searches and counts, kept by the database itself (triggers of migration 0006)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
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
    # The last TOTP time step accepted: a code seen once is refused after (no replay).
    totp_step: Mapped[int | None] = mapped_column(BigInteger)
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
    """A message told to a user (by its own email or in a digest): told once. `at` is when an
    engine took it on; sent_at when the mail server accepted it (None: not yet, or failed)."""

    __tablename__ = "area_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    linkedid: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("user_id", "linkedid", name="uq_area_notices_user_linkedid"),
        Index("ix_area_notices_at", "at"),
    )


class AreaCall(Base):
    """One call as the area searches and counts it: the words a client may search (caller's
    name and number, the operator's name, callback number and message, one per line),
    whether it is an unread message, and whether it is urgent. Written only by the database's
    triggers, in the same transaction as the call, its outcome, its read state or its
    ladder, so it is never out of date."""

    __tablename__ = "area_calls"

    call_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # calls.id
    client_id: Mapped[str | None] = mapped_column(String(255))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)
    unread: Mapped[bool] = mapped_column(Boolean)
    # The operator's urgent flag, or a ladder started for the call (an emergency option).
    urgent: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_area_calls_unread", "client_id", "unread", "arrived_at"),
        Index("ix_area_calls_urgent", "client_id", "urgent", "arrived_at", "call_id"),
    )
