"""Who may start an escalation ladder now: pure rules over counts the store reads.

A ladder places calls on the center's bill to people who may be asleep, so a caller (or a
script) who picks the emergency option again and again must not be able to start ladders
without end: at most N per calling number and per client in any hour (settings
escalation_per_caller_hour and escalation_per_client_hour; 0 is no limit), and none for a
withheld number unless the client's rules say `escalate_withheld: true`.
"""

from __future__ import annotations

from dataclasses import dataclass

WITHHELD = frozenset({"", "unknown", "anonymous", "restricted", "private", "withheld"})
WINDOW_SECONDS = 3600


def withheld(number: str | None) -> bool:
    return (number or "").strip().lower() in WITHHELD


@dataclass(frozen=True)
class Limits:
    per_caller: int  # ladders per calling number in the last hour; 0: no limit
    per_client: int  # ladders per client in the last hour; 0: no limit
    allow_withheld: bool = False


def refusal(
    limits: Limits, caller_number: str | None, by_caller: int, by_client: int
) -> str | None:
    """Why a new ladder may not start (None: it may). by_caller and by_client count the
    ladders started (not refused) in the last hour by this number and for this client."""
    if withheld(caller_number):
        if not limits.allow_withheld:
            return "withheld caller: this client's rules start no ladder for a withheld number"
    elif limits.per_caller and by_caller >= limits.per_caller:
        return (
            f"rate limit: this number started {by_caller} ladders in the last hour"
            f" (at most {limits.per_caller})"
        )
    if limits.per_client and by_client >= limits.per_client:
        return (
            f"rate limit: {by_client} ladders for this client in the last hour"
            f" (at most {limits.per_client})"
        )
    return None
