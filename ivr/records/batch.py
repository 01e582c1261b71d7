"""One transaction for many facts: SQLAlchemy Core, a handful of statements per batch.

write_batch() makes sure every call of the batch has its row (one INSERT ... ON CONFLICT DO
NOTHING for all of them: on SQLite that write also takes the lock before anything is read, on
PostgreSQL racing writers share one row), reads those rows once (under a row lock on
PostgreSQL, in linkedid order so that two engines never deadlock), folds every fact in memory
in arrival order, and writes the changed rows back with one executemany UPDATE. Rows of other
tables (queue events, the engine's decision trace) go in with one executemany each.

It takes a synchronous Connection, so the same code runs in a worker thread on SQLite (one
thread hop per batch) and through run_sync() on asyncpg.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ivr.records.facts import COLUMNS, Fact, Row, blank, merge, unknown_only
from ivr.records.models import Base

CHUNK = 500  # linkedids per SELECT ... IN (...)
KEY_MAX = 255


@dataclass(frozen=True)
class Change:
    """A record the batch changed: its values after, and whether it had ended before."""

    linkedid: str
    had_ended: bool
    values: Mapping[str, Any]
    sources: frozenset[str]


def _insert(conn: Connection) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"call records need SQLite or PostgreSQL, not {name}")


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def _dedupe_key(fact: Fact) -> str:
    at = fact.at.isoformat() if fact.at else ""
    extra = "|".join(str(v) for v in (fact.data or {}).values())
    key = f"{fact.source}|{fact.kind}|{fact.linkedid}|{at}|{extra}"
    if len(key) > KEY_MAX:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _trace_row(fact: Fact, now: datetime) -> dict[str, Any]:
    return {
        "linkedid": fact.linkedid,
        "source": fact.source,
        "kind": fact.kind,
        "at": fact.at or now,
        "dedupe_key": _dedupe_key(fact),
        "data": dict(fact.data or {}),
    }


def write_batch(conn: Connection, items: Sequence[Fact | Row], now: datetime) -> list[Change]:
    """Apply facts and rows in order, inside the caller's transaction; the changed records."""
    facts = [item for item in items if isinstance(item, Fact)]
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        if isinstance(item, Row):
            rows.setdefault(item.table, []).append(item.values)
        elif item.data is not None:
            rows.setdefault("call_events", []).append(_trace_row(item, now))
    changes = _fold(conn, facts, now) if facts else []
    insert = _insert(conn) if rows else None
    for name, values in rows.items():
        assert insert is not None
        conn.execute(insert(table(name)).on_conflict_do_nothing(), list(values))
    return changes


def _fold(conn: Connection, facts: list[Fact], now: datetime) -> list[Change]:
    calls = table("calls")
    linkedids = sorted({fact.linkedid for fact in facts})
    fresh = [{**blank(), "linkedid": lid, "updated_at": now} for lid in linkedids]
    conn.execute(_insert(conn)(calls).on_conflict_do_nothing(index_elements=["linkedid"]), fresh)
    current: dict[str, dict[str, Any]] = {}
    for start in range(0, len(linkedids), CHUNK):
        query = (
            select(calls.c.linkedid, *(calls.c[name] for name in COLUMNS))
            .where(calls.c.linkedid.in_(linkedids[start : start + CHUNK]))
            .order_by(calls.c.linkedid)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for row in conn.execute(query).mappings():
            values = dict(row)
            current[values.pop("linkedid")] = values
    before = {lid: dict(values) for lid, values in current.items()}
    sources: dict[str, set[str]] = {}
    for fact in facts:
        values = current[fact.linkedid]
        told = fact.facts
        if fact.only_open:
            was = before[fact.linkedid]
            if was["ended_at"] is not None and not was["end_inferred"]:
                continue  # seen to its end: never touched again
            told = unknown_only(values, told)
        values.update(merge(values, told))
        sources.setdefault(fact.linkedid, set()).add(fact.source)
    changed = [lid for lid in linkedids if current[lid] != before[lid]]
    if changed:
        statement = (
            update(calls)
            .where(calls.c.linkedid == bindparam("b_linkedid"))
            .values({name: bindparam(name) for name in (*COLUMNS, "updated_at")})
        )
        conn.execute(
            statement,
            [{**current[lid], "b_linkedid": lid, "updated_at": now} for lid in changed],
        )
    return [
        Change(
            lid,
            before[lid]["ended_at"] is not None,
            current[lid],
            frozenset(sources.get(lid, ())),
        )
        for lid in changed
    ]
