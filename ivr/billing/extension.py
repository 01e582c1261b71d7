"""What billing adds to the campaigns, through their extension hooks: the terms of a campaign's
`billing:` section, its verification campaign, the verification form and answer, the card's
verification facts, and the log of every result that changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ivr.billing import audit
from ivr.billing.campaign import verification_of
from ivr.billing.form import read_verification, visit_outcome_labels
from ivr.billing.terms import build_terms
from ivr.billing.verify import card_facts, record_answer
from ivr.campaigns.model import VERIFICATION, Campaign
from ivr.campaigns.models import Attempt
from ivr.campaigns.outcomes import OutcomeForm
from ivr.campaigns.results import appointment_of
from ivr.campaigns.store import Sessions
from ivr.campaigns.terms_spec import BillingSpec
from ivr.routing.source import Where


class BillingExtension:
    """Registered in the campaigns by the billing package (ivr/billing/__init__.py)."""

    def terms(
        self, spec: BillingSpec, kind: str, error: Callable[[Where, str], None]
    ) -> object | None:
        return build_terms(spec, kind, error)

    def derived(self, campaign: Campaign) -> Campaign | None:
        return verification_of(campaign)

    def read_outcome(
        self, campaign: Campaign, raw: Mapping[str, str], now: datetime, zone: str, lang: str,
        form: OutcomeForm,
    ) -> None:  # fmt: skip
        if campaign.kind == VERIFICATION:
            read_verification(raw, now, zone, lang, form)

    async def outcome_saved(
        self, session: AsyncSession, campaign: Campaign, attempt: Attempt, form: OutcomeForm,
        booked_before: dict[str, object] | None, outcome_before: str | None, operator: str,
        now: datetime,
    ) -> None:  # fmt: skip
        if campaign.billing is not None:  # a result booked, moved, undone: in the log
            await _log_result(session, campaign, attempt, booked_before, outcome_before,
                              operator, now)  # fmt: skip
        if campaign.kind == VERIFICATION:
            await record_answer(session, attempt, form.outcome, form.data, form.notes,
                                operator, now)  # fmt: skip

    async def card(
        self, sessions: Sessions, campaign: Campaign, contact_id: int, lang: str
    ) -> dict[str, object]:
        check = None
        if campaign.kind == VERIFICATION:  # the appointment being verified
            async with sessions() as session:
                check = await card_facts(session, contact_id)
            if check is not None:
                seller = campaign.salespeople.get(str(check["salesperson"]))
                check["salesperson_name"] = seller.name if seller else check["salesperson"]
        return {"check": check, "visit_outcomes": visit_outcome_labels(lang)}


async def _log_result(
    session: AsyncSession, campaign: Campaign, attempt: Attempt,
    before: dict[str, object] | None, outcome_before: str | None, operator: str, now: datetime,
) -> None:  # fmt: skip
    """A billed campaign's result as it changes: an appointment booked, moved or undone; a
    sale (or an interested contact) recorded or taken back."""
    after = await appointment_of(session, attempt)
    if after != before:
        subject = f"A{(after or before or {}).get('appointment')}"
        action = "booked" if before is None else ("undone" if after is None else "moved")
        await audit.record(session, campaign.client_id, operator, subject, action, before,
                           after, now)  # fmt: skip
    counted = ("sale", "interested")
    if attempt.outcome != outcome_before and (attempt.outcome in counted
                                              or outcome_before in counted):  # fmt: skip
        await audit.record(
            session,
            campaign.client_id,
            operator,
            f"S{attempt.id}",
            "outcome",
            {"outcome": outcome_before},
            {"outcome": attempt.outcome},
            now,
        )
