"""What the dialer needs to know of today and of the other engines: the day's figures per
campaign (for the pacing), the next contact due, the engines' heartbeats. Storage only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from ivr.campaigns import eligibility as el
from ivr.campaigns import floor
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Attempt, Contact, DialerEngine
from ivr.campaigns.store import Sessions

LENGTHS = 200  # the latest calls whose lengths tell when a call in progress may end

# -- engines --------------------------------------------------------------------------------


async def heartbeat(sessions: Sessions, engine: str, now: datetime) -> None:
    async with sessions.begin() as session:
        row = await session.get(DialerEngine, engine)
        if row is None:
            session.add(DialerEngine(id=engine, started_at=now, seen_at=now))
        else:
            row.seen_at = now


async def release_dead_previews(sessions: Sessions, now: datetime, stale: timedelta) -> int:
    """Previews held by engines not seen for `stale` go back to the list."""
    async with sessions.begin() as session:
        alive = select(DialerEngine.id).where(DialerEngine.seen_at >= now - stale)
        result = await session.execute(
            update(Contact)
            .where(Contact.status == el.PREVIEWING, Contact.claimed_by.not_in(alive))
            .values(status=el.PENDING, claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def alive_engines(sessions: Sessions, now: datetime, stale: timedelta) -> set[str]:
    """The engines whose heartbeat is younger than `stale`."""
    async with sessions() as session:
        rows = await session.scalars(
            select(DialerEngine.id).where(DialerEngine.seen_at >= now - stale)
        )
        return set(rows)


async def release_unplaced(sessions: Sessions, linkedid: str) -> bool:
    """An attempt whose engine died before Asterisk made its call never happened: its row goes
    and its contact goes back to the list, to be called as that same try by another engine.
    False when the attempt is closed or gone already (another engine was first)."""
    async with sessions.begin() as session:
        query = select(Attempt).where(Attempt.linkedid == linkedid, Attempt.ended_at.is_(None))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None:
            return False
        contact = await session.get(Contact, row.contact_id)
        if contact is not None and contact.status == el.DIALLING and contact.attempts == row.seq:
            contact.status, contact.claimed_by, contact.claimed_at = el.PENDING, None, None
            contact.attempts = row.seq - 1
        await session.delete(row)
    return True


# -- figures the pacing needs ------------------------------------------------------------


@dataclass(frozen=True)
class Today:
    placed: int = 0
    answered: int = 0  # by a person (machines are not answered calls here)
    connected: int = 0
    dropped: int = 0  # abandoned as the authority counts them (ivr.campaigns.floor.abandoned)
    ringing: int = 0  # this engine's calls not answered yet
    waiting: int = 0  # this engine's answered calls not connected yet
    answer_seconds: float = 0.0  # placed -> answered, summed over today's answered calls
    calls: int = 0  # today's connected calls that ended
    call_seconds: float = 0.0  # connected -> ended, summed
    lengths: tuple[float, ...] = ()  # the latest LENGTHS of them, in seconds
    wraps: tuple[float, ...] = ()  # the latest LENGTHS wrap-ups: ended -> outcome saved
    recent_answered: int = 0  # answered by a person within the latest `window` seconds
    recent_dropped: int = 0  # dropped within them
    delays: tuple[float, ...] = ()  # the latest LENGTHS answers' delays: placed -> answered
    ringing_since: tuple[datetime, ...] = ()  # when this engine's calls still ringing were placed


async def today(
    sessions: Sessions, campaign: Campaign, now: datetime, engine: str, window: float = 900.0
) -> Today:
    since = el.local_midnight(now, campaign.zone)
    lately = max(since, now - timedelta(seconds=window))
    recent_answered = recent_dropped = 0
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    Attempt.answered_at, Attempt.amd, Attempt.connected_at, Attempt.dropped_at,
                    Attempt.ended_at, Attempt.engine, Attempt.placed_at, Attempt.outcome_at,
                ).where(
                    Attempt.campaign_id == campaign.id,
                    (Attempt.placed_at >= since) | Attempt.ended_at.is_(None),
                )
            )
        ).all()  # fmt: skip
    placed = answered = connected = dropped = ringing = waiting = calls = 0
    answer_seconds = call_seconds = 0.0
    lengths: list[tuple[datetime, float]] = []
    wraps: list[tuple[datetime, float]] = []
    delays: list[tuple[datetime, float]] = []
    ringing_since: list[datetime] = []
    for answered_at, amd, connected_at, dropped_at, ended_at, by, placed_at, saved_at in rows:
        if placed_at >= since:
            placed += 1
            human = answered_at is not None and not (amd or "").startswith("MACHINE")
            answered += human
            connected += connected_at is not None
            dropped += floor.abandoned(answered_at, amd, connected_at, dropped_at, ended_at)
            if human and answered_at is not None:
                answer_seconds += (answered_at - placed_at).total_seconds()
                delays.append((answered_at, (answered_at - placed_at).total_seconds()))
                recent_answered += answered_at >= lately
            recent_dropped += dropped_at is not None and dropped_at >= lately
            if connected_at is not None and ended_at is not None:
                calls += 1
                length = (ended_at - connected_at).total_seconds()
                call_seconds += length
                lengths.append((ended_at, length))
                if saved_at is not None:
                    wraps.append((ended_at, max(0.0, (saved_at - ended_at).total_seconds())))
        if ended_at is None and by == engine:
            if answered_at is None:
                ringing += 1
                ringing_since.append(placed_at)
            elif connected_at is None and dropped_at is None:
                waiting += 1
    latest = tuple(n for _, n in sorted(lengths)[-LENGTHS:])
    return Today(
        placed, answered, connected, dropped, ringing, waiting, answer_seconds, calls,
        call_seconds, latest, tuple(n for _, n in sorted(wraps)[-LENGTHS:]), recent_answered,
        recent_dropped, tuple(n for _, n in sorted(delays)[-LENGTHS:]), tuple(ringing_since),
    )  # fmt: skip


async def next_due(
    sessions: Sessions, campaign_ids: list[str], after: datetime | None = None
) -> datetime | None:
    """When the next pending contact is due (only those due later than `after`, if given)."""
    if not campaign_ids:
        return None
    query = select(func.min(Contact.next_at)).where(
        Contact.campaign_id.in_(campaign_ids), Contact.status == el.PENDING
    )
    if after is not None:
        query = query.where(Contact.next_at > after)
    async with sessions() as session:
        value = await session.scalar(query)
    return value


async def campaigns_of_number(sessions: Sessions, number: str) -> list[str]:
    """The campaigns that have this number (E.164) among their contacts."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Contact.campaign_id).where(Contact.number == number).distinct()
        )
        return list(rows)
