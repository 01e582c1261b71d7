"""Disputes: the client contests a result within its contract's period, with a reason and a
note; a contested appointment is verified first (on top of the sample); the dispute report
shows each contest's evidence (the booking call's recording and outcome form, the
verification call's recording and answers, the times, the audit); the center decides, and a
contest accepted becomes a credit, one rejected stays billed, with who decided and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.billing import audit, verify
from ivr.billing.audit import Entry
from ivr.billing.models import Contest, Statement, Verification
from ivr.billing.results import BILLABLE, Month, Result, find, gather
from ivr.billing.statement import issued
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Attempt
from ivr.i18n import tr

Sessions = async_sessionmaker[AsyncSession]
REASONS = ("did-not-happen", "wrong-person", "duplicate", "outside-target", "other")
NOTE_MAX = 2000
OPEN, CREDITED, REJECTED = "open", "credited", "rejected"
DECISIONS = {"credit": CREDITED, "reject": REJECTED}


def reason_labels(lang: str) -> dict[str, str]:
    return {
        "did-not-happen": tr(lang, "It did not happen"),
        "wrong-person": tr(lang, "Wrong person"),
        "duplicate": tr(lang, "Duplicate"),
        "outside-target": tr(lang, "Outside the agreed target"),
        "other": tr(lang, "Other"),
    }


def contest_until(
    result: Result, statement: Statement | None, campaigns: dict[str, Campaign]
) -> datetime | None:
    """Until when the result may be contested; None: until its statement is issued."""
    if statement is None:
        return None
    terms = campaigns[result.campaign_id].billing
    days = terms.contest_days if terms is not None else 0
    return statement.issued_at + timedelta(days=days)


def why_not(result: Result, statement: Statement | None, campaigns: dict[str, Campaign],
            now: datetime, lang: str) -> str | None:  # fmt: skip
    """Why this result cannot be contested now (None: it can)."""
    if result.contest is not None:
        return tr(lang, "This result is already contested.")
    if result.status != BILLABLE:
        return tr(lang, "Only a billed result can be contested.")
    until = contest_until(result, statement, campaigns)
    if until is not None and now > until:
        return tr(lang, "The period to contest this statement is over.")
    return None


async def file(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    zone: str,
    key: str,
    reason: str,
    note: str,
    who: str,
    now: datetime,
    lang: str = "en",
) -> tuple[Contest | None, str | None]:
    """Contest a result of the client: (the contest, None) or (None, why not)."""
    note = note.strip()
    if reason not in REASONS:
        return None, tr(lang, "Choose the reason.")
    if len(note) > NOTE_MAX:
        return None, tr(lang, "The note is too long.")
    by_id = {c.id: c for c in campaigns}
    try:
        async with sessions.begin() as session:
            found = await find(session, campaigns, client_id, key, zone, now)
            if found is None:
                return None, tr(lang, "There is no such result.")
            month, result = found
            problem = why_not(result, await issued(session, client_id, month), by_id, now, lang)
            if problem is not None:
                return None, problem
            row = Contest(client_id=client_id, result_key=key, campaign_id=result.campaign_id,
                          of_month=str(month), reason=reason, note=note, filed_by=who[:255],
                          filed_at=now, status=OPEN)  # fmt: skip
            session.add(row)
            await session.flush()
            await audit.record(session, client_id, who, f"contest {row.id}", "filed", None,
                               {"result": key, "reason": reason, "note": note}, now)  # fmt: skip
            if result.kind == "appointment":  # verified first, on top of the sample
                checks = await verify.add(session, campaigns, [int(key[1:])], now,
                                          contested=True)  # fmt: skip
                for check in checks:
                    if check.happened is not None:  # verified already (drawn in the sample)
                        await verify.after_verification(session, check, who, now)
        return row, None
    except IntegrityError:
        return None, tr(lang, "This result is already contested.")


async def decide(
    sessions: Sessions, client_id: str, contest_id: int, decision: str, by: str, note: str,
    now: datetime,
) -> str | None:  # fmt: skip
    """The center's decision: credit (the result is no longer billed) or reject (it stays
    billed). None, or why it cannot be taken."""
    status = DECISIONS.get(decision)
    if status is None:
        return f"a decision is credit or reject, not {decision!r}"
    async with sessions.begin() as session:
        row = await session.get(Contest, contest_id)
        if row is None or row.client_id != client_id:
            return f"no contest {contest_id} of {client_id}"
        if row.status != OPEN:
            return f"contest {contest_id} was decided already ({row.status} by {row.decided_by})"
        before = {"status": row.status}
        row.status, row.decided_by, row.decided_at = status, by[:255], now
        row.decision_note = note or None
        await audit.record(session, client_id, by, f"contest {row.id}", f"decided: {decision}",
                           before, {"status": status, "note": note}, now)  # fmt: skip
        await audit.record(session, client_id, by, row.result_key,
                           "credited" if status == CREDITED else "stays billed", None,
                           {"contest": row.id}, now)  # fmt: skip
    return None


@dataclass
class Evidence:
    """One contest and everything that tells whether it is right."""

    contest: Contest
    result: Result
    booking: Attempt | None  # the call that got the result
    appointment: Appointment | None
    verification: Verification | None
    verification_call: Attempt | None
    questioned_by: Contest | None
    log: list[Entry] = field(default_factory=list)


async def report(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    zone: str,
    now: datetime,
    month: Month | None = None,
    key: str | None = None,
) -> list[Evidence]:
    """The client's contests (of one month, or about one result), with their evidence."""
    async with sessions() as session:
        query = select(Contest).where(Contest.client_id == client_id)
        if month is not None:
            query = query.where(Contest.of_month == str(month))
        if key is not None:
            query = query.where(Contest.result_key == key)
        contests = list(await session.scalars(query.order_by(Contest.filed_at, Contest.id)))
        by_month: dict[str, dict[str, Result]] = {}
        out = []
        for contest in contests:
            if contest.of_month not in by_month:
                found = await gather(session, campaigns, client_id, Month.parse(contest.of_month),
                                     zone, now)  # fmt: skip
                by_month[contest.of_month] = {r.key: r for r in found}
            result = by_month[contest.of_month].get(contest.result_key)
            if result is None:
                continue
            out.append(await _evidence(session, client_id, contest, result))
        return out


async def _evidence(
    session: AsyncSession, client_id: str, contest: Contest, result: Result
) -> Evidence:
    booking = await session.get(Attempt, result.attempt_id)
    appointment = (
        await session.get(Appointment, int(result.key[1:])) if result.kind == "appointment"
        else None
    )  # fmt: skip
    check = result.verification
    call = await session.get(Attempt, check.attempt_id) if check and check.attempt_id else None
    questioned = (
        await session.get(Contest, contest.questioned_by) if contest.questioned_by else None
    )
    subjects = [result.key, f"contest {contest.id}"]
    log = await audit.entries(session, client_id, subjects)
    return Evidence(contest, result, booking, appointment, check, call, questioned, log)


def verdict_text(evidence: Evidence, lang: str) -> str:
    """What the report says of the contest in one sentence."""
    c = evidence.contest
    if c.verdict == "shown-wrong":
        return tr(lang, "Shown wrong: the verification call found that the visit took place.")
    if c.verdict == "shown-right":
        return tr(lang, "Confirmed by the verification call: the visit did not take place.")
    if evidence.verification is not None and evidence.verification.status == "pending":
        return tr(lang, "Waiting for the verification call.")
    return tr(lang, "For the center to decide.")


def text(items: list[Evidence], zone: str) -> str:
    """The dispute report as `ivr billing disputes` prints it."""
    from ivr.i18n import local_datetime

    def at(value: datetime | None) -> str:
        return local_datetime(value, zone, "en", "short") if value else "-"

    lines = []
    for e in items:
        c, r = e.contest, e.result
        lines.append(f"contest {c.id} on {r.key} ({r.kind}, {r.label}) of {c.of_month}:"
                     f" {c.reason}, filed {at(c.filed_at)} by {c.filed_by}")  # fmt: skip
        if c.note:
            lines.append(f"  note: {c.note}")
        if e.booking is not None:
            b = e.booking
            lines.append(f"  booking call {b.id}: placed {at(b.placed_at)}, answered"
                         f" {at(b.answered_at)}, with {b.operator} {at(b.connected_at)} to"
                         f" {at(b.ended_at)}; outcome {b.outcome} by {b.outcome_by}"
                         f" {at(b.outcome_at)}")  # fmt: skip
            lines.append(f"    recording: {b.recording_path or 'none'}; notes: {b.notes or '-'}")
        if e.appointment is not None:
            a = e.appointment
            lines.append(f"  appointment {a.id}: {at(a.starts_at)} with {a.salesperson} at"
                         f" {a.address}; booked by {a.booked_by} {at(a.booked_at)}")  # fmt: skip
        v = e.verification
        if v is not None:
            happened = {True: "yes", False: "no", None: "-"}[v.happened]
            lines.append(f"  verification {v.id} ({'sample' if v.sampled else ''}"
                         f"{'+' if v.sampled and v.contested else ''}"
                         f"{'contest' if v.contested else ''}): {v.status}; visit happened:"
                         f" {happened}, at {at(v.visited_at)}; spoke with {v.spoke_with or '-'};"
                         f" visit {v.visit_outcome or '-'}; by {v.verified_by or '-'}"
                         f" {at(v.verified_at)}")  # fmt: skip
            if v.notes:
                lines.append(f"    notes: {v.notes}")
        if e.verification_call is not None:
            call = e.verification_call
            lines.append(f"  verification call {call.id}: {at(call.connected_at)} to"
                         f" {at(call.ended_at)} with {call.operator}; recording:"
                         f" {call.recording_path or 'none'}")  # fmt: skip
        lines.append(f"  {verdict_text(e, 'en')}")
        if e.questioned_by is not None:
            lines.append(f"  questioned: contest {e.questioned_by.id} of this client was shown"
                         f" wrong {at(c.questioned_at)}")  # fmt: skip
        if c.status != OPEN:
            lines.append(
                f"  decided: {c.status} by {c.decided_by} {at(c.decided_at)}"
                + (f" ({c.decision_note})" if c.decision_note else "")
            )
        else:
            lines.append("  decision: open")
        for entry in e.log:
            lines.append(f"    log {at(entry.at)} {entry.who}: {entry.subject} {entry.action}"
                         f" {entry.before or ''} -> {entry.after or ''}")  # fmt: skip
    return "\n".join(lines) + ("\n" if lines else "no contests\n")
