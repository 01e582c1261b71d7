"""Call records, built from facts (the AGI request, AMI events) that may come in any order.

Every write is one transaction: remember the fact (a second delivery stops here), make sure the
call's row exists (INSERT ... ON CONFLICT DO NOTHING, so racing writers share one row), then
merge the fact into it under a row lock. The merge is order-free: earliest arrival and answer,
latest end, the first answering operator, and the outcome derived again from the result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ami.message import unescape_c
from ivr.records.models import Call, CallEvent

log = logging.getLogger(__name__)

ANSWERED = "answered"
MESSAGE_LEFT = "message-left"
ABANDONED = "abandoned"
FAILED = "failed"
IN_PROGRESS = "in-progress"

# Our inbound dialplan contexts: ivr-in-trunk, ivr-in-route, ivr-in-message, ivr-in-failure.
INBOUND_CONTEXT_PREFIX = "ivr-in"
# What Asterisk writes for an empty caller ID field.
_UNKNOWN = {"", "<unknown>"}


@dataclass(frozen=True)
class CallRecord:
    """A snapshot of one call, safe to keep after the session is gone."""

    id: int
    linkedid: str
    channel: str | None
    client_id: str | None
    client_name: str | None
    called: str | None
    caller_number: str | None
    caller_name: str | None
    arrived_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    operator: str | None
    outcome: str
    message_path: str | None
    message_at: datetime | None
    failure_reason: str | None
    failed_at: datetime | None
    route: str | None
    updated_at: datetime

    @property
    def when(self) -> datetime:
        """When the call started, as well as it is known."""
        return self.arrived_at or self.answered_at or self.ended_at or self.updated_at

    @classmethod
    def of(cls, call: Call) -> CallRecord:
        return cls(**{f.name: getattr(call, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Facts:
    """What one AGI request or AMI event tells about a call; None means "does not say"."""

    # Who and what: the AGI request's values replace, an event's only fill what is unknown.
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


def derive_outcome(values: Mapping[str, Any]) -> str:
    if values["failure_reason"] and not values["answered_at"] and not values["message_path"]:
        return FAILED
    if values["answered_at"]:
        return ANSWERED
    if values["message_path"]:
        return MESSAGE_LEFT
    if values["ended_at"]:
        return ABANDONED
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
        values["ended_at"] = max(filter(None, (values["ended_at"], facts.ended_at)))
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
    return {name: value for name, value in values.items() if value != current[name]}


_MERGED = [f.name for f in dataclasses.fields(CallRecord) if f.name not in {"id", "updated_at"}]


def _insert(session: AsyncSession) -> Any:
    """The dialect's own insert(), the one that knows ON CONFLICT."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"call records need SQLite or PostgreSQL, not {name}")


async def _record_fact(
    sm: async_sessionmaker[AsyncSession],
    linkedid: str,
    facts: Facts,
    *,
    source: str,
    kind: str,
    at: datetime,
    key: str,
    data: Mapping[str, Any],
) -> bool:
    """Apply facts to the call once per key, in one transaction; True if the row changed."""
    async with sm.begin() as session:
        return await _apply_fact(
            session, linkedid, facts, source=source, kind=kind, at=at, key=key, data=data
        )


async def _apply_fact(
    session: AsyncSession,
    linkedid: str,
    facts: Facts,
    *,
    source: str,
    kind: str,
    at: datetime,
    key: str,
    data: Mapping[str, Any],
) -> bool:
    """Apply facts to the call once per key, inside the caller's transaction."""
    now = datetime.now(UTC)
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    insert = _insert(session)
    # A write first: on SQLite it takes the write lock before anything is read.
    fresh = await session.scalar(
        insert(CallEvent)
        .values(linkedid=linkedid, source=source, kind=kind, at=at, dedupe_key=key, data=data)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(CallEvent.id)
    )
    if fresh is None:
        log.debug("call %s: %s %s already applied", linkedid, source, kind)
        return False
    created = await session.scalar(
        insert(Call)
        .values(linkedid=linkedid, outcome=IN_PROGRESS, updated_at=now)
        .on_conflict_do_nothing(index_elements=["linkedid"])
        .returning(Call.id)
    )
    call = await session.scalar(select(Call).where(Call.linkedid == linkedid).with_for_update())
    assert call is not None  # inserted above, or by the writer we waited for
    changes = merge({name: getattr(call, name) for name in _MERGED}, facts)
    for name, value in changes.items():
        setattr(call, name, value)
    if changes:
        call.updated_at = now
        await session.flush()  # the next fact of this batch reads what this one wrote
    return created is not None or bool(changes)


async def open_call(
    sm: async_sessionmaker[AsyncSession],
    *,
    linkedid: str,
    channel: str,
    client_id: str | None,
    client_name: str | None,
    called: str,
    caller_number: str,
    caller_name: str,
    arrived_at: datetime,
    route: str,
) -> bool:
    """What the AGI request knows and what the engine decided; True if the record changed."""
    identity = {
        "channel": channel,
        "client_id": client_id,
        "client_name": client_name,
        "called": called,
        "caller_number": caller_number,
        "caller_name": caller_name,
        "route": route,
    }
    key = f"agi|open|{linkedid}|{arrived_at.isoformat()}|{route}|{client_id}"
    return await _record_fact(
        sm,
        linkedid,
        Facts(identity=identity, authoritative=True, arrived_at=arrived_at),
        source="agi",
        kind="open",
        at=arrived_at,
        key=key,
        data={**identity, "arrived_at": arrived_at.isoformat()},
    )


async def note_failure(
    sm: async_sessionmaker[AsyncSession], linkedid: str, reason: str, at: datetime
) -> bool:
    """The engine could not serve the call (the dialplan's failure context takes over)."""
    return await _record_fact(
        sm,
        linkedid,
        Facts(failure_reason=reason, failed_at=at),
        source="agi",
        kind="failure",
        at=at,
        key=f"agi|failure|{linkedid}|{at.isoformat()}|{reason}",
        data={"reason": reason, "at": at.isoformat()},
    )


def _timestamp(value: str | None) -> datetime:
    """Asterisk's Timestamp header (epoch seconds, microseconds); now if absent or unreadable."""
    try:
        exact = Decimal(value or "")
        whole = int(exact)
        return datetime.fromtimestamp(whole, UTC) + timedelta(
            microseconds=int((exact - whole) * 1_000_000)
        )
    except (InvalidOperation, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def operator_of(dest_channel: str) -> str | None:
    """The endpoint in a channel name: "PJSIP/op1-0000002a" -> "op1"."""
    _, _, resource = dest_channel.partition("/")
    resource = resource.split(";", 1)[0]
    endpoint, dash, suffix = resource.rpartition("-")
    if dash and endpoint and all(c in "0123456789abcdefABCDEF" for c in suffix):
        return endpoint
    return resource or None


def _known(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN else value


def event_facts(event: Mapping[str, str]) -> tuple[str, str, datetime, Facts] | None:
    """(linkedid, dedupe extra, time, facts) of an AMI event about an inbound call, else None."""
    h = {name.lower(): value for name, value in event.items()}
    linkedid = h.get("linkedid", "")
    if not linkedid or h.get("uniqueid") != linkedid:
        return None  # an event of another leg (an operator's channel, a Local channel)
    if not h.get("context", "").startswith(INBOUND_CONTEXT_PREFIX):
        return None
    at = _timestamp(h.get("timestamp"))
    kind = h.get("event", "").lower()
    if kind == "newchannel":
        exten = _known(h.get("exten"))
        identity = {
            "channel": _known(h.get("channel")),
            "called": None if exten == "s" else exten,
            "caller_number": _known(h.get("calleridnum")),
            # AMI C-escapes names; the record keeps the name as the caller sent it.
            "caller_name": _known(unescape_c(h.get("calleridname") or "")),
        }
        return linkedid, "", at, Facts(identity=identity, arrived_at=at)
    if kind == "dialend" and h.get("dialstatus", "").upper() == "ANSWER":
        operator = operator_of(h.get("destchannel", ""))
        return linkedid, h.get("destuniqueid", ""), at, Facts(answered_at=at, operator=operator)
    if kind == "hangup":
        return linkedid, "", at, Facts(ended_at=at)
    if kind == "userevent":
        name = h.get("userevent", "")
        if name == "IvrMessage" and h.get("path"):
            return linkedid, name, at, Facts(message_path=h["path"], message_at=at)
        if name == "IvrFailure":
            return linkedid, name, at, Facts(failure_reason=h.get("reason", ""), failed_at=at)
    return None


def _event_fact(event: Mapping[str, str]) -> tuple[str, Facts, dict[str, Any]] | None:
    found = event_facts(event)
    if found is None:
        return None
    linkedid, extra, at, facts = found
    name = next((v for k, v in event.items() if k.lower() == "event"), "")
    stamp = next((v for k, v in event.items() if k.lower() == "timestamp"), "")
    return (
        linkedid,
        facts,
        {
            "source": "ami",
            "kind": name,
            "at": at,
            "key": f"ami|{name}|{linkedid}|{stamp}|{extra}",
            "data": dict(event),
        },
    )


async def apply_event(sm: async_sessionmaker[AsyncSession], event: Mapping[str, str]) -> bool:
    """Fold an AMI event (header -> value) into its call; True if the record changed.

    Events of other calls and legs are ignored; the same event delivered twice is applied once.
    """
    return await apply_events(sm, [event]) > 0


async def apply_events(
    sm: async_sessionmaker[AsyncSession], events: Sequence[Mapping[str, str]]
) -> int:
    """Fold several AMI events, in order, in ONE transaction; how many changed a record.

    Under load the engine hands over everything that queued up meanwhile: one commit for
    many events instead of one each.
    """
    facts = [found for found in map(_event_fact, events) if found is not None]
    if not facts:
        return 0
    changed = 0
    async with sm.begin() as session:
        for linkedid, fact, fields in facts:
            changed += await _apply_fact(session, linkedid, fact, **fields)
    return changed


def _when() -> ColumnElement[datetime]:
    return func.coalesce(Call.arrived_at, Call.answered_at, Call.ended_at, Call.updated_at)


async def list_calls(
    sm: async_sessionmaker[AsyncSession],
    *,
    client_id: str | None = None,
    limit: int = 100,
    since: datetime | None = None,
) -> list[CallRecord]:
    """The newest calls first."""
    query = select(Call).order_by(_when().desc(), Call.id.desc()).limit(limit)
    if client_id is not None:
        query = query.where(Call.client_id == client_id)
    if since is not None:
        query = query.where(_when() >= since)
    async with sm() as session:
        return [CallRecord.of(call) for call in await session.scalars(query)]


async def get_call(sm: async_sessionmaker[AsyncSession], linkedid: str) -> CallRecord | None:
    async with sm() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
        return None if call is None else CallRecord.of(call)


def _same_caller(
    client_id: str, caller_number: str, exclude_linkedid: str | None
) -> list[ColumnElement[bool]]:
    conditions = [Call.client_id == client_id, Call.caller_number == caller_number]
    if exclude_linkedid is not None:
        conditions.append(Call.linkedid != exclude_linkedid)
    return conditions


async def caller_history(
    sm: async_sessionmaker[AsyncSession],
    client_id: str,
    caller_number: str,
    limit: int = 5,
    *,
    exclude_linkedid: str | None = None,
) -> list[CallRecord]:
    """This caller's calls to this client, newest first (a withheld number has no history).

    Pass the current call as exclude_linkedid to get only the earlier ones.
    """
    if _known(caller_number) is None:
        return []
    query = (
        select(Call)
        .where(*_same_caller(client_id, caller_number, exclude_linkedid))
        .order_by(_when().desc(), Call.id.desc())
        .limit(limit)
    )
    async with sm() as session:
        return [CallRecord.of(call) for call in await session.scalars(query)]


async def seconds_since_last_call(
    sm: async_sessionmaker[AsyncSession],
    client_id: str,
    caller_number: str,
    now: datetime,
    *,
    exclude_linkedid: str | None = None,
) -> float | None:
    """Seconds since this caller's latest call to this client arrived; None if never.

    A withheld number is nobody in particular, so it is never a repeat caller.
    """
    if _known(caller_number) is None:
        return None
    query = (
        select(Call.arrived_at)
        .where(*_same_caller(client_id, caller_number, exclude_linkedid))
        .where(Call.arrived_at <= now)
        .order_by(Call.arrived_at.desc())
        .limit(1)
    )
    async with sm() as session:
        last = await session.scalar(query)
    return None if last is None else (now - last).total_seconds()
