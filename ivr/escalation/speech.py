"""What an answered contact hears: spoken once by espeak-ng (ivr.prompts), cached by text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ivr.routing.model import Prompt

if TYPE_CHECKING:
    from ivr.escalation.store import RunRecord

MENU = Prompt(
    "escalation-menu",
    text=(
        "Press 1 to acknowledge this message. Press 2 to hear it again. "
        "Press 3 to be connected to the caller now."
    ),
)
THANKS = Prompt("escalation-thanks", text="Thank you. The message is acknowledged. Goodbye.")
CONNECTING = Prompt("escalation-connecting", text="Thank you. Connecting you to the caller.")
CANNOT_CONNECT = Prompt(
    "escalation-cannot-connect",
    text="The caller's number cannot be dialled from here. The message is acknowledged.",
)
NO_CALLBACK = Prompt(
    "escalation-no-callback", text="The caller left no number. The message is acknowledged."
)


def dialable(number: str | None) -> str:
    """Only the digits of a number a caller gave: nothing else reaches Dial() or a caller ID
    (an '&' would add a channel to Dial, a line break would end an AMI field)."""
    return "".join(char for char in number or "" if char.isascii() and char.isdigit())


def spoken_digits(number: str) -> str:
    """'0612' -> '0 6 1 2': a number is read digit by digit, not as six hundred and twelve."""
    return " ".join(char for char in number if char.isdigit())


def intro_text(run: RunRecord) -> str:
    client = run.client_name or run.client_id or "a client"
    parts = [f"Urgent message for {client}."]
    if run.caller_name:
        parts.append(f"From {run.caller_name}.")
    if run.callback:
        parts.append(f"Call back number: {spoken_digits(run.callback)}.")
    if run.message_path:
        parts.append("The message follows.")
    else:
        parts.append("The caller left no recorded message.")
    return " ".join(parts)


def intro_prompt(run: RunRecord) -> Prompt:
    return Prompt(f"escalation-{run.id}", text=intro_text(run))
