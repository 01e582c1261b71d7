"""The campaign tables. They share ivr.records' Base (one schema, one alembic history).

Money is Numeric (Decimal in Python), dates of invoices and promises are plain dates, every
instant is UTC. An attempt row is written before its Originate, with a unique (contact, seq):
an engine killed at any point, or a second engine, cannot place the same call twice.
Billing reads attempts (operator, outcome, amounts, recording) and appointments as they are.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, Money, UTCDateTime

CENTER = "*"  # the do-not-call scope of the whole center (a client's scope is its id)


class CampaignState(Base):
    """What `ivr campaign start|pause|stop` said, and the pacing's current lines per operator."""

    __tablename__ = "campaign_state"

    campaign_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running, paused, stopped
    ratio: Mapped[float | None] = mapped_column(Float)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(255))


class ContactList(Base):
    """One imported file, and when its numbers were last checked against the register."""

    __tablename__ = "campaign_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(255), index=True)
    # whose contacts they are: each client's retention applies to its own (None: before 0009)
    client_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    merged: Mapped[int] = mapped_column(Integer)
    bad: Mapped[int] = mapped_column(Integer)
    register_checked_on: Mapped[date | None] = mapped_column(Date)


class Contact(Base):
    __tablename__ = "campaign_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(255))
    list_id: Mapped[int] = mapped_column(ForeignKey("campaign_lists.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))  # E.164
    name: Mapped[str] = mapped_column(String(255))
    zone: Mapped[str | None] = mapped_column(String(64))  # None: the campaign's
    # reminder
    debtor: Mapped[str | None] = mapped_column(String(255))
    amount_due: Mapped[Decimal | None] = mapped_column(Money)
    due_date: Mapped[date | None] = mapped_column(Date)
    invoice: Mapped[str | None] = mapped_column(String(255))
    # appointment
    company: Mapped[str | None] = mapped_column(String(255))
    contact_person: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(Text)
    # any other column of the list, and a reminder's merged invoices
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending, dialling, previewing, talking (awaiting the operator's outcome), done,
    # refused (never to be called: the reason says why), exhausted (attempts used up)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str | None] = mapped_column(String(32))  # the operator's final outcome
    refusal: Mapped[str | None] = mapped_column(String(32))
    in_register: Mapped[bool] = mapped_column(Boolean)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_campaign_contacts_due", "campaign_id", "status", "next_at"),
        Index("ix_campaign_contacts_number", "number"),  # a rest puts off every campaign's
    )


class Attempt(Base):
    """One call to a contact: written before it is placed, completed from AMI events."""

    __tablename__ = "campaign_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # the contact's nth call
    number: Mapped[str] = mapped_column(String(32))
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)  # the Originate's ChannelId
    engine: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    operator: Mapped[str | None] = mapped_column(String(255))  # reserved, then who talked
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    amd: Mapped[str | None] = mapped_column(String(32))  # HUMAN, MACHINE, NOTSURE (+ cause)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    system_outcome: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    recording_path: Mapped[str | None] = mapped_column(Text)
    # what the operator recorded
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_by: Mapped[str | None] = mapped_column(String(255))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promise_amount: Mapped[Decimal | None] = mapped_column(Money)
    promise_date: Mapped[date | None] = mapped_column(Date)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    appointment_id: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("contact_id", "seq"),
        Index("ix_campaign_attempts_placed", "campaign_id", "placed_at"),
        Index("ix_campaign_attempts_open", "ended_at"),
        Index("ix_campaign_attempts_number", "number"),  # the floor's rests, at every dial
    )


class Refusal(Base):
    """A contact (or a whole list, or the campaign) not dialled, and why; logged once."""

    __tablename__ = "campaign_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(255), index=True)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)


class DoNotCall(Base):
    """A number never to be called: for the whole center (scope "*") or for one client."""

    __tablename__ = "do_not_call"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))
    number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255))  # an attempt, an import, a command
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("scope", "number"), Index("ix_do_not_call_number", "number"))


class NumberSalt(Base):
    """The database's own random salt of the numbers kept only as a hash: a number erased
    from everywhere stays on the do-not-call lists as sha256(salt + number), so it is still
    refused without being written down (see ivr/campaigns/privacy.py)."""

    __tablename__ = "number_salt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))


class Appointment(Base):
    """An appointment booked in a salesperson's calendar; unique per start: no double booking
    (starts are on the salesperson's slot grid, so two bookings cannot overlap)."""

    __tablename__ = "campaign_appointments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    campaign_id: Mapped[str] = mapped_column(String(255))
    attempt_id: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(Integer)
    salesperson: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str] = mapped_column(Text)
    booked_by: Mapped[str] = mapped_column(String(255))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("client_id", "salesperson", "starts_at"),)


class DialerEngine(Base):
    """Each running engine's heartbeat: what a dead engine held is released by the others."""

    __tablename__ = "dialer_engines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
