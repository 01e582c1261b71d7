"""Where a later feature adds to the campaigns without the campaigns knowing it: the billing
feature turns a campaign's `billing:` section into its terms, derives the verification
campaign, reads and records the verification form and logs each result that changes.

Dependencies run one way: the extension imports the campaigns, the campaigns import only
this Protocol; the extension registers itself here when its package is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ivr.campaigns.model import Campaign
    from ivr.campaigns.models import Attempt
    from ivr.campaigns.outcomes import OutcomeForm
    from ivr.campaigns.store import Sessions
    from ivr.campaigns.terms_spec import BillingSpec
    from ivr.routing.source import Where


class CampaignExtension(Protocol):
    def terms(
        self, spec: BillingSpec, kind: str, error: Callable[[Where, str], None]
    ) -> object | None:
        """The campaign's terms from its `billing:` section (kept as Campaign.billing); every
        problem goes to error(where, message)."""

    def derived(self, campaign: Campaign) -> Campaign | None:
        """A campaign this one brings with it (loaded beside it), or None."""

    def read_outcome(
        self, campaign: Campaign, raw: Mapping[str, str], now: datetime, zone: str, lang: str,
        form: OutcomeForm,
    ) -> None:  # fmt: skip
        """The extension's fields of an outcome form into form.data, or form.errors."""

    async def outcome_saved(
        self, session: AsyncSession, campaign: Campaign, attempt: Attempt, form: OutcomeForm,
        booked_before: dict[str, object] | None, outcome_before: str | None, operator: str,
        now: datetime,
    ) -> None:  # fmt: skip
        """An outcome is being stored (in its transaction): what the extension records."""

    async def card(
        self, sessions: Sessions, campaign: Campaign, contact_id: int, lang: str
    ) -> dict[str, object]:
        """More values for the operator's card template."""


_extensions: list[CampaignExtension] = []


def register(extension: CampaignExtension) -> None:
    if extension not in _extensions:
        _extensions.append(extension)


def registered() -> tuple[CampaignExtension, ...]:
    return tuple(_extensions)
