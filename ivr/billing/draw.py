"""The verification sample: per client and month, a share of the month's appointments (with
a minimum, or all when there are fewer), spread across the operators who booked them, drawn
from a random seed that is kept with the draw.

A draw happens once per client and month (the database holds one row per client and month):
it can be reproduced by anyone from its seed and population, never drawn again, so no one can
say the sample was picked. A month is drawn once it is over and its last appointment is past
the grace period (`verify_grace_days`).

How the sample is spread: the appointments of each operator are shuffled by the seed, the
operators are put in an order by the seed, and the sample takes one appointment of each
operator in turn (round robin) until it is complete. Every operator with appointments is
checked before any is checked twice.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.billing import audit, verify
from ivr.billing.models import Draw
from ivr.billing.results import Month
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment

Sessions = async_sessionmaker[AsyncSession]


class DrawError(Exception):
    """The month cannot be drawn: the message says why."""


class NotDue(DrawError):
    """The month cannot be drawn yet."""


def sample_size(population: int, share: float, minimum: int) -> int:
    """share of the population, rounded up, at least minimum, at most all of it."""
    return min(population, max(minimum, math.ceil(population * share - 1e-9)))


def draw_sample(
    population: list[tuple[int, str]], share: float, minimum: int, seed: str
) -> list[int]:
    """The appointment ids drawn, in the order drawn: pure, the same for the same input."""
    rng = random.Random(seed)  # noqa: S311 - reproducibility is the point, not secrecy
    by_operator: dict[str, list[int]] = defaultdict(list)
    for appointment, operator in sorted(population):
        by_operator[operator].append(appointment)
    operators = sorted(by_operator)
    rng.shuffle(operators)
    for operator in operators:
        rng.shuffle(by_operator[operator])
    wanted = sample_size(len(population), share, minimum)
    drawn: list[int] = []
    turn = 0
    while len(drawn) < wanted:
        queue = by_operator[operators[turn % len(operators)]]
        if queue:
            drawn.append(queue.pop(0))
        turn += 1
    return drawn


def due_at(month: Month, zone: str, grace_days: int) -> datetime:
    """When the month may be drawn: its last appointment's day plus the grace period over."""
    return month.end(zone) + timedelta(days=grace_days)


@dataclass(frozen=True)
class Drawn:
    draw: Draw
    new: bool  # drawn now (False: it had been drawn before)


async def population(
    session: AsyncSession, campaigns: list[Campaign], client_id: str, month: Month, zone: str
) -> list[tuple[int, str]]:
    """(appointment id, who booked it) of the client's verified campaigns in the month."""
    ids = [c.verifies for c in campaigns if c.client_id == client_id and c.verifies]
    if not ids:
        return []
    rows = await session.execute(
        select(Appointment.id, Appointment.booked_by).where(
            Appointment.client_id == client_id,
            Appointment.campaign_id.in_(ids),
            Appointment.starts_at >= month.start(zone),
            Appointment.starts_at < month.end(zone),
        )
    )
    return sorted((a, b) for a, b in rows)


async def find(sessions: Sessions, client_id: str, month: Month) -> Draw | None:
    async with sessions() as session:
        return await session.scalar(
            select(Draw).where(Draw.client_id == client_id, Draw.month == str(month))
        )


async def draw_month(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    month: Month,
    zone: str,
    *,
    share: float,
    minimum: int,
    grace_days: int,
    who: str,
    now: datetime,
) -> Drawn:
    """Draw the client's month, once; its appointments become verification calls."""
    if now < due_at(month, zone, grace_days):
        when = due_at(month, zone, grace_days).isoformat(timespec="minutes")
        raise NotDue(
            f"{month} cannot be drawn before {when}: its last appointments must be past the"
            f" {grace_days}-day grace period"
        )
    found = await find(sessions, client_id, month)
    if found is not None:
        return Drawn(found, False)
    seed = secrets.token_hex(16)
    try:
        async with sessions.begin() as session:
            people = await population(session, campaigns, client_id, month, zone)
            if not people:
                raise DrawError(f"{client_id} had no appointments in {month}: nothing to draw")
            drawn = draw_sample(people, share, minimum, seed)
            row = Draw(client_id=client_id, month=str(month), seed=seed, share=share,
                       minimum=minimum, population=[list(p) for p in people], drawn=drawn,
                       drawn_at=now, drawn_by=who[:255])  # fmt: skip
            session.add(row)
            await session.flush()
            await verify.add(session, campaigns, drawn, now, draw_id=row.id)
            await audit.record(
                session, client_id, who, f"draw {month}", "drawn", None,
                {"seed": seed, "share": share, "minimum": minimum, "population": len(people),
                 "drawn": drawn}, now,
            )  # fmt: skip
        return Drawn(row, True)
    except IntegrityError:  # another engine drew it at the same moment: that one stands
        again = await find(sessions, client_id, month)
        assert again is not None
        return Drawn(again, False)


def reproduce(row: Draw) -> bool:
    """Does drawing again from the stored seed and population give the stored sample?"""
    people = [(int(a), str(b)) for a, b in row.population]
    return draw_sample(people, row.share, row.minimum, row.seed) == list(row.drawn)
