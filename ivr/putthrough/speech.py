"""What the person hears when the engine calls them with a caller to put through: spoken once
by espeak-ng in the client's language (ivr.prompts), cached by its text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.i18n import tr
from ivr.routing.model import Prompt

if TYPE_CHECKING:
    from ivr.putthrough.service import Transfer


def spoken_digits(number: str) -> str:
    return " ".join(char for char in number if char.isdigit())


def announcement_text(t: Transfer) -> str:
    lang = t.language
    who = t.who or (
        tr(lang, "number %(number)s", number=spoken_digits(t.caller_number))
        if t.caller_number
        else tr(lang, "a caller who withheld the number")
    )
    parts = [tr(lang, "A call for %(client)s from %(who)s.", client=t.client.card.name, who=who)]
    if t.why:
        parts.append(tr(lang, "About: %(why)s.", why=t.why))
    parts.append(tr(lang, "Press 1 to take the call, 2 to decline it."))
    return " ".join(parts)


def announcement(t: Transfer) -> Prompt:
    return Prompt(f"putthrough-{t.attempt_id}", text=announcement_text(t))


def goodbye(t: Transfer) -> Prompt:
    return Prompt(
        "putthrough-goodbye", text=tr(t.language, "The operator takes a message. Goodbye.")
    )
