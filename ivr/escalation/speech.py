"""What an answered contact hears, in the client's language: spoken once by espeak-ng
(ivr.prompts), cached by text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.i18n import tr
from ivr.routing.model import Prompt

if TYPE_CHECKING:
    from ivr.escalation.store import RunRecord


def menu(lang: str) -> Prompt:
    return Prompt(
        "escalation-menu",
        text=tr(
            lang,
            "Press 1 to acknowledge this message. Press 2 to hear it again. "
            "Press 3 to be connected to the caller now.",
        ),
    )


def thanks(lang: str) -> Prompt:
    return Prompt(
        "escalation-thanks", text=tr(lang, "Thank you. The message is acknowledged. Goodbye.")
    )


def connecting(lang: str) -> Prompt:
    return Prompt(
        "escalation-connecting", text=tr(lang, "Thank you. Connecting you to the caller.")
    )


def cannot_connect(lang: str) -> Prompt:
    return Prompt(
        "escalation-cannot-connect",
        text=tr(
            lang, "The caller's number cannot be dialled from here. The message is acknowledged."
        ),
    )


def no_callback(lang: str) -> Prompt:
    return Prompt(
        "escalation-no-callback",
        text=tr(lang, "The caller left no number. The message is acknowledged."),
    )


def dialable(number: str | None) -> str:
    """Only the digits of a number a caller gave: nothing else reaches Dial() or a caller ID
    (an '&' would add a channel to Dial, a line break would end an AMI field)."""
    return "".join(char for char in number or "" if char.isascii() and char.isdigit())


def spoken_digits(number: str) -> str:
    """'0612' -> '0 6 1 2': a number is read digit by digit, not as six hundred and twelve."""
    return " ".join(char for char in number if char.isdigit())


def intro_text(run: RunRecord, lang: str = "en") -> str:
    client = run.client_name or run.client_id or tr(lang, "a client")
    parts = [tr(lang, "Urgent message for %(client)s.", client=client)]
    if run.caller_name:
        parts.append(tr(lang, "From %(name)s.", name=run.caller_name))
    if run.callback:
        parts.append(tr(lang, "Call back number: %(number)s.", number=spoken_digits(run.callback)))
    if run.message_path:
        parts.append(tr(lang, "The message follows."))
    else:
        parts.append(tr(lang, "The caller left no recorded message."))
    return " ".join(parts)


def intro_prompt(run: RunRecord, lang: str = "en") -> Prompt:
    return Prompt(f"escalation-{run.id}", text=intro_text(run, lang))
