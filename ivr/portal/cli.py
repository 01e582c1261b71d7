"""`ivr console password USER` and `ivr outcomes`: the console's passwords and what operators
saved about calls, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from ivr.records.report import clip, visible, width

_COLUMNS = (
    ("saved", 16),
    ("linkedid", 24),
    ("client", 16),
    ("operator", 10),
    ("category", 11),
    ("urgent", 6),
    ("caller name", 20),
    ("callback", 16),
    ("message", 48),
    ("escalation", 40),
)


def register(sub: Any) -> None:
    console = sub.add_parser("console", help="the operator console").add_subparsers(
        dest="action", required=True
    )
    password = console.add_parser(
        "password", help="print a console user's password (an operator id, or supervisor)"
    )
    password.add_argument("user")
    password.set_defaults(func=run_password)
    outcomes = sub.add_parser("outcomes", help="the outcomes operators saved, newest first")
    outcomes.add_argument("--json", action="store_true", help="print JSON")
    outcomes.add_argument("--limit", type=int, default=50, help="how many (50)")
    outcomes.set_defaults(func=run_outcomes)


def run_password(args: argparse.Namespace) -> int:
    from ivr.config import load
    from ivr.portal.auth import SUPERVISOR, portal_password
    from ivr.routing import load_rules

    settings = load(getattr(args, "config", None))
    if args.user != SUPERVISOR and args.user not in load_rules(settings.rules).operators:
        print(f"ivr: {args.user!r} is neither an operator of the rules nor {SUPERVISOR}")
        return 2
    print(portal_password(settings, args.user))
    return 0


async def _latest(url: str, limit: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from ivr.portal.models import CallOutcome
    from ivr.records.db import make_engine, session_factory, upgrade
    from ivr.records.models import Call

    await upgrade(url)
    engine = make_engine(url)
    try:
        query = (
            select(CallOutcome, Call.client_name)
            .join(Call, Call.linkedid == CallOutcome.linkedid, isouter=True)
            .order_by(CallOutcome.saved_at.desc())
            .limit(limit)
        )
        async with session_factory(engine)() as session:
            rows = (await session.execute(query)).all()
    finally:
        await engine.dispose()
    return [
        {
            "saved": o.saved_at.isoformat(timespec="seconds"),
            "linkedid": o.linkedid,
            "client": client_name or o.client_id,
            "operator": o.operator,
            "category": o.category,
            "urgent": o.urgent,
            "caller name": o.caller_name,
            "callback": o.callback,
            "message": o.message,
            "escalation": o.escalation,
        }
        for o, client_name in rows
    ]


def format_table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns; what operators typed is shown with control characters escaped."""
    cells = [[name for name, _ in _COLUMNS]]
    for row in rows:
        values = []
        for name, most in _COLUMNS:
            value = row[name]
            text = ("yes" if value else "") if isinstance(value, bool) else str(value or "")
            values.append(clip(visible(text), most))
        cells.append(values)
    widths = [max(width(r[i]) for r in cells) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(c + " " * (w - width(c)) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def run_outcomes(args: argparse.Namespace) -> int:
    from ivr.config import load

    settings = load(getattr(args, "config", None))
    rows = asyncio.run(_latest(settings.db_url, max(1, args.limit)))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows), end="")
    return 0
