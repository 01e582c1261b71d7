"""The web sessions' tables: one row per open session, one per failed login.

A session row is keyed by the SHA-256 of its cookie's token, so the table alone (a backup, a
leaked dump) opens no session.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime


class WebSessionRow(Base):
    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    realm: Mapped[str] = mapped_column(String(16))  # "console", "area"
    user: Mapped[str] = mapped_column(String(255))
    csrf: Mapped[str] = mapped_column(String(64))
    # True between a right password and the second factor: no page opens yet.
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_web_sessions_realm_user", "realm", "user"),)


class LoginFailure(Base):
    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    realm: Mapped[str] = mapped_column(String(16))
    user: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_login_failures_user", "realm", "user", "at"),
        Index("ix_login_failures_address", "realm", "address", "at"),
    )
