"""A client's webhook (its URL and secret, set by its admin in the area) and every delivery
tried, with the receiver's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

Sessions = async_sessionmaker[AsyncSession]
ANSWER_KEPT = 1000  # characters of the receiver's answer kept with a delivery


class ClientWebhook(Base):
    __tablename__ = "client_webhooks"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(255))  # signs each request; never shown again
    set_by: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))  # the idempotency key the receiver sees
    linkedid: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status; None: no answer
    answer: Mapped[str] = mapped_column(Text)  # the start of the receiver's answer
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, or None: delivered

    __table_args__ = (Index("ix_webhook_deliveries_client_at", "client_id", "at"),)


@dataclass(frozen=True)
class Hook:
    client_id: str
    url: str
    secret: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class Delivery:
    key: str
    linkedid: str
    attempt: int
    at: datetime
    url: str
    status: int | None
    answer: str
    error: str | None


async def hook_of(sessions: Sessions, client_id: str) -> Hook | None:
    async with sessions() as session:
        row = await session.get(ClientWebhook, client_id)
        if row is None:
            return None
        return Hook(row.client_id, row.url, row.secret, row.set_by, row.set_at)


async def set_hook(
    sessions: Sessions, client_id: str, url: str, secret: str | None, by: str, now: datetime
) -> None:
    """Set the URL; the secret too when given (None keeps the one set before)."""
    async with sessions.begin() as session:
        row = await session.get(ClientWebhook, client_id)
        if row is None:
            session.add(ClientWebhook(client_id=client_id, url=url, secret=secret or "",
                                      set_by=by, set_at=now))  # fmt: skip
            return
        row.url, row.set_by, row.set_at = url, by, now
        if secret:
            row.secret = secret


async def remove_hook(sessions: Sessions, client_id: str) -> None:
    async with sessions.begin() as session:
        row = await session.get(ClientWebhook, client_id)
        if row is not None:
            await session.delete(row)


async def add_delivery(sessions: Sessions, client_id: str, delivery: Delivery) -> None:
    async with sessions.begin() as session:
        session.add(
            WebhookDelivery(
                client_id=client_id, key=delivery.key, linkedid=delivery.linkedid,
                attempt=delivery.attempt, at=delivery.at, url=delivery.url,
                status=delivery.status, answer=delivery.answer[:ANSWER_KEPT],
                error=delivery.error,
            )
        )  # fmt: skip


async def deliveries(sessions: Sessions, client_id: str, most: int = 50) -> list[Delivery]:
    async with sessions() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.client_id == client_id)
            .order_by(WebhookDelivery.at.desc(), WebhookDelivery.id.desc())
            .limit(most)
        )
        return [
            Delivery(r.key, r.linkedid, r.attempt, r.at, r.url, r.status, r.answer, r.error)
            for r in rows
        ]
