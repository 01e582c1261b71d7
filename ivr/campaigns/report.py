"""What a campaign has done: for `ivr campaign report`, the supervisor's page and the client's
area. Storage only (queries and arithmetic)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ivr.campaigns import eligibility as el
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Attempt, Contact, ContactList, Refusal
from ivr.campaigns.store import Sessions

LEFT = (el.PENDING, el.DIALLING, el.PREVIEWING, el.TALKING)


@dataclass
class Progress:
    campaign_id: str
    name: str
    client_id: str
    client_name: str
    kind: str
    mode: str
    status: str
    contacts: int = 0
    left: int = 0  # still to be called (or being called)
    statuses: dict[str, int] = field(default_factory=dict)
    dialled: int = 0  # calls placed
    answered: int = 0  # by a person
    connected: int = 0  # to an operator
    dropped: int = 0
    system: dict[str, int] = field(default_factory=dict)  # calls by system outcome
    outcomes: dict[str, int] = field(default_factory=dict)  # operators' outcomes
    refusals: dict[str, int] = field(default_factory=dict)
    promised: Decimal = Decimal(0)
    appointments: int = 0
    answered_today: int = 0
    dropped_today: int = 0
    per_day: list[tuple[date, int, int, int]] = field(
        default_factory=list
    )  # day, placed, answered, dropped
    finished_last_hour: int = 0
    estimated_end: datetime | None = None
    operators: list[str] = field(default_factory=list)  # filled in by the live dialer

    @property
    def done_share(self) -> float:
        return 0.0 if not self.contacts else (self.contacts - self.left) / self.contacts

    @property
    def drop_rate_today(self) -> float | None:
        return None if not self.answered_today else self.dropped_today / self.answered_today

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign_id, "name": self.name, "client": self.client_id,
            "kind": self.kind, "mode": self.mode, "status": self.status,
            "contacts": self.contacts, "left": self.left, "statuses": self.statuses,
            "dialled": self.dialled, "answered": self.answered, "connected": self.connected,
            "dropped": self.dropped, "system_outcomes": self.system, "outcomes": self.outcomes,
            "refusals": self.refusals, "promised": str(self.promised),
            "appointments": self.appointments, "drop_rate_today": self.drop_rate_today,
            "per_day": [
                {"day": d.isoformat(), "placed": p, "answered": a, "dropped": x,
                 "drop_rate": (x / a if a else None)}
                for d, p, a, x in self.per_day
            ],
            "estimated_end": self.estimated_end.isoformat() if self.estimated_end else None,
        }  # fmt: skip


async def progress(sessions: Sessions, campaign: Campaign, status: str, now: datetime) -> Progress:
    out = Progress(
        campaign.id, campaign.name, campaign.client_id, campaign.client_name, campaign.kind,
        campaign.mode, status,
    )  # fmt: skip
    zone = el.ZoneInfo(campaign.zone)
    midnight = el.local_midnight(now, campaign.zone)
    async with sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    select(Contact.status, func.count())
                    .where(Contact.campaign_id == campaign.id)
                    .group_by(Contact.status)
                )
            ).all()
        )
        attempts = (
            await session.execute(
                select(
                    Attempt.placed_at, Attempt.answered_at, Attempt.amd, Attempt.connected_at,
                    Attempt.dropped_at, Attempt.system_outcome, Attempt.outcome,
                    Attempt.promise_amount, Attempt.ended_at,
                ).where(Attempt.campaign_id == campaign.id)
            )
        ).all()  # fmt: skip
        refusals = dict(
            (
                await session.execute(
                    select(Refusal.reason, func.count())
                    .where(Refusal.campaign_id == campaign.id)
                    .group_by(Refusal.reason)
                )
            ).all()
        )
        out.appointments = (
            await session.scalar(select(func.count()).where(Appointment.campaign_id == campaign.id))
        ) or 0
    out.statuses = {k: int(v) for k, v in statuses.items()}
    out.contacts = sum(out.statuses.values())
    out.left = sum(out.statuses.get(s, 0) for s in LEFT)
    out.refusals = {k: int(v) for k, v in refusals.items()}
    system: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    days: dict[date, list[int]] = {}
    hour_ago = now - timedelta(hours=1)
    for placed, answered, amd, connected, dropped, sys_outcome, outcome, amount, ended in attempts:
        out.dialled += 1
        human = answered is not None and not (amd or "").startswith("MACHINE")
        out.answered += human
        out.connected += connected is not None
        out.dropped += dropped is not None
        if sys_outcome:
            system[sys_outcome] += 1
        if outcome:
            outcomes[outcome] += 1
        if amount is not None:
            out.promised += amount
        day = days.setdefault(placed.astimezone(zone).date(), [0, 0, 0])
        day[0] += 1
        day[1] += human
        day[2] += dropped is not None
        if placed >= midnight:
            out.answered_today += human
            out.dropped_today += dropped is not None
        if ended is not None and ended >= hour_ago:
            out.finished_last_hour += 1
    out.system, out.outcomes = dict(system), dict(outcomes)
    out.per_day = [(d, *v) for d, v in sorted(days.items())]  # type: ignore[misc]
    if out.left and out.finished_last_hour:
        out.estimated_end = now + timedelta(hours=out.left / out.finished_last_hour)
    return out


async def lists_of(sessions: Sessions, campaign_id: str) -> list[ContactList]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(ContactList)
                .where(ContactList.campaign_id == campaign_id)
                .order_by(ContactList.id)
            )
        )


async def refusals_of(sessions: Sessions, campaign_id: str, limit: int = 200) -> list[Refusal]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Refusal)
                .where(Refusal.campaign_id == campaign_id)
                .order_by(Refusal.at.desc(), Refusal.id.desc())
                .limit(limit)
            )
        )
