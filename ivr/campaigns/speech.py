"""What contacts hear, in the campaign's language (prompts synthesised once, then cached)."""

from __future__ import annotations

from ivr.campaigns.model import APPOINTMENT, PROMOTION, REMINDER, Campaign
from ivr.i18n import tr
from ivr.routing.model import Prompt


def drop_prompt(campaign: Campaign) -> Prompt:
    """Played to an answered contact no operator could take within 3 s: who called, and that
    the call will be made again."""
    text = tr(
        campaign.language,
        "Good morning, this is %(client)s. All our operators are busy at the moment:"
        " we will call you back. Goodbye.",
        client=campaign.client_name,
    )
    return Prompt(f"campaign-drop-{campaign.id}", text=text)


def recording_notice(language: str) -> str:
    """The fixed notice every recorded call hears before recording starts (catalogue)."""
    return tr(language, "This call is recorded for quality purposes.")


def announcement_prompt(campaign: Campaign) -> Prompt | None:
    """The fixed notice, then the campaign's own words if any: a campaign may add to the
    notice, never replace it. None: the campaign does not record."""
    if not campaign.recording:
        return None
    text = recording_notice(campaign.language)
    if campaign.announcement.strip():
        text = f"{text} {campaign.announcement.strip()}"
    return Prompt(f"campaign-announce-{campaign.id}", text=text)


def callback_purpose(campaign: Campaign) -> str:
    """Why the contact was called, fit for whoever answers a call back: never a debt (a
    reminder's is always the catalogue's: the loader refuses its own text)."""
    if campaign.callback and campaign.kind != REMINDER:
        return campaign.callback
    lang = campaign.language
    if campaign.kind == APPOINTMENT:
        return tr(lang, "to arrange an appointment with one of our consultants")
    if campaign.kind == PROMOTION:
        return tr(lang, "to present an offer")
    return tr(lang, "about a matter concerning you")


def callback_prompt(campaign: Campaign) -> Prompt:
    text = tr(
        campaign.language,
        "Good morning. You were called on behalf of %(client)s, %(purpose)s."
        " To speak to an operator, press 1.",
        client=campaign.client_name,
        purpose=callback_purpose(campaign),
    )
    return Prompt(f"campaign-callback-{campaign.id}", text=text)


def goodbye_prompt(language: str) -> Prompt:
    return Prompt("campaign-goodbye", text=tr(language, "Thank you, goodbye."))
