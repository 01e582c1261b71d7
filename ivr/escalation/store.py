"""Escalation rows: start a run, claim an attempt before calling, record what happened.

Every write is safe to repeat: a run is started once per key, an attempt is claimed once per
slot, an outcome is written once (the first writer wins) except that an acknowledgement
always wins, and a run counts its acknowledgement once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.clock import utcnow
from ivr.escalation.ladder import ACKNOWLEDGED, REFUSED, RUNNING, Attempt, Plan, Slot
from ivr.escalation.limits import WINDOW_SECONDS, Limits, refusal
from ivr.escalation.models import EscalationAttempt, EscalationRun
from ivr.oncall import store as oncall
from ivr.selfservice.store import ladder_for

# Any constant will do: the same in every engine sharing the database.
_STARTS_LOCK = 0x1ADDE25

if TYPE_CHECKING:
    from ivr.services import Services

log = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class AttemptRecord:
    """One call to a contact, as the operator console and `ivr escalations` show it."""

    id: int
    run_id: int
    linkedid: str
    ladder: str
    round: int
    contact: int
    try_: int
    contact_name: str
    number: str
    placed_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None  # None while the call is in progress
    detail: str | None

    @classmethod
    def of(cls, row: EscalationAttempt, run: EscalationRun) -> AttemptRecord:
        return cls(
            row.id,
            row.run_id,
            run.linkedid,
            run.ladder,
            row.round,
            row.contact,
            row.try_,
            row.contact_name,
            row.number,
            row.placed_at,
            row.answered_at,
            row.ended_at,
            row.outcome,
            row.detail,
        )

    def state(self) -> Attempt:
        return Attempt(
            Slot(self.round, self.contact, self.try_), self.placed_at, self.ended_at, self.outcome
        )


@dataclass(frozen=True)
class RunRecord:
    id: int
    key: str
    linkedid: str
    client_id: str | None
    client_name: str | None
    ladder: str
    plan: Plan | None
    message_path: str | None
    caller_name: str | None
    callback: str | None
    started_at: datetime
    status: str
    ended_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mailed_at: datetime | None
    mail_result: str | None
    caller_number: str | None = None
    reason: str | None = None  # why it was refused

    @classmethod
    def of(cls, row: EscalationRun) -> RunRecord:
        return cls(
            row.id,
            row.key,
            row.linkedid,
            row.client_id,
            row.client_name,
            row.ladder,
            Plan.from_json(row.plan) if row.plan else None,
            row.message_path,
            row.caller_name,
            row.callback,
            row.started_at,
            row.status,
            row.ended_at,
            row.acknowledged_at,
            row.acknowledged_by,
            row.mailed_at,
            row.mail_result,
            row.caller_number,
            row.reason,
        )


class EscalationRefused(Exception):
    """The ladder was not started (a rate limit, a withheld caller); the refused run is
    stored, so `ivr escalations` and the supervisor show it."""

    def __init__(self, run_id: int, reason: str) -> None:
        super().__init__(reason)
        self.run_id = run_id
        self.reason = reason


def _sessions(services_or_sessions: Services | Sessions) -> Sessions:
    sessions = getattr(services_or_sessions, "sessions", services_or_sessions)
    return sessions  # type: ignore[return-value]


async def start_escalation(
    services_or_sessions: Services | Sessions,
    *,
    linkedid: str,
    client_id: str | None,
    ladder: str,
    message_path: str | None,
    caller_name: str | None,
    callback: str | None,
    caller_number: str | None = None,
    now: datetime | None = None,
) -> int:
    """Start the ladder `ladder` for the call `linkedid`; return the run's id.

    Idempotent per (call, ladder): the same trigger twice returns the first run. Given the
    engine's Services (the IVR, the console), the ladder and the client are looked up now,
    so an unknown ladder is refused at once with a KeyError, and the rate limits apply: a
    refused start is stored with its reason and raises EscalationRefused. Given only
    sessions (code with no rules), the scheduler looks the ladder up when it picks the run
    up, and no limit applies.
    """
    sessions = _sessions(services_or_sessions)
    plan: dict[str, Any] | None = None
    client_name: str | None = None
    now = now or getattr(services_or_sessions, "clock", utcnow)()  # the services'
    reason: str | None = None
    limits: Limits | None = None
    rules = getattr(getattr(services_or_sessions, "rules", None), "current", None)
    if rules is not None:
        found = rules.ladders.get(ladder)
        if found is None:
            raise KeyError(f"no escalation ladder {ladder!r} in the rules")
        found = await ladder_for(sessions, client_id, found)  # the client's own contacts
        client = rules.clients.get(client_id) if client_id else None
        found = await oncall.staffed(sessions, client, found, now)  # whoever is on call now
        timezone = client.card.timezone if client else "UTC"
        client_name = client.card.name if client else None
        plan = Plan.of(found, timezone).to_json()
        settings = getattr(services_or_sessions, "settings", None)
        if settings is not None:
            limits = Limits(
                settings.escalation_per_caller_hour,
                settings.escalation_per_client_hour,
                bool(client and client.escalate_withheld),
            )
    key = f"{linkedid}|{ladder}"
    row = EscalationRun(
        key=key,
        linkedid=linkedid,
        client_id=client_id,
        client_name=client_name,
        ladder=ladder,
        plan=plan,
        message_path=message_path or None,
        caller_name=caller_name or None,
        callback=callback or None,
        caller_number=caller_number,
        started_at=now,
        status=RUNNING,
    )
    try:
        async with sessions.begin() as session:
            if limits is not None:
                # Counted and written in one transaction, one start at a time across every
                # engine sharing the database: two engines cannot both take the last ladder.
                if session.get_bind().dialect.name == "postgresql":
                    await session.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTS_LOCK}
                    )
                by_caller, by_client = await _recent(session, caller_number, client_id, now)
                reason = refusal(limits, caller_number, by_caller, by_client)
                if reason is not None:
                    row.status, row.ended_at, row.reason = REFUSED, now, reason
            session.add(row)
    except IntegrityError:
        async with sessions() as session:
            existing = await session.scalar(
                select(EscalationRun.id).where(EscalationRun.key == key)
            )
        assert existing is not None
        log.info(
            "escalation for call %s, ladder %s already started (%d)", linkedid, ladder, existing
        )
        return existing
    if reason is not None:
        log.warning("escalation for call %s, ladder %s refused: %s", linkedid, ladder, reason)
        raise EscalationRefused(row.id, reason)
    log.info("escalation %d started: call %s, ladder %s", row.id, linkedid, ladder)
    alarms = getattr(services_or_sessions, "alarms", None)
    if alarms is not None:
        alarms.wake("escalations")  # the engine's scheduler picks the new ladder up now
    return row.id


async def _recent(
    session: AsyncSession, caller_number: str | None, client_id: str | None, now: datetime
) -> tuple[int, int]:
    """Ladders started (not refused) in the last hour by this number and for this client."""
    since = now - timedelta(seconds=WINDOW_SECONDS)
    started = (EscalationRun.started_at >= since, EscalationRun.status != REFUSED)
    by_caller = by_client = 0
    if caller_number:
        by_caller = (
            await session.scalar(
                select(func.count())
                .select_from(EscalationRun)
                .where(*started, EscalationRun.caller_number == caller_number)
            )
            or 0
        )
    if client_id:
        by_client = (
            await session.scalar(
                select(func.count())
                .select_from(EscalationRun)
                .where(*started, EscalationRun.client_id == client_id)
            )
            or 0
        )
    return by_caller, by_client


async def set_plan(sessions: Sessions, run_id: int, plan: Plan, client_name: str | None) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(EscalationRun)
            .where(EscalationRun.id == run_id, EscalationRun.plan.is_(None))
            .values(plan=plan.to_json(), client_name=client_name)
        )


async def running(sessions: Sessions) -> list[tuple[RunRecord, list[AttemptRecord]]]:
    """Every running ladder with its attempts so far."""
    async with sessions() as session:
        runs = (
            await session.scalars(select(EscalationRun).where(EscalationRun.status == RUNNING))
        ).all()
        if not runs:
            return []
        by_run: dict[int, list[AttemptRecord]] = {run.id: [] for run in runs}
        rows = await session.scalars(
            select(EscalationAttempt).where(EscalationAttempt.run_id.in_(list(by_run)))
        )
        runs_by_id = {run.id: run for run in runs}
        for row in rows:
            by_run[row.run_id].append(AttemptRecord.of(row, runs_by_id[row.run_id]))
    return [(RunRecord.of(run), by_run[run.id]) for run in runs]


async def claim_attempt(
    sessions: Sessions, run_id: int, slot: Slot, name: str, number: str, now: datetime
) -> int | None:
    """Write the attempt's row before calling; None if this slot already has one."""
    row = EscalationAttempt(
        run_id=run_id,
        round=slot.round,
        contact=slot.contact,
        try_=slot.try_,
        contact_name=name,
        number=number,
        placed_at=now,
    )
    try:
        async with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        return None
    return row.id


async def close_attempt(
    sessions: Sessions, attempt_id: int, outcome: str, now: datetime, detail: str | None = None
) -> bool:
    """Record what happened, unless something already was (the first writer wins)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(EscalationAttempt)
            .where(EscalationAttempt.id == attempt_id, EscalationAttempt.outcome.is_(None))
            .values(outcome=outcome, ended_at=now, detail=detail)
        )
    return bool(getattr(result, "rowcount", 0))


async def mark_answered(sessions: Sessions, attempt_id: int, now: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(EscalationAttempt)
            .where(EscalationAttempt.id == attempt_id, EscalationAttempt.answered_at.is_(None))
            .values(answered_at=now)
        )


async def acknowledge(
    sessions: Sessions, attempt_id: int, now: datetime, detail: str | None = None
) -> bool:
    """The contact pressed the key: the attempt and its run are acknowledged, once.

    True if this acknowledgement is the run's first (the one that counts).
    """
    async with sessions.begin() as session:
        attempt = await session.get(EscalationAttempt, attempt_id)
        if attempt is None:
            raise KeyError(f"no escalation attempt {attempt_id}")
        if attempt.outcome != ACKNOWLEDGED:
            attempt.outcome = ACKNOWLEDGED
            attempt.ended_at = now
            attempt.detail = detail
        result = await session.execute(
            update(EscalationRun)
            .where(EscalationRun.id == attempt.run_id, EscalationRun.acknowledged_at.is_(None))
            .values(
                acknowledged_at=now,
                acknowledged_by=attempt.contact_name,
                status=ACKNOWLEDGED,
                ended_at=now,
            )
        )
    return bool(getattr(result, "rowcount", 0))


async def finish_run(sessions: Sessions, run_id: int, status: str, now: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(EscalationRun)
            .where(EscalationRun.id == run_id, EscalationRun.status == RUNNING)
            .values(status=status, ended_at=now)
        )
    log.info("escalation %d ended: %s", run_id, status)


async def note_mail(sessions: Sessions, run_id: int, now: datetime, result: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(EscalationRun)
            .where(EscalationRun.id == run_id)
            .values(mailed_at=now, mail_result=result)
        )


async def attempt_with_run(
    sessions: Sessions, attempt_id: int
) -> tuple[AttemptRecord, RunRecord] | None:
    async with sessions() as session:
        attempt = await session.get(EscalationAttempt, attempt_id)
        if attempt is None:
            return None
        run = await session.get(EscalationRun, attempt.run_id)
        assert run is not None
        return AttemptRecord.of(attempt, run), RunRecord.of(run)


async def attempts_for_call(sessions: Sessions, linkedid: str) -> list[AttemptRecord]:
    """Every call placed to a contact because of the call `linkedid`, in order."""
    async with sessions() as session:
        rows = await session.execute(
            select(EscalationAttempt, EscalationRun)
            .join(EscalationRun, EscalationAttempt.run_id == EscalationRun.id)
            .where(EscalationRun.linkedid == linkedid)
            .order_by(EscalationAttempt.placed_at, EscalationAttempt.id)
        )
        return [AttemptRecord.of(attempt, run) for attempt, run in rows.all()]


async def runs_for_call(sessions: Sessions, linkedid: str) -> list[RunRecord]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EscalationRun)
            .where(EscalationRun.linkedid == linkedid)
            .order_by(EscalationRun.id)
        )
        return [RunRecord.of(row) for row in rows]


async def list_runs(sessions: Sessions, limit: int = 50) -> list[RunRecord]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EscalationRun).order_by(EscalationRun.started_at.desc()).limit(limit)
        )
        return [RunRecord.of(row) for row in rows]


async def refused_since(sessions: Sessions, since: datetime) -> list[RunRecord]:
    """Ladders refused since `since` (newest first): the supervisor's page lists them, with
    the calls refused by the dial policy (refused_attempts_since)."""
    async with sessions() as session:
        rows = await session.scalars(
            select(EscalationRun)
            .where(EscalationRun.status == REFUSED, EscalationRun.started_at >= since)
            .order_by(EscalationRun.started_at.desc())
            .limit(100)
        )
        return [RunRecord.of(row) for row in rows]


async def refused_attempts_since(sessions: Sessions, since: datetime) -> list[AttemptRecord]:
    async with sessions() as session:
        rows = await session.execute(
            select(EscalationAttempt, EscalationRun)
            .join(EscalationRun, EscalationAttempt.run_id == EscalationRun.id)
            .where(EscalationAttempt.outcome == REFUSED, EscalationAttempt.placed_at >= since)
            .order_by(EscalationAttempt.placed_at.desc())
            .limit(100)
        )
        return [AttemptRecord.of(attempt, run) for attempt, run in rows.all()]
