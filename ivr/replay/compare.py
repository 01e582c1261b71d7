"""`ivr simulate PATH --replay`: the stored calls decided again by candidate rules.

Every stored call is evaluated twice at the instant it arrived, by the rules in force and by
the candidate folder, with the same facts (number, caller, how long since that caller's
previous call); a call is listed when its client, its chain or its priority would change.
The digits a caller pressed are not stored, so a menu is compared as the menu itself.
Overrides are left out on both sides: they are a person's decision, not the file's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ivr.records.repo import CallRecord, list_calls, seconds_since_last_call
from ivr.routing.decision import CallInfo, Decision
from ivr.routing.evaluate import describe, evaluate
from ivr.routing.model import Rules


@dataclass(frozen=True)
class Side:
    """One version's decision, in the words a person compares."""

    client: str | None
    chain: str
    priority: int
    why: str
    rule: str

    @classmethod
    def of(cls, decision: Decision) -> Side:
        return cls(
            client=decision.client.id if decision.client else None,
            chain=" > ".join(describe(step) for step in decision.chain) or "nothing",
            priority=decision.priority,
            why=decision.why,
            rule=decision.rule,
        )


@dataclass(frozen=True)
class Change:
    linkedid: str
    when: datetime
    number: str
    caller: str
    caller_name: str
    before: Side
    after: Side


@dataclass(frozen=True)
class Replay:
    replayed: int
    skipped: int  # stored calls without a number or an arrival time: nothing to decide
    changes: tuple[Change, ...]

    def summary(self) -> str:
        skipped = f", {self.skipped} skipped (no number or time)" if self.skipped else ""
        return f"{self.replayed} calls replayed, {len(self.changes)} would change{skipped}"

    def to_json(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "skipped": self.skipped,
            "changed": len(self.changes),
            "changes": [
                {**asdict(change), "when": change.when.isoformat()} for change in self.changes
            ],
        }


def call_info(record: CallRecord, since: float | None) -> CallInfo:
    return CallInfo(
        called=record.called or "",
        caller=record.caller_number or "",
        caller_name=record.caller_name or "",
        seconds_since_last_call=since,
    )


def compare(
    live: Rules, candidate: Rules, record: CallRecord, since: float | None
) -> Change | None:
    """The change `candidate` makes to this stored call, or None. Pure."""
    assert record.arrived_at is not None
    info = call_info(record, since)
    before = evaluate(live, info, record.arrived_at)
    after = evaluate(candidate, info, record.arrived_at)
    old, new = Side.of(before), Side.of(after)
    if old.client == new.client and before.chain == after.chain and old.priority == new.priority:
        return None
    return Change(
        record.linkedid, record.arrived_at, info.called, info.caller, info.caller_name, old, new
    )


async def replay(
    live: Rules, candidate: Rules, sessions: async_sessionmaker[Any], limit: int
) -> Replay:
    """The latest `limit` stored calls, oldest first, decided by both versions."""
    records = await list_calls(sessions, limit=limit)
    changes: list[Change] = []
    replayed = skipped = 0
    for record in reversed(records):
        if record.arrived_at is None or not record.called:
            skipped += 1
            continue
        since = None
        if record.client_id and record.caller_number:
            since = await seconds_since_last_call(
                sessions,
                record.client_id,
                record.caller_number,
                record.arrived_at,
                exclude_linkedid=record.linkedid,
            )
        replayed += 1
        change = compare(live, candidate, record, since)
        if change is not None:
            changes.append(change)
    return Replay(replayed, skipped, tuple(changes))


def format_text(result: Replay, visible: Callable[[str], str] = str) -> str:
    """One block per changed call, then the summary line; `visible` escapes strangers' text."""
    lines: list[str] = []
    for change in result.changes:
        b, a = change.before, change.after
        when = change.when.isoformat(timespec="seconds")
        caller = visible(change.caller) or "withheld"
        if change.caller_name:
            caller += f' "{visible(change.caller_name)}"'
        lines.append(f"{change.linkedid}  {when}  {change.number}  from {caller}")
        lines.append(f"  before: {b.client or 'nobody'}: {b.chain}{_prio(b)}  ({b.rule or b.why})")
        lines.append(f"  after:  {a.client or 'nobody'}: {a.chain}{_prio(a)}  ({a.rule or a.why})")
    lines.append(result.summary())
    return "\n".join(lines) + "\n"


def format_json(result: Replay) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


def _prio(side: Side) -> str:
    return f" [priority {side.priority}]" if side.priority else ""
