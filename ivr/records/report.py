"""`ivr calls`: the call records as an aligned table, JSON or CSV.

Caller names and numbers come from strangers: the table shows control and formatting
characters as visible escapes (no terminal tricks, no fake lines), and the CSV keeps
spreadsheets from running a cell as a formula.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ivr import tables
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.fields import Answer, fields_for
from ivr.records.repo import CallRecord, list_calls

# Each call's put-through attempts, oldest first: (person, number, mode, outcome, held seconds).
Attempts = Mapping[str, list[tuple[str, str | None, str, str | None, float | None]]]

# (heading, widest cell, value); "when" is filled in by format_table, in the client's zone.
_COLUMNS: list[tuple[str, int, Callable[[CallRecord], str | None]]] = [
    ("when", 24, lambda r: None),
    ("linkedid", 24, lambda r: r.linkedid),
    ("client", 20, lambda r: r.client_name or r.client_id),
    ("called", 16, lambda r: r.called),
    ("caller number", 16, lambda r: r.caller_number),
    ("caller name", 24, lambda r: r.caller_name),
    ("outcome", 12, lambda r: r.outcome),
    ("operator", 12, lambda r: r.operator),
    ("message path", 48, lambda r: r.message_path),
]
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Controls, format characters (bidi overrides, zero-width), line/paragraph separators.
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# A spreadsheet treats a cell starting with one of these as a formula.


def visible(text: str) -> str:
    """text with every character that could move the cursor or hide text escaped."""
    out = []
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif unicodedata.category(char) in _HIDDEN:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def width(text: str) -> int:
    """Terminal columns text takes (wide CJK characters count twice)."""
    return sum(_char_width(char) for char in text)


def clip(text: str, limit: int) -> str:
    """text cut to at most limit columns, ending with … when cut."""
    if width(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        if used + _char_width(char) > limit - 1:
            break
        kept.append(char)
        used += _char_width(char)
    return "".join(kept) + "…"


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def local_time(when: datetime, zone: tzinfo | None) -> str:
    """when as the client reads it: its wall clock to the second and the zone's abbreviation
    (the machine's own zone when the client has none known)."""
    moment = when.astimezone(zone)
    return (
        f"{moment.replace(tzinfo=None).isoformat('T', 'seconds')} {moment.tzname() or ''}".strip()
    )


def put_through_text(attempts: Attempts, linkedid: str) -> str:
    """A call's put-through attempts in a few words: "Gina Rossi accepted (announced, 9 s)"."""
    parts = []
    for person, _number, mode, outcome, held in attempts.get(linkedid, []):
        held_text = f", {held:.0f} s" if held is not None else ""
        parts.append(f"{person} {outcome or 'in progress'} ({mode}{held_text})")
    return "; ".join(parts)


def format_table(
    records: Sequence[CallRecord],
    attempts: Attempts | None = None,
    zones: Mapping[str, tzinfo] | None = None,
) -> str:
    """The records as a table: each call's time in its client's zone (zones by client id),
    and its put-through attempts when any call of the list has some."""
    attempts = attempts or {}
    zones = zones or {}
    columns = [*_COLUMNS]
    if any(attempts.get(r.linkedid) for r in records):
        columns.append(("put through", 48, lambda r: put_through_text(attempts, r.linkedid)))
    rows = [[heading for heading, _, _ in columns]]
    for record in records:
        cells = [clip(visible(get(record) or ""), most) for _, most, get in columns]
        cells[0] = local_time(record.when, zones.get(record.client_id or ""))
        rows.append(cells)
    widths = [max(width(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _plain(record: CallRecord) -> dict[str, Any]:
    values = dataclasses.asdict(record)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def format_json(
    records: Sequence[CallRecord],
    attempts: Attempts | None = None,
    answers: Mapping[str, Sequence[Answer]] | None = None,
) -> str:
    """The records as JSON; `answers`: what each call's script asked (field id -> label,
    value as stored, value as shown), in the order asked."""
    attempts = attempts or {}
    answers = answers or {}
    names = ("person", "number", "mode", "outcome", "held_seconds")
    out = [
        {
            **_plain(r),
            "put_throughs": [
                dict(zip(names, a, strict=True)) for a in attempts.get(r.linkedid, [])
            ],
            "fields": {
                a.field: {"label": a.label, "value": a.value, "shown": a.shown}
                for a in answers.get(r.linkedid, [])
            },
        }
        for r in records
    ]
    # ensure_ascii: non-ASCII (bidi overrides included) is escaped, so printing it is safe.
    return json.dumps(out, indent=2) + "\n"


def format_csv(records: Sequence[CallRecord], attempts: Attempts | None = None) -> str:
    attempts = attempts or {}
    head = [*(f.name for f in dataclasses.fields(CallRecord)), "put_throughs"]
    body = (
        [*(_text(v) for v in _plain(record).values()), put_through_text(attempts, record.linkedid)]
        for record in records
    )
    return tables.csv_text([head, *body])


def _text(value: Any) -> str:
    """A record's value as text (a phone number stays text, guarded as such)."""
    return "" if value is None else str(value)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


# The clients' time zones, from the rules folder and the state folder (for the rules' cache):
# passed in by the command line, so that the store loads no rules.
ZonesOf = Callable[[Path, Path], Mapping[str, tzinfo]]


def register(sub: Any, zones_of: ZonesOf) -> None:
    """Add `calls` to the `ivr` command's subparsers; the table shows times in each client's
    zone, found by zones_of(rules, state_dir)."""
    parser = sub.add_parser("calls", help="list the latest calls, newest first")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON")
    form.add_argument("--csv", action="store_true", help="print CSV")
    parser.add_argument("--client", help="only this client's calls (its id)")
    parser.add_argument("--limit", type=_positive, default=50, help="how many calls (50)")
    parser.set_defaults(func=run_calls, zones_of=zones_of)


async def _latest(
    url: str, client: str | None, limit: int
) -> tuple[list[CallRecord], dict[str, list[Any]], dict[str, list[Answer]]]:
    from ivr.putthrough.models import PutThrough  # its table is on the same metadata

    await upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        records = await list_calls(sessions, client_id=client, limit=limit)
        attempts: dict[str, list[Any]] = {}
        async with sessions() as session:
            rows = await session.scalars(
                select(PutThrough)
                .where(PutThrough.linkedid.in_([r.linkedid for r in records]))
                .order_by(PutThrough.started_at, PutThrough.id)
            )
            for row in rows:
                attempts.setdefault(row.linkedid, []).append(
                    (row.person_name, row.number, row.mode, row.outcome, row.held_seconds)
                )
        answers = await fields_for(sessions, [r.linkedid for r in records])
        return records, attempts, answers
    finally:
        await engine.dispose()


def run_calls(args: argparse.Namespace) -> int:
    from ivr.config import load

    settings = load(getattr(args, "config", None))
    records, attempts, answers = asyncio.run(_latest(settings.db_url, args.client, args.limit))
    if args.json:
        print(format_json(records, attempts, answers), end="")
    elif args.csv:
        print(format_csv(records, attempts), end="")
    else:
        print(
            format_table(records, attempts, args.zones_of(settings.rules, settings.state_dir)),
            end="",
        )
    return 0
