"""Verification calls: the appointments drawn (or contested) become contacts of their
campaign's verification campaign, which the dialer works like any other. Each call is given
to an operator other than the one who set the appointment (the contact's `not_operator`, see
ivr.campaigns.store.claim); the operator's answer is stored here, in the outcome's own
transaction, with what it means for a contest on that appointment.

Contested appointments are verified first: their contacts are due from the appointment's end,
earlier than any sample drawn after the month (see the dialer's claim order, by due time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.billing import audit
from ivr.billing.form import VERIFIED
from ivr.billing.models import Contest, Verification
from ivr.campaigns import eligibility as el
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Attempt, CampaignState, Contact, ContactList

log = logging.getLogger(__name__)
LIST_NAME = "verification calls"
# Contest reasons a verification call can show wrong: the visit happened after all.
DISPROVABLE = ("did-not-happen",)


def _snapshot(row: Verification) -> dict[str, Any]:
    return {
        "status": row.status, "happened": row.happened, "visited_at": row.visited_at,
        "spoke_with": row.spoke_with, "visit_outcome": row.visit_outcome, "notes": row.notes,
        "by": row.verified_by, "sampled": row.sampled, "contested": row.contested,
    }  # fmt: skip


async def add(
    session: AsyncSession,
    campaigns: list[Campaign],
    appointment_ids: Iterable[int],
    now: datetime,
    *,
    draw_id: int | None = None,
    contested: bool = False,
) -> list[Verification]:
    """A verification call for each appointment (one per appointment: drawn and contested
    both mark the same one); its campaign is started if it never was."""
    checking = {c.verifies: c for c in campaigns if c.verifies}
    out = []
    for appointment_id in appointment_ids:
        appointment = await session.get(Appointment, appointment_id)
        campaign = checking.get(appointment.campaign_id) if appointment else None
        if appointment is None or campaign is None:
            continue
        row = await session.scalar(
            select(Verification).where(Verification.appointment_id == appointment_id)
        )
        due = min(appointment.ends_at, now) if contested else now
        if row is None:
            row = Verification(
                client_id=appointment.client_id, appointment_id=appointment.id,
                campaign_id=campaign.id, draw_id=draw_id, sampled=draw_id is not None,
                contested=contested, not_operator=appointment.booked_by, created_at=now,
                status="pending",
            )  # fmt: skip
            session.add(row)
            await session.flush()
            row.contact_id = await _contact(session, campaign, appointment, row, due, now)
        else:
            if draw_id is not None:
                row.sampled, row.draw_id = True, draw_id
            if contested and not row.contested:
                row.contested = True
                contact = await session.get(Contact, row.contact_id) if row.contact_id else None
                if contact is not None and contact.status == el.PENDING:
                    contact.next_at = min(contact.next_at, due)  # ahead of the sample
        out.append(row)
        await _start(session, campaign.id, now)
    return out


async def _contact(
    session: AsyncSession,
    campaign: Campaign,
    appointment: Appointment,
    row: Verification,
    due: datetime,
    now: datetime,
) -> int | None:
    booked = await session.get(Contact, appointment.contact_id)
    if booked is None:
        return None
    listed = await session.scalar(select(ContactList).where(ContactList.campaign_id == campaign.id))
    if listed is None:
        listed = ContactList(campaign_id=campaign.id, client_id=campaign.client_id,
                             name=LIST_NAME, imported_at=now, rows=0, added=0, merged=0, bad=0,
                             register_checked_on=None)  # fmt: skip
        session.add(listed)
        await session.flush()
    extra = {"verification": row.id, "appointment": appointment.id,
             "not_operator": appointment.booked_by, "contested": row.contested}  # fmt: skip
    contact = await session.scalar(
        select(Contact).where(Contact.campaign_id == campaign.id, Contact.number == booked.number)
    )
    if contact is None:
        contact = Contact(
            campaign_id=campaign.id, list_id=listed.id, number=booked.number, name=booked.name,
            zone=booked.zone, company=booked.company, contact_person=booked.contact_person,
            address=appointment.address, extra=extra, status=el.PENDING, attempts=0,
            next_at=due, in_register=False,
        )  # fmt: skip
        session.add(contact)
        listed.rows += 1
        listed.added += 1
    else:  # the same business verified again for another appointment: called again
        contact.extra, contact.status, contact.next_at = extra, el.PENDING, due
        contact.address, contact.result, contact.refusal = appointment.address, None, None
    await session.flush()
    return contact.id


async def _start(session: AsyncSession, campaign_id: str, now: datetime) -> None:
    """Start the verification campaign the first time; a manager's pause or stop stands."""
    if await session.get(CampaignState, campaign_id) is None:
        session.add(CampaignState(campaign_id=campaign_id, status="running", changed_at=now,
                                  changed_by="verification sample"))  # fmt: skip


async def record_answer(
    session: AsyncSession,
    attempt: Attempt,
    outcome: str,
    data: dict[str, Any],
    notes: str,
    operator: str,
    now: datetime,
) -> None:
    """The operator's outcome of a verification call (in the outcome's transaction)."""
    contact = await session.get(Contact, attempt.contact_id)
    found = (contact.extra or {}).get("verification") if contact is not None else None
    row = await session.get(Verification, int(found)) if found else None
    if row is None:
        log.warning("verification call %s: no verification for contact %s", attempt.id,
                    attempt.contact_id)  # fmt: skip
        return
    before = _snapshot(row)
    if outcome == VERIFIED:
        row.status, row.happened = "done", bool(data.get("happened"))
        visited = data.get("visited_at")
        row.visited_at = datetime.fromisoformat(visited) if visited else None
        row.spoke_with = str(data.get("spoke_with") or "")[:255] or None
        row.visit_outcome = data.get("visit_outcome") or None
    elif outcome == "refuses":
        row.status = "refused"
    elif outcome == "wrong-number":
        row.status = "unreachable"
    else:
        return  # a call back: the answer is still to come
    row.notes = notes or None
    row.attempt_id, row.verified_by, row.verified_at = attempt.id, operator, now
    await audit.record(session, row.client_id, operator, f"A{row.appointment_id}",
                       "verification call", before, _snapshot(row), now)  # fmt: skip
    await after_verification(session, row, operator, now)


async def after_verification(
    session: AsyncSession, row: Verification, who: str, now: datetime
) -> None:
    """What a verification's answer says of a contest on its appointment: a contest that the
    visit did not happen is shown wrong when it did (and the client's other open contests are
    questioned), shown right when it did not."""
    contest = await session.scalar(
        select(Contest).where(Contest.client_id == row.client_id,
                              Contest.result_key == f"A{row.appointment_id}")
    )  # fmt: skip
    if contest is None or contest.status != "open" or row.happened is None:
        return
    if contest.reason not in DISPROVABLE:
        return
    verdict = "shown-wrong" if row.happened else "shown-right"
    if contest.verdict == verdict:
        return
    before = {"verdict": contest.verdict}
    contest.verdict, contest.verdict_at = verdict, now
    await audit.record(session, row.client_id, who, f"contest {contest.id}", verdict, before,
                       {"verdict": verdict, "verification": row.id}, now)  # fmt: skip
    if verdict != "shown-wrong":
        return
    others = await session.scalars(
        select(Contest).where(Contest.client_id == row.client_id, Contest.status == "open",
                              Contest.id != contest.id, Contest.questioned_by.is_(None))
    )  # fmt: skip
    for other in others:
        other.questioned_by, other.questioned_at = contest.id, now
        await audit.record(session, row.client_id, who, f"contest {other.id}", "questioned",
                           None, {"because": f"contest {contest.id} shown wrong"}, now)  # fmt: skip


async def card_facts(session: AsyncSession, contact_id: int) -> dict[str, Any] | None:
    """What the verifying operator's card shows: the appointment, and why it is verified."""
    contact = await session.get(Contact, contact_id)
    found = (contact.extra or {}).get("verification") if contact is not None else None
    row = await session.get(Verification, int(found)) if found else None
    if row is None:
        return None
    appointment = await session.get(Appointment, row.appointment_id)
    if appointment is None:
        return None
    return {
        "verification": row.id,
        "appointment": appointment.id,
        "starts_at": appointment.starts_at,
        "salesperson": appointment.salesperson,
        "address": appointment.address,
        "booked_by": appointment.booked_by,
        "booked_at": appointment.booked_at,
        "sampled": row.sampled,
        "contested": row.contested,
    }
