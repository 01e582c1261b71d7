"""Campaign rows: claim contacts and write each attempt before its call, then complete it.

Every write is safe to repeat or to race: a contact is claimed by a compare-and-set on its
status (and, on PostgreSQL, rows another engine is claiming are skipped with FOR UPDATE SKIP
LOCKED), an attempt is unique per (contact, seq), an attempt is closed once (the first writer
wins). Storage only: no protocol is imported here. What the dial-time check reads about a
number (rests, do-not-call, register) and its refusal log are in dialcheck.py.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.campaigns import dialcheck, floor
from ivr.campaigns import eligibility as el
from ivr.campaigns.model import CONNECTED, DROPPED, HUNG_UP, PREVIEW, Campaign
from ivr.campaigns.models import Attempt, CampaignState, Contact
from ivr.dialpolicy import DialPolicy

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]
RUNNING, PAUSED, STOPPED = "running", "paused", "stopped"
ACCOUNT_PREFIX = "cmp-"  # every campaign call's account code and channel id start so
CLAIM_BATCHES = 10  # batches of refused contacts looked through in one claim


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def new_linkedid() -> str:
    return f"{ACCOUNT_PREFIX}{secrets.token_hex(10)}"


def account(attempt_id: int) -> str:
    return f"{ACCOUNT_PREFIX}{attempt_id}"


@dataclass(frozen=True)
class ContactRecord:
    id: int
    campaign_id: str
    list_id: int
    number: str
    name: str
    zone: str | None
    debtor: str | None
    amount_due: Any
    due_date: date | None
    invoice: str | None
    company: str | None
    contact_person: str | None
    address: str | None
    extra: dict[str, Any]
    status: str
    attempts: int
    next_at: datetime
    last_outcome: str | None
    result: str | None
    refusal: str | None

    @classmethod
    def of(cls, row: Contact) -> ContactRecord:
        return cls(
            row.id, row.campaign_id, row.list_id, row.number, row.name, row.zone, row.debtor,
            row.amount_due, row.due_date, row.invoice, row.company, row.contact_person,
            row.address, dict(row.extra or {}), row.status, row.attempts, row.next_at,
            row.last_outcome, row.result, row.refusal,
        )  # fmt: skip


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    campaign_id: str
    client_id: str
    contact_id: int
    seq: int
    number: str
    linkedid: str
    engine: str
    mode: str
    operator: str | None
    placed_at: datetime
    answered_at: datetime | None
    amd: str | None
    connected_at: datetime | None
    dropped_at: datetime | None
    ended_at: datetime | None
    system_outcome: str | None
    detail: str | None
    recording_path: str | None
    outcome: str | None
    outcome_by: str | None
    outcome_at: datetime | None
    promise_amount: Any
    promise_date: date | None
    callback_at: datetime | None
    appointment_id: int | None
    notes: str | None
    data: dict[str, Any]

    @classmethod
    def of(cls, row: Attempt) -> AttemptRecord:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Claimed:
    contact: ContactRecord
    attempt: AttemptRecord | None  # None: a preview, no call yet
    operator: str | None  # the operator it is for (None: any)


# -- campaign state -----------------------------------------------------------------------


async def set_status(
    sessions: Sessions, campaign_id: str, status: str, now: datetime, by: str | None = None
) -> None:
    for _ in range(2):  # a racing first insert: update it then
        try:
            async with sessions.begin() as session:
                row = await session.get(CampaignState, campaign_id)
                if row is None:
                    session.add(CampaignState(campaign_id=campaign_id, status=status,
                                              changed_at=now, changed_by=by))  # fmt: skip
                else:
                    row.status, row.changed_at, row.changed_by = status, now, by
            return
        except IntegrityError:
            continue


async def states(sessions: Sessions) -> dict[str, CampaignState]:
    async with sessions() as session:
        return {row.campaign_id: row for row in await session.scalars(select(CampaignState))}


async def set_ratio(sessions: Sessions, campaign_id: str, ratio: float) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(CampaignState)
            .where(CampaignState.campaign_id == campaign_id)
            .values(ratio=ratio)
        )


# -- claims ---------------------------------------------------------------------------------


async def claim(
    sessions: Sessions,
    campaign: Campaign,
    *,
    engine: str,
    now: datetime,
    operators: list[str | None],
    policy: DialPolicy,
    register_max_days: int,
    recording_dir: str | None = None,
    own_customers_days: int = floor.OWN_CUSTOMERS_MAX_DAYS,
    rest_days: int = floor.ABANDON_REST_DAYS,
    free_operators: int = 0,
) -> list[Claimed]:
    """Claim up to len(operators) contacts that may be called now, one per operator (None:
    any operator); write each one's attempt row before anything is dialled. Contacts that may
    not be called are refused (and logged) or put off until they may. free_operators: how
    many operators are free now (ratio lines), for numbers that need one after a rest."""
    if not operators:
        return []
    out: list[Claimed] = []
    wanted = list(operators)
    seen: set[int] = set()
    rules = dialcheck.Rules(policy, register_max_days, own_customers_days, rest_days)
    spare = free_operators
    async with sessions.begin() as session:
        fresh = None
        if campaign.register_required:  # a list not checked lately is not dialled at all
            fresh = await dialcheck.fresh_lists(session, campaign, now, register_max_days)
        for _ in range(CLAIM_BATCHES):
            # Lock no more rows than still wanted: what this engine locks, another skips.
            query = (
                select(Contact)
                .where(
                    Contact.campaign_id == campaign.id,
                    Contact.status == el.PENDING,
                    Contact.next_at <= now,
                )
                .order_by(Contact.next_at, Contact.id)
                .limit(len(wanted))
            )
            if fresh is not None:
                query = query.where(Contact.list_id.in_(fresh))
            if seen:
                query = query.where(Contact.id.not_in(seen))
            if _postgres(session):
                query = query.with_for_update(skip_locked=True)
            rows = list(await session.scalars(query))
            if not rows:
                break
            seen.update(row.id for row in rows)
            facts = await dialcheck.facts(session, campaign, rows, now, rest_days)
            for row in rows:
                operator = _operator_for(row, wanted)
                if operator is _NOBODY:
                    continue  # only its excluded operator is free: left for another one
                # A line for any operator (ratio) counts as one with an operator free only
                # while the operators free now outnumber such lines already claimed.
                free = operator is not None or (facts[row.id].needs_operator and spare > 0)
                refusal = dialcheck.judge(campaign, facts[row.id], now, rules, free)
                if refusal is None and operator is None and facts[row.id].needs_operator:
                    spare -= 1
                if refusal is not None:
                    await dialcheck.refuse(session, campaign, row, refusal, now)
                    continue
                claimed = await _take(session, campaign, row, engine, operator, now,
                                      recording_dir)  # fmt: skip
                if claimed is not None:
                    wanted.remove(operator)
                    out.append(claimed)
                if not wanted:
                    break
            if not wanted:
                break
    return out


_NOBODY = "\0"


def _operator_for(row: Contact, wanted: list[str | None]) -> str | None:
    """The first wanted operator this contact may be given to. A contact that names an
    operator it must not go to (a verification call: never the one who set the appointment)
    needs a chosen operator other than that one."""
    excluded = (row.extra or {}).get("not_operator")
    if not excluded:
        return wanted[0]
    return next((op for op in wanted if op is not None and op != excluded), _NOBODY)


async def _take(
    session: AsyncSession,
    campaign: Campaign,
    row: Contact,
    engine: str,
    operator: str | None,
    now: datetime,
    recording_dir: str | None,
) -> Claimed | None:
    """Claim one contact (compare-and-set on its status) and write its attempt."""
    preview = campaign.mode == PREVIEW
    result = await session.execute(
        update(Contact)
        .where(Contact.id == row.id, Contact.status == el.PENDING)
        .values(
            status=el.PREVIEWING if preview else el.DIALLING,
            claimed_by=engine,
            claimed_at=now,
            attempts=Contact.attempts + (0 if preview else 1),
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return None  # another engine has it
    attempt = None
    if not preview:
        attempt = await _add_attempt(
            session, campaign, row.id, row.attempts + 1, row.number, engine, operator, now,
            recording_dir,
        )  # fmt: skip
    await session.refresh(row)
    return Claimed(ContactRecord.of(row), attempt, operator)


async def _add_attempt(
    session: AsyncSession,
    campaign: Campaign,
    contact_id: int,
    seq: int,
    number: str,
    engine: str,
    operator: str | None,
    now: datetime,
    recording_dir: str | None,
) -> AttemptRecord:
    row = Attempt(
        campaign_id=campaign.id, client_id=campaign.client_id, contact_id=contact_id, seq=seq,
        number=number, linkedid=new_linkedid(), engine=engine, mode=campaign.mode,
        operator=operator, placed_at=now, data={},
    )  # fmt: skip
    session.add(row)
    await session.flush()
    if recording_dir and campaign.recording:
        row.recording_path = f"{recording_dir}/{campaign.id}/{row.id}.wav"
    return AttemptRecord.of(row)


async def start_preview_call(
    sessions: Sessions,
    campaign: Campaign,
    contact_id: int,
    *,
    engine: str,
    operator: str,
    now: datetime,
    rules: dialcheck.Rules,
    recording_dir: str | None = None,
) -> AttemptRecord | el.Refusal | None:
    """The operator pressed call on a preview card (or the card dialled by itself): the same
    dial-time check as any call, then the attempt row. A refusal is logged and the contact
    goes back (or out) as the refusal says; None: the card is no longer there."""
    async with sessions.begin() as session:
        row = await session.get(Contact, contact_id)
        if row is None or row.status != el.PREVIEWING:
            return None
        facts = await dialcheck.facts(session, campaign, [row], now, rules.rest_days)
        refusal = dialcheck.judge(campaign, facts[row.id], now, rules, True)
        if refusal is not None:
            row.status, row.claimed_by, row.claimed_at = el.PENDING, None, None
            await dialcheck.refuse(session, campaign, row, refusal, now)
            return refusal
        result = await session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.status == el.PREVIEWING)
            .values(status=el.DIALLING, attempts=Contact.attempts + 1, claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return None
        row = await session.get(Contact, contact_id)
        assert row is not None
        await session.refresh(row)
        return await _add_attempt(
            session, campaign, row.id, row.attempts, row.number, engine, operator, now,
            recording_dir,
        )  # fmt: skip


async def release(sessions: Sessions, contact_id: int, status_from: str) -> bool:
    """A preview skipped or expired: the contact goes back, untouched."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Contact)
            .where(Contact.id == contact_id, Contact.status == status_from)
            .values(status=el.PENDING, claimed_by=None, claimed_at=None)
        )
    return bool(getattr(result, "rowcount", 0))


# -- what a call did ------------------------------------------------------------------------


async def attempt_by_linkedid(sessions: Sessions, linkedid: str) -> AttemptRecord | None:
    async with sessions() as session:
        row = await session.scalar(select(Attempt).where(Attempt.linkedid == linkedid))
        return None if row is None else AttemptRecord.of(row)


async def get_attempt(sessions: Sessions, attempt_id: int) -> AttemptRecord | None:
    async with sessions() as session:
        row = await session.get(Attempt, attempt_id)
        return None if row is None else AttemptRecord.of(row)


async def get_contact(sessions: Sessions, contact_id: int) -> ContactRecord | None:
    async with sessions() as session:
        row = await session.get(Contact, contact_id)
        return None if row is None else ContactRecord.of(row)


async def note(sessions: Sessions, linkedid: str, **values: Any) -> bool:
    """Write facts about an attempt (answered_at, amd, connected_at, operator, dropped_at),
    each only where it is not known yet: the first delivery of an event wins."""
    async with sessions.begin() as session:
        row = await session.scalar(select(Attempt).where(Attempt.linkedid == linkedid))
        if row is None:
            return False
        changed = False
        for name, value in values.items():
            if getattr(row, name) is None and value is not None:
                setattr(row, name, value)
                changed = True
        return changed


async def close_attempt(
    sessions: Sessions,
    campaign_of: Callable[[str], Campaign | None],
    linkedid: str,
    outcome: str,
    now: datetime,
    detail: str | None,
    rest_days: int,
) -> AttemptRecord | None:
    """The call ended: its system outcome, and what becomes of the contact. None when it was
    closed before (by another engine, or by a second delivery of the event)."""
    async with sessions.begin() as session:
        query = select(Attempt).where(Attempt.linkedid == linkedid, Attempt.ended_at.is_(None))
        if _postgres(session):
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None:
            return None
        if row.dropped_at is not None:
            outcome = DROPPED
        elif row.connected_at is not None:
            outcome = CONNECTED
        elif outcome == HUNG_UP:  # answered, gone in the silence: abandoned, as a drop
            outcome, detail = DROPPED, "hung up before an operator took the call"
        row.ended_at, row.system_outcome, row.detail = now, outcome, detail
        contact = await session.get(Contact, row.contact_id)
        if contact is not None and contact.status in (el.DIALLING, el.TALKING):
            campaign = campaign_of(row.campaign_id)
            if row.outcome is not None:  # the operator saved it during the call
                nxt = el.after_outcome(row.outcome, row.callback_at, now)
                contact.status, contact.next_at = nxt.status, nxt.next_at
            else:  # no operator's outcome (yet): the call's own decides
                if campaign is None:
                    nxt = el.Next(el.PENDING, now + timedelta(hours=2), outcome)
                else:
                    nxt = el.after_call(campaign, outcome, now, contact.attempts, rest_days)
                contact.status, contact.next_at = nxt.status, max(contact.next_at, nxt.next_at)
            contact.last_outcome = outcome
            contact.claimed_by = None
        if outcome == DROPPED:  # no campaign calls this number again for rest_days
            rest_until = now + timedelta(days=rest_days)
            await session.execute(
                update(Contact)
                .where(Contact.number == row.number, Contact.next_at < rest_until)
                .values(next_at=rest_until)
                .execution_options(synchronize_session=False)
            )
        return AttemptRecord.of(row)


async def open_attempts(sessions: Sessions) -> list[AttemptRecord]:
    """Attempts whose call has not ended (as far as the rows know)."""
    async with sessions() as session:
        rows = await session.scalars(select(Attempt).where(Attempt.ended_at.is_(None)))
        return [AttemptRecord.of(row) for row in rows]
