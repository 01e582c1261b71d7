"""One client's calls and messages, as the area lists them: filters, pages, one message, its
read/handled state. Every function takes the client's id and asks for nothing else: a call of
another client is simply not found.

Pages are read by keyset (newest first, then "older than this one"), over the index
(client_id, arrived_at, id), so page 1 and page 2,000 cost the same.

The text search reads area_calls (kept by the database's triggers): on PostgreSQL an ILIKE
that its trigram index serves (the planner walks the client's newest calls instead when the
words are common); on SQLite its FTS5 trigram index first, and when the words are so common
that the index would hand back too many calls, the client's calls newest first, which then
meet 50 matches soon. Under three characters no trigram exists: the client's calls are read,
newest first, from area_calls' index (client_id, arrived_at, call_id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr import bounds
from ivr.area.models import AreaCall, MessageState
from ivr.portal.models import CallOutcome
from ivr.records.fields import Answer, fields_for
from ivr.records.models import Call
from ivr.routing.evaluate import WITHHELD

Sessions = async_sessionmaker[AsyncSession]
PAGE = 50
OUTCOMES = ("answered", "message-left", "abandoned", "failed")
NOTE_MAX = 2000
TEXT_MAX = 100
TRIGRAM = 3  # the shortest search the trigram indexes serve
# SQLite: a search its index answers with more calls than this (of every client) is read
# from the client's calls newest first instead.
FTS_MOST = 2000


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    outcome: str = ""  # one of OUTCOMES, "messages" (anything with a message), or ""
    urgent: bool = False
    unread: bool = False
    text: str = ""

    @classmethod
    def read(cls, query: Mapping[str, str]) -> Filters:
        """Filters from a query string; what cannot be read is left out."""

        def day(name: str) -> date | None:
            return bounds.day(query.get(name, ""))

        outcome = query.get("outcome", "")
        return cls(
            start=day("from"),
            end=day("to"),
            outcome=outcome if outcome in (*OUTCOMES, "messages") else "",
            urgent=query.get("urgent") == "1",
            unread=query.get("unread") == "1",
            text=" ".join(query.get("q", "").split())[:TEXT_MAX],
        )

    def params(self) -> dict[str, str]:
        out = {
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "outcome": self.outcome,
            "urgent": "1" if self.urgent else "",
            "unread": "1" if self.unread else "",
            "q": self.text,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def any(self) -> bool:
        return bool(self.params())


@dataclass(frozen=True)
class Row:
    linkedid: str
    arrived_at: datetime
    caller_number: str
    caller_name: str
    outcome: str
    operator: str
    recording: bool
    message: str  # what the operator wrote down
    category: str
    urgent: bool
    callback: str
    said_name: str  # the caller's name as the operator wrote it
    read: bool
    handled: bool
    note: str
    handled_by: str
    cursor: str  # "older than this row", for the next page
    answers: tuple[Answer, ...] = ()  # what the client's script asked, in its order

    @property
    def is_message(self) -> bool:
        return bool(self.message or self.recording)

    @property
    def who(self) -> str:
        return self.said_name or self.caller_name


def _has_message() -> Any:
    return or_(CallOutcome.id.is_not(None), Call.message_path.is_not(None))


def _select(client_id: str) -> Select[Any]:
    query: Any = (
        select(Call, CallOutcome, MessageState, AreaCall.urgent)
        .outerjoin(CallOutcome, CallOutcome.linkedid == Call.linkedid)
        .outerjoin(
            MessageState,
            and_(MessageState.linkedid == Call.linkedid, MessageState.client_id == client_id),
        )
        .outerjoin(AreaCall, AreaCall.call_id == Call.id)
        .where(Call.client_id == client_id, Call.arrived_at.is_not(None))
    )
    return query


def _bounds(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone))


Keys = tuple[Any, Any]  # the columns a page is ordered by: (arrived_at, id)
CALL_KEYS: Keys = (Call.arrived_at, Call.id)
# The same values in area_calls: a page read from its indexes is ordered by these.
AREA_KEYS: Keys = (AreaCall.arrived_at, AreaCall.call_id)


def _filtered(query: Select[Any], filters: Filters, zone: str, keys: Keys) -> Select[Any]:
    when = keys[0]
    if filters.start:
        query = query.where(when >= _bounds(filters.start, zone))
    if filters.end:
        query = query.where(when < _bounds(filters.end + timedelta(days=1), zone))
    if filters.outcome == "messages":
        query = query.where(_has_message())
    elif filters.outcome:
        query = query.where(Call.outcome == filters.outcome)
    if filters.urgent:
        query = query.where(AreaCall.urgent == true())
    if filters.unread:
        query = query.where(_has_message(), MessageState.read_at.is_(None))
    return query


def _like(text_: str) -> str:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _searched(session: AsyncSession, words: str) -> tuple[ColumnElement[bool], bool]:
    """The calls whose caller, number or message contain `words`: a list of ids from the
    trigram index when it has few (True), else a test of area_calls' words, row by row."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite and len(words) >= TRIGRAM:
        phrase = '"' + words.replace('"', '""') + '"'
        found = list(
            await session.scalars(
                text(
                    "SELECT rowid FROM area_calls_fts WHERE area_calls_fts MATCH :phrase LIMIT :n"
                ),
                {"phrase": phrase, "n": FTS_MOST + 1},
            )
        )
        if len(found) <= FTS_MOST:
            return Call.id.in_(found), True
        # Common words: the client's newest calls match them soon.
    if sqlite:  # SQLite's LIKE ignores case already (as lower() does, in ASCII)
        return AreaCall.body.like(_like(words), escape="\\"), False
    if len(words) >= TRIGRAM:  # PostgreSQL's planner weighs its trigram index against
        return AreaCall.body.ilike(_like(words), escape="\\"), False  # the client's calls
    # No trigram to look up: an ILIKE would make PostgreSQL read the whole trigram index.
    return func.strpos(func.lower(AreaCall.body), func.lower(words)) > 0, False


def _row(
    call: Call, outcome: CallOutcome | None, state: MessageState | None, urgent: bool | None
) -> Row:
    assert call.arrived_at is not None
    return Row(
        linkedid=call.linkedid,
        arrived_at=call.arrived_at,
        # "anonymous", "private"...: what a withheld number arrives as is shown as withheld
        caller_number=""
        if (call.caller_number or "").lower() in WITHHELD
        else call.caller_number or "",
        caller_name=call.caller_name or "",
        outcome=call.outcome,
        operator=call.operator or "",
        recording=bool(call.message_path),
        message=outcome.message if outcome else "",
        category=outcome.category if outcome else "",
        # The operator's urgent flag, or the caller's emergency choice (a ladder ran for it).
        urgent=bool(urgent or (outcome and outcome.urgent)),
        callback=outcome.callback if outcome else "",
        said_name=outcome.caller_name if outcome else "",
        read=bool(state and state.read_at),
        handled=bool(state and state.handled_at),
        note=(state.note or "") if state else "",
        handled_by=(state.handled_by or "") if state else "",
        cursor=f"{call.arrived_at.isoformat()}|{call.id}",
    )


def _after(cursor: str) -> tuple[datetime, int] | None:
    stamp, _, ident = cursor.partition("|")
    found = bounds.row_id(ident)
    try:
        return (bounds.moment(stamp), found) if found is not None else None
    except ValueError:
        return None


async def page(
    sessions: Sessions,
    client_id: str,
    filters: Filters,
    zone: str,
    *,
    before: str = "",
    size: int = PAGE,
) -> tuple[list[Row], str]:
    """A page of rows, newest first, and the cursor of the next page ("" at the end)."""
    query, by_area = _select(client_id), filters.urgent
    async with sessions() as session:
        if filters.text:
            found, listed = await _searched(session, filters.text)
            query, by_area = query.where(found), by_area or not listed
        keys = CALL_KEYS
        if by_area:
            # The client's calls newest first, read from an index of area_calls (for words,
            # on SQLite, one that holds them: no row is fetched until one matches).
            query, keys = query.where(AreaCall.client_id == client_id), AREA_KEYS
        rows, cursor = await _page(
            session, _filtered(query, filters, zone, keys), before, size, keys
        )
    return await _with_answers(sessions, rows), cursor


async def _with_answers(sessions: Sessions, rows: list[Row]) -> list[Row]:
    """The rows with the answers their calls' scripts collected."""
    kept = await fields_for(sessions, [r.linkedid for r in rows])
    if not kept:
        return rows
    return [
        dataclasses.replace(r, answers=tuple(kept[r.linkedid])) if r.linkedid in kept else r
        for r in rows
    ]


async def _page(
    session: AsyncSession, query: Select[Any], before: str, size: int, keys: Keys = CALL_KEYS
) -> tuple[list[Row], str]:
    when, ident = keys
    after = _after(before) if before else None
    if after is not None:
        stamp, last = after
        # The plain range first: with the OR alone SQLite would not seek the index to it.
        query = query.where(when <= stamp).where(
            or_(when < stamp, and_(when == stamp, ident < last))
        )
    query = query.order_by(when.desc(), ident.desc()).limit(size + 1)
    rows = [_row(*found) for found in (await session.execute(query)).all()]
    more = len(rows) > size
    rows = rows[:size]
    return rows, rows[-1].cursor if more and rows else ""


async def export(
    sessions: Sessions, client_id: str, filters: Filters, zone: str, limit: int = 100_000
) -> list[Row]:
    rows, _ = await page(sessions, client_id, filters, zone, size=limit)
    return rows


async def one(sessions: Sessions, client_id: str, linkedid: str) -> Row | None:
    query = _select(client_id).where(Call.linkedid == linkedid)
    async with sessions() as session:
        found = (await session.execute(query)).first()
    if found is None:
        return None
    return (await _with_answers(sessions, [_row(*found)]))[0]


async def recording_path(sessions: Sessions, client_id: str, linkedid: str) -> str | None:
    async with sessions() as session:
        return await session.scalar(
            select(Call.message_path).where(Call.linkedid == linkedid, Call.client_id == client_id)
        )


async def unread(sessions: Sessions, client_id: str) -> int:
    """The client's unread messages: a range of one index (area_calls is kept by triggers)."""
    query = (
        select(func.count())
        .select_from(AreaCall)
        .where(AreaCall.client_id == client_id, AreaCall.unread == true())
    )
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def mark(
    sessions: Sessions,
    client_id: str,
    linkedid: str,
    now: datetime,
    by: str,
    *,
    read: bool | None = None,
    handled: bool | None = None,
    note: str | None = None,
) -> bool:
    """Change a message's state; False when the call is not this client's."""
    for _ in range(2):  # two users marking the same message at once: the insert races once
        try:
            async with sessions.begin() as session:
                owner = await session.scalar(
                    select(Call.client_id).where(Call.linkedid == linkedid)
                )
                if owner != client_id:
                    return False
                state = await session.scalar(
                    select(MessageState).where(MessageState.linkedid == linkedid)
                )
                if state is None:
                    state = MessageState(client_id=client_id, linkedid=linkedid)
                    session.add(state)
                if read is not None:
                    state.read_at, state.read_by = (now, by) if read else (None, None)
                if handled is not None:
                    state.handled_at, state.handled_by = (now, by) if handled else (None, None)
                    if handled and state.read_at is None:
                        state.read_at, state.read_by = now, by
                if note is not None:
                    state.note = note[:NOTE_MAX]
            return True
        except IntegrityError:
            continue
    return False


@dataclass(frozen=True)
class Stats:
    days: list[tuple[date, dict[str, int]]]  # per day: outcome group -> calls
    hours: list[int]  # calls per hour of the day (client's time), 24 values
    this_month: dict[str, int]
    last_month: dict[str, int]
    busiest: list[tuple[int, int]]  # (hour, calls), busiest first


def group_of(outcome: str, has_message: bool) -> str:
    """answered, message or abandoned: how the dashboard counts a call."""
    if has_message or outcome == "message-left":
        return "message"
    if outcome == "answered":
        return "answered"
    return "abandoned"


GROUPS = ("answered", "message", "abandoned")


async def stats(
    sessions: Sessions, client_id: str, zone: str, now: datetime, days: int = 30
) -> Stats:
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    month_start = local_now.date().replace(day=1)
    last_month_start = (month_start - timedelta(days=1)).replace(day=1)
    first_day = local_now.date() - timedelta(days=days - 1)
    since = _bounds(min(last_month_start, first_day), zone)
    query = (
        select(Call.arrived_at, Call.outcome, Call.message_path, CallOutcome.id)
        .outerjoin(CallOutcome, CallOutcome.linkedid == Call.linkedid)
        .where(Call.client_id == client_id, Call.arrived_at >= since, Call.arrived_at <= now)
    )
    async with sessions() as session:
        found = (await session.execute(query)).all()
    per_day: dict[date, dict[str, int]] = {
        first_day + timedelta(days=n): dict.fromkeys(GROUPS, 0) for n in range(days)
    }
    hours = [0] * 24
    this_month = dict.fromkeys(GROUPS, 0)
    last_month = dict.fromkeys(GROUPS, 0)
    for arrived, outcome, path, outcome_id in found:
        if arrived is None:
            continue
        local = arrived.astimezone(tz)
        group = group_of(outcome, bool(path or outcome_id))
        if local.date() in per_day:
            per_day[local.date()][group] += 1
            hours[local.hour] += 1
        if local.date() >= month_start:
            this_month[group] += 1
        elif local.date() >= last_month_start:
            last_month[group] += 1
    busiest = sorted(((h, n) for h, n in enumerate(hours) if n), key=lambda x: (-x[1], x[0]))
    return Stats(sorted(per_day.items()), hours, this_month, last_month, busiest[:3])


def replace_row(row: Row, **changes: Any) -> Row:
    return dataclasses.replace(row, **changes)
