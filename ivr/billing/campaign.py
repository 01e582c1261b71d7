"""The verification campaign of an appointment campaign billed per result: the same client,
caller ID, operator groups and calling window, dialled by the same dialer; always recorded,
one call per free operator (each call is given to a chosen operator: never the one who set
the appointment), never an opposition-register matter (the businesses were visited)."""

from __future__ import annotations

import dataclasses

from ivr.campaigns.model import APPOINTMENT, PROGRESSIVE, VERIFICATION, Campaign
from ivr.i18n import tr

SUFFIX = "-verify"


def verification_id(campaign_id: str) -> str:
    return f"{campaign_id}{SUFFIX}"


def verification_of(campaign: Campaign) -> Campaign | None:
    """The campaign's verification campaign, if its contract has one."""
    terms = campaign.billing
    if campaign.kind != APPOINTMENT or terms is None or not terms.verify:
        return None
    lang = campaign.language
    return dataclasses.replace(
        campaign,
        id=verification_id(campaign.id),
        name=tr(lang, "Verification: %(name)s", name=campaign.name),
        kind=VERIFICATION,
        start=None,
        end=None,
        mode=PROGRESSIVE,
        preview_seconds=0,
        amd=False,
        own_customers=True,
        script=tr(
            lang,
            "Good morning, I am calling on behalf of {client} about the visit of one of our"
            " consultants to {company}: may I ask whether it took place, and how it went?",
        ),
        form=(),
        recording=True,
        announcement="",
        callback=tr(lang, "about a visit of one of our consultants"),
        salespeople=dict(campaign.salespeople),
        billing=None,
        verifies=campaign.id,
    )
