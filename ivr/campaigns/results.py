"""The operator's outcome of an outbound call, stored with what it implies: the contact is
done or called back, "do not call me" goes on the center's list at once, an appointment is
booked in the salesperson's calendar (never twice: a unique start per salesperson)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.campaigns import eligibility as el
from ivr.campaigns.extensions import registered
from ivr.campaigns.model import DO_NOT_CALL, Campaign
from ivr.campaigns.models import CENTER, Appointment, Attempt, Contact, DoNotCall
from ivr.campaigns.outcomes import OutcomeForm
from ivr.campaigns.store import Sessions

log = logging.getLogger(__name__)
NOT_FOUND, NOT_YOURS, TAKEN = "not-found", "not-yours", "taken"


async def booked(
    sessions: Sessions, client_id: str, salesperson: str, since: datetime
) -> list[datetime]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Appointment.starts_at).where(
                Appointment.client_id == client_id,
                Appointment.salesperson == salesperson,
                Appointment.starts_at >= since,
            )
        )
        return list(rows)


async def save_outcome(
    sessions: Sessions, campaign: Campaign, form: OutcomeForm, operator: str, now: datetime
) -> str | None:
    """Store it; None, or why not (NOT_FOUND, NOT_YOURS, TAKEN)."""
    try:
        async with sessions.begin() as session:
            attempt = await session.get(Attempt, form.attempt_id)
            if attempt is None or attempt.campaign_id != campaign.id:
                return NOT_FOUND
            if attempt.operator != operator:
                return NOT_YOURS
            booked_before, outcome_before = await appointment_of(session, attempt), attempt.outcome
            problem = await _book(session, campaign, attempt, form, operator, now)
            if problem is not None:
                return problem
            attempt.outcome, attempt.outcome_by, attempt.outcome_at = form.outcome, operator, now
            attempt.promise_amount, attempt.promise_date = form.promise_amount, form.promise_date
            attempt.callback_at = form.callback_at
            attempt.notes = form.notes or None
            attempt.data = dict(form.data)
            contact = await session.get(Contact, attempt.contact_id)
            if contact is not None:
                contact.result = form.outcome
                if attempt.ended_at is not None:  # else: applied when the call ends
                    nxt = el.after_outcome(form.outcome, form.callback_at, now)
                    contact.status, contact.next_at = nxt.status, nxt.next_at
            if form.outcome == DO_NOT_CALL:
                await _do_not_call(session, campaign, attempt, now)
            for extension in registered():
                await extension.outcome_saved(session, campaign, attempt, form, booked_before,
                                              outcome_before, operator, now)  # fmt: skip
    except IntegrityError:
        return TAKEN  # the slot was booked by someone else between the check and the commit
    log.info("campaign %s: outcome of call %s: %s (%s)", campaign.id, attempt.linkedid,
             form.outcome, operator)  # fmt: skip
    return None


async def appointment_of(session: AsyncSession, attempt: Attempt) -> dict[str, object] | None:
    """The appointment the call booked, as the results' log shows it; None: none."""
    if attempt.appointment_id is None:
        return None
    row = await session.get(Appointment, attempt.appointment_id)
    if row is None:
        return None
    return {"appointment": row.id, "salesperson": row.salesperson, "starts_at": row.starts_at}


async def _book(
    session: AsyncSession, campaign: Campaign, attempt: Attempt, form: OutcomeForm, operator: str,
    now: datetime,
) -> str | None:  # fmt: skip
    wanted = form.outcome == "appointment" and form.starts_at is not None
    if attempt.appointment_id is not None:
        current = await session.get(Appointment, attempt.appointment_id)
        keep = (
            current is not None
            and wanted
            and current.salesperson == form.salesperson
            and current.starts_at == form.starts_at
        )
        if keep:
            assert current is not None
            current.address = form.address
            return None
        await session.execute(delete(Appointment).where(Appointment.id == attempt.appointment_id))
        attempt.appointment_id = None
    if not wanted:
        return None
    assert form.starts_at is not None and form.salesperson is not None
    person = campaign.salespeople[form.salesperson]
    clash = await session.scalar(
        select(Appointment.id).where(
            Appointment.client_id == campaign.client_id,
            Appointment.salesperson == form.salesperson,
            Appointment.starts_at == form.starts_at,
        )
    )
    if clash is not None:
        return TAKEN
    row = Appointment(
        client_id=campaign.client_id, campaign_id=campaign.id, attempt_id=attempt.id,
        contact_id=attempt.contact_id, salesperson=form.salesperson, starts_at=form.starts_at,
        ends_at=form.starts_at + timedelta(minutes=person.slot), address=form.address,
        booked_by=operator, booked_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    attempt.appointment_id = row.id
    return None


async def _do_not_call(
    session: object, campaign: Campaign, attempt: Attempt, now: datetime
) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    found = await session.scalar(
        select(DoNotCall.id).where(DoNotCall.scope == CENTER, DoNotCall.number == attempt.number)
    )
    if found is None:
        session.add(
            DoNotCall(
                scope=CENTER,
                number=attempt.number,
                reason="asked not to be called",
                source=f"campaign {campaign.id}, call {attempt.id}",
                added_at=now,
            )  # fmt: skip
        )
        log.info("%s added to the center's do-not-call list (campaign %s)", attempt.number,
                 campaign.id)  # fmt: skip
