"""What is known about a call, and how facts fold into its record: pure, no I/O.

A fact may arrive late, twice or out of order (an AGI request, an AMI event, a line of
Asterisk's own account); folding is order-free and idempotent: earliest arrival and answer,
latest end, the first answering operator, the latest message, the first failure, and the
outcome derived again from the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ANSWERED = "answered"
MESSAGE_LEFT = "message-left"
ABANDONED = "abandoned"
FAILED = "failed"
UNKNOWN = "unknown"  # the call is over, but nothing tells how it ended
IN_PROGRESS = "in-progress"
OUTCOMES = (ANSWERED, MESSAGE_LEFT, ABANDONED, FAILED, UNKNOWN)

# Our inbound dialplan contexts: ivr-in-trunk, ivr-in-route, ivr-in-message, ivr-in-failure.
INBOUND_CONTEXT_PREFIX = "ivr-in"
# The unique id the engine gives a channel it originates towards the trunk (whose endpoint's
# context is an inbound one): such a channel is no caller's call.
ORIGINATED_PREFIX = "ivr-out-"

# The columns a record is folded over, besides its key and write time.
IDENTITY = ("channel", "client_id", "client_name", "called", "caller_number", "caller_name")
COLUMNS = (
    *IDENTITY,
    "route",
    "arrived_at",
    "answered_at",
    "ended_at",
    "operator",
    "outcome",
    "message_path",
    "message_at",
    "failure_reason",
    "failed_at",
    "rebuilt",
    "end_inferred",
)


@dataclass(frozen=True)
class Facts:
    """What one AGI request, AMI event or account line tells; None means "does not say"."""

    # Who and what: the AGI request's values replace, other sources only fill what is unknown.
    identity: Mapping[str, str | None] = field(default_factory=dict)
    authoritative: bool = False
    arrived_at: datetime | None = None
    answered_at: datetime | None = None
    operator: str | None = None
    ended_at: datetime | None = None
    message_path: str | None = None
    message_at: datetime | None = None
    failure_reason: str | None = None
    failed_at: datetime | None = None
    # The call is known to be over by this time, with no word of how it ended.
    closed_at: datetime | None = None
    rebuilt: bool = False  # from Asterisk's own account: marks the record if it adds anything


@dataclass(frozen=True)
class Fact:
    """One write for the records writer: facts about the call `linkedid`.

    A fact from the engine's own decisions (source "agi") is also kept in call_events, with
    `data`, as the trace of what the engine decided. `only_open`: apply only to a call that
    has no record yet or whose end was not seen (a rebuild never touches a record the engine
    saw to its end, and only fills what a record does not know).
    """

    linkedid: str
    facts: Facts
    source: str = "ami"
    kind: str = ""
    at: datetime | None = None
    data: Mapping[str, Any] | None = None
    only_open: bool = False


@dataclass(frozen=True)
class Row:
    """A row to add to `table` unless a row with the same unique key is there already."""

    table: str
    values: Mapping[str, Any]


def blank() -> dict[str, Any]:
    """The values of a record nothing is known about yet."""
    values: dict[str, Any] = dict.fromkeys(COLUMNS)
    values.update(outcome=IN_PROGRESS, rebuilt=False, end_inferred=False)
    return values


def unknown_only(current: Mapping[str, Any], facts: Facts) -> Facts:
    """Facts reduced to what the record does not know yet: a rebuilt account completes a
    record the engine built live, never corrects it."""
    changes: dict[str, Any] = {}
    if current["arrived_at"] is not None:
        changes["arrived_at"] = None
    if current["answered_at"] is not None:
        changes.update(answered_at=None, operator=None)
    if current["message_path"] is not None:
        changes.update(message_path=None, message_at=None)
    if current["failure_reason"] is not None:
        changes.update(failure_reason=None, failed_at=None)
    return dataclasses.replace(facts, authoritative=False, **changes) if changes else facts


def derive_outcome(values: Mapping[str, Any]) -> str:
    if values["failure_reason"] and not values["answered_at"] and not values["message_path"]:
        return FAILED
    if values["answered_at"]:
        return ANSWERED
    if values["message_path"]:
        return MESSAGE_LEFT
    if values["ended_at"]:
        return UNKNOWN if values.get("end_inferred") else ABANDONED
    return IN_PROGRESS


def _earlier(new: tuple[Any, ...], old: tuple[Any, ...]) -> bool:
    """new comes first; ties broken on the other values, so the result never depends on order."""
    return old[0] is None or new < old


def merge(current: Mapping[str, Any], facts: Facts) -> dict[str, Any]:
    """The column changes that fold facts into a row's current values (pure)."""
    values = dict(current)
    for name, value in facts.identity.items():
        if facts.authoritative or (values[name] is None and value is not None):
            values[name] = value
    if facts.arrived_at:
        values["arrived_at"] = min(filter(None, (values["arrived_at"], facts.arrived_at)))
    if facts.ended_at:
        if values["end_inferred"] or values["ended_at"] is None:
            values["ended_at"] = facts.ended_at
        else:
            values["ended_at"] = max(values["ended_at"], facts.ended_at)
        values["end_inferred"] = False
    elif facts.closed_at and values["ended_at"] is None:
        values["ended_at"], values["end_inferred"] = facts.closed_at, True
    elif facts.closed_at and values["end_inferred"]:
        # Cut off: the latest moment anything knew the call (or its node) alive is the best
        # guess, whoever closed it first (another engine from its node's last heartbeat,
        # the node's own account once it is back).
        values["ended_at"] = max(values["ended_at"], facts.closed_at)
    if facts.answered_at and _earlier(
        (facts.answered_at, facts.operator or ""),
        (values["answered_at"], values["operator"] or ""),
    ):
        values["answered_at"], values["operator"] = facts.answered_at, facts.operator
    # A message recorded again replaces the earlier one: the latest is kept.
    if (
        facts.message_path is not None
        and facts.message_at
        and (
            values["message_at"] is None
            or (facts.message_at, facts.message_path)
            > (values["message_at"], values["message_path"])
        )
    ):
        values["message_path"], values["message_at"] = facts.message_path, facts.message_at
    # The first failure is the cause; later ones are its consequences.
    if (
        facts.failure_reason is not None
        and facts.failed_at
        and _earlier(
            (facts.failed_at, facts.failure_reason),
            (values["failed_at"], values["failure_reason"] or ""),
        )
    ):
        values["failure_reason"], values["failed_at"] = facts.failure_reason, facts.failed_at
    values["outcome"] = derive_outcome(values)
    changes = {name: value for name, value in values.items() if value != current[name]}
    if facts.rebuilt and changes and not current["rebuilt"]:
        changes["rebuilt"] = True  # the account told something the live events had not
    return changes
