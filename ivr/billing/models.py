"""The billing tables. They share ivr.records' Base (one schema, one alembic history).

A result is not a row of its own: it is an appointment, a sale (an attempt's outcome) or a
payment the client confirmed, named by a key ("A12", "S34", "P5"). Statements are frozen once
issued: their lines are rows never changed again (only an erasure blanks a label), and what
changes later is priced as lines of the next statement. The audit log is append-only in the
database itself (triggers of migration 0009 refuse a DELETE, and any UPDATE but the erasure's).
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


class Payment(Base):
    """An amount the client confirmed as paid against a promise to pay (only these are
    billed): from the client's area or an imported file of payments."""

    __tablename__ = "billing_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    campaign_id: Mapped[str] = mapped_column(String(255))
    attempt_id: Mapped[int] = mapped_column(Integer, unique=True)  # the promise's call
    contact_id: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date)
    confirmed_by: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(255))

    __table_args__ = (Index("ix_billing_payments_client", "client_id", "paid_on"),)


class Statement(Base):
    """A month's statement as issued: frozen. `data` is the statement as it was shown."""

    __tablename__ = "billing_statements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str] = mapped_column(String(255))
    total: Mapped[Decimal] = mapped_column(Money)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("client_id", "month"),)


class Line(Base):
    """One billed line of an issued statement: a result of its month, or a credit or debit
    for a result of an earlier month that changed after its own statement."""

    __tablename__ = "billing_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("billing_statements.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    of_month: Mapped[str] = mapped_column(String(7))  # the result's month
    campaign_id: Mapped[str] = mapped_column(String(255))
    result_key: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # result, adjustment
    label: Mapped[str] = mapped_column(Text)
    recovered: Mapped[Decimal | None] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)
    band: Mapped[int | None] = mapped_column(Integer)  # from 1
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_billing_lines_result", "client_id", "of_month", "result_key"),)


class Draw(Base):
    """A month's verification sample of one client: drawn once, never again; the seed and
    the population it was drawn from are kept, so anyone can draw it again and compare."""

    __tablename__ = "verification_draws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    month: Mapped[str] = mapped_column(String(7))
    seed: Mapped[str] = mapped_column(String(64))
    share: Mapped[float] = mapped_column(Float)
    minimum: Mapped[int] = mapped_column(Integer)
    population: Mapped[list[Any]] = mapped_column(JSON)  # [[appointment id, operator], ...]
    drawn: Mapped[list[Any]] = mapped_column(JSON)  # appointment ids, in the order drawn
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    drawn_by: Mapped[str] = mapped_column(String(255))

    __table_args__ = (UniqueConstraint("client_id", "month"),)


class Verification(Base):
    """A verification call to be made (or made) about one appointment: drawn in the sample,
    asked for by a contest, or both. One per appointment."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    appointment_id: Mapped[int] = mapped_column(Integer, unique=True)
    campaign_id: Mapped[str] = mapped_column(String(255))  # the verification campaign
    draw_id: Mapped[int | None] = mapped_column(Integer)
    sampled: Mapped[bool] = mapped_column(Boolean)
    contested: Mapped[bool] = mapped_column(Boolean)
    contact_id: Mapped[int | None] = mapped_column(Integer)  # in the verification campaign
    not_operator: Mapped[str] = mapped_column(String(255))  # who booked: never verifies it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # pending, done, refused, unreachable
    attempt_id: Mapped[int | None] = mapped_column(Integer)  # the call that got the answer
    happened: Mapped[bool | None] = mapped_column(Boolean)
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    spoke_with: Mapped[str | None] = mapped_column(Text)
    visit_outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(String(255))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_verifications_client", "client_id", "created_at"),)


class Contest(Base):
    """A result the client contests, and what became of it."""

    __tablename__ = "billing_contests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    result_key: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[str] = mapped_column(String(255))
    of_month: Mapped[str] = mapped_column(String(7))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    filed_by: Mapped[str] = mapped_column(String(255))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What a verification call showed: shown-wrong (the visit happened), shown-right.
    verdict: Mapped[str | None] = mapped_column(String(16))
    verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Another contest of the client shown wrong puts this one in doubt.
    questioned_by: Mapped[int | None] = mapped_column(Integer)
    questioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # open, credited, rejected
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("client_id", "result_key"),)


class AuditEntry(Base):
    """One change to a result, an amount, a contest or a statement: who, when, before, after.
    Append-only (the database refuses anything else, see the module's docstring)."""

    __tablename__ = "billing_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_id: Mapped[str] = mapped_column(String(255))
    who: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(64))  # "A12", "contest 3", "statement 2027-03"
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_billing_audit_client", "client_id", "at"),)
