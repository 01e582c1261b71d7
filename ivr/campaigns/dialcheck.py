"""The dial-time check's queries: what the legal floor needs to know about each number before
it is dialled (do-not-call, opposition-register freshness, every campaign's rests after an
abandoned call, today's attempts) and the refusal log it writes when a number may not be
called. The decision itself is pure (ivr.campaigns.eligibility.judge); store.claim() and
store.start_preview_call() call it through judge() here, the one path to a dial.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.campaigns import eligibility as el
from ivr.campaigns import floor
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Attempt, Contact, ContactList, DoNotCall, Refusal
from ivr.campaigns.privacy import hashed, number_salt
from ivr.dialpolicy import DialPolicy

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Rules:
    """What the dial-time check needs beside the campaign: the client's dial policy and the
    center's settings (each already within the legal floor)."""

    policy: DialPolicy
    register_max_days: int = floor.REGISTER_MAX_DAYS
    own_customers_days: int = floor.OWN_CUSTOMERS_MAX_DAYS
    rest_days: int = floor.ABANDON_REST_DAYS


def judge(
    campaign: Campaign, facts: el.ContactFacts, now: datetime, rules: Rules, operator_free: bool
) -> el.Refusal | None:
    """The one dial-time decision (ivr.campaigns.eligibility.judge) with the center's rules."""
    return el.judge(
        campaign, facts, now, rules.policy, rules.register_max_days,
        operator_free=operator_free, own_customers_days=rules.own_customers_days,
    )  # fmt: skip


async def fresh_lists(
    session: AsyncSession, campaign: Campaign, now: datetime, max_days: int
) -> list[int]:
    zone = el.ZoneInfo(campaign.zone)
    today = now.astimezone(zone).date()
    fresh = []
    for list_id, name, checked, imported in await session.execute(
        select(
            ContactList.id, ContactList.name, ContactList.register_checked_on,
            ContactList.imported_at,
        ).where(ContactList.campaign_id == campaign.id)
    ):  # fmt: skip
        if el.register_fresh(checked, today, max_days, imported.astimezone(zone).date()):
            fresh.append(list_id)
            continue
        when = checked.isoformat() if checked else "never"
        await log_refusal(
            session, campaign.id, el.REGISTER_STALE,
            f"list {name!r} (#{list_id}) not dialled: checked against the opposition register"
            f" {when}, more than {max_days} days ago",
            now, key=f"list{list_id}|{el.REGISTER_STALE}|{today.isoformat()}",
        )  # fmt: skip
    return fresh


async def facts(
    session: AsyncSession,
    campaign: Campaign,
    rows: list[Contact],
    now: datetime,
    rest_days: int = floor.ABANDON_REST_DAYS,
) -> dict[int, el.ContactFacts]:
    numbers = {row.number for row in rows}
    salt = await number_salt(session)  # an erased number is listed by its hash only
    hashes = {hashed(salt, number): number for number in numbers}
    dnc: dict[str, set[str]] = defaultdict(set)
    for scope, number in await session.execute(
        select(DoNotCall.scope, DoNotCall.number).where(
            DoNotCall.number.in_(numbers | set(hashes)),
            DoNotCall.scope.in_(["*", campaign.client_id]),
        )
    ):
        dnc[hashes.get(number, number)].add(scope)
    zone = el.ZoneInfo(campaign.zone)
    checked: dict[int, date | None] = {}
    imported: dict[int, date] = {}
    for list_id, checked_on, imported_at in await session.execute(
        select(ContactList.id, ContactList.register_checked_on, ContactList.imported_at).where(
            ContactList.id.in_({row.list_id for row in rows})
        )
    ):
        checked[list_id] = checked_on
        imported[list_id] = imported_at.astimezone(zone).date()
    rested = await rests(session, numbers, rest_days)
    since = el.local_midnight(now, campaign.zone)
    today = dict(
        (
            await session.execute(
                select(Attempt.contact_id, func.count())
                .where(Attempt.contact_id.in_([r.id for r in rows]), Attempt.placed_at >= since)
                .group_by(Attempt.contact_id)
            )
        ).all()
    )
    return {
        row.id: el.ContactFacts(
            number=row.number,
            zone=row.zone,
            attempts=row.attempts,
            attempts_today=today.get(row.id, 0),
            list_checked_on=checked.get(row.list_id),
            in_register=row.in_register,
            do_not_call=frozenset(dnc.get(row.number, ())),
            list_imported_on=imported.get(row.list_id),
            customer_until=customer_until(row),
            rested_until=rested.get(row.number, (None, False))[0],
            needs_operator=rested.get(row.number, (None, False))[1],
        )
        for row in rows
    }


def customer_until(row: Contact) -> date | None:
    """The list's customer-until column (own customers), if the row has a valid one."""
    extra = row.extra or {}
    text = extra.get("customer_until") or extra.get("customer until")
    try:
        return date.fromisoformat(str(text).strip()) if text else None
    except ValueError:
        return None


async def rests(
    session: AsyncSession, numbers: set[str], rest_days: int
) -> dict[str, tuple[datetime | None, bool]]:
    """Number -> (rested until, whether the next call needs an operator free): from every
    campaign's calls to that number, whatever list or import it came from."""
    out: dict[str, tuple[datetime | None, bool]] = {}
    latest: dict[str, datetime] = {}
    for number, answered, amd, connected, dropped, ended in await session.execute(
        select(
            Attempt.number, Attempt.answered_at, Attempt.amd, Attempt.connected_at,
            Attempt.dropped_at, Attempt.ended_at,
        ).where(Attempt.number.in_(numbers), Attempt.answered_at.is_not(None))
    ):  # fmt: skip
        if answered is None:
            continue
        must_rest = floor.rests(answered, amd, connected, dropped, ended)
        until, _ = out.get(number, (None, False))
        if must_rest:
            mine = answered + timedelta(days=rest_days)
            until = mine if until is None else max(until, mine)
        if number not in latest or answered > latest[number]:
            latest[number] = answered
            out[number] = (until, must_rest)
        else:
            out[number] = (until, out[number][1])
    return out


async def refuse(
    session: AsyncSession, campaign: Campaign, row: Contact, refusal: el.Refusal, now: datetime
) -> None:
    if refusal.permanent:
        row.status = el.EXHAUSTED if refusal.reason == el.ATTEMPTS else el.REFUSED
        row.refusal = refusal.reason
    else:
        row.next_at = refusal.until or now + timedelta(days=1)
    day = now.astimezone(el.ZoneInfo(campaign.zone)).date().isoformat()
    await log_refusal(
        session, campaign.id, refusal.reason, refusal.detail, now,
        contact_id=row.id, number=row.number, key=f"{row.id}|{refusal.reason}|{day}",
    )  # fmt: skip


async def log_refusal(
    session: AsyncSession,
    campaign_id: str,
    reason: str,
    detail: str,
    now: datetime,
    *,
    contact_id: int | None = None,
    number: str | None = None,
    key: str,
) -> None:
    """One row per key: the same refusal found again is not logged again."""
    dedupe = f"{campaign_id}|{key}"[:255]
    exists = await session.scalar(select(Refusal.id).where(Refusal.dedupe_key == dedupe))
    if exists is None:
        session.add(
            Refusal(
                campaign_id=campaign_id,
                contact_id=contact_id,
                number=number,
                reason=reason,
                detail=detail,
                at=now,
                dedupe_key=dedupe,
            )  # fmt: skip
        )
        log.info("campaign %s: not calling %s: %s", campaign_id, number or "-", detail)


async def note_refusal(
    sessions: Sessions, campaign_id: str, reason: str, detail: str, now: datetime, key: str
) -> None:
    """A refusal of the whole campaign (its window, its dates), logged once per key."""
    try:
        async with sessions.begin() as session:
            await log_refusal(session, campaign_id, reason, detail, now, key=key)
    except IntegrityError:
        pass  # another engine logged it first
