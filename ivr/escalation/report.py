"""`ivr escalations`: the latest ladders and every call they placed, as text or JSON.

A caller's name comes from a stranger: it is shown through ivr.records.report.visible, like
in `ivr calls`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import datetime
from typing import Any

from ivr.escalation.store import (
    AttemptRecord,
    RunRecord,
    attempts_for_call,
    list_runs,
    runs_for_call,
)
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.report import visible


def _time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().replace(tzinfo=None).isoformat("T", "seconds")


def format_text(found: list[tuple[RunRecord, list[AttemptRecord]]]) -> str:
    if not found:
        return "no escalations\n"
    lines: list[str] = []
    for run, attempts in found:
        who = visible(run.caller_name or "unknown caller")
        status = run.status
        if run.reason:
            status += f": {visible(run.reason)}"
        if run.acknowledged_by:
            status += f" by {visible(run.acknowledged_by)} at {_time(run.acknowledged_at)}"
        client = visible(run.client_name or run.client_id or "-")
        lines.append(
            f"{_time(run.started_at)}  call {run.linkedid}  {client}  ladder {run.ladder}: {status}"
        )
        lines.append(f"    from {who}, callback {visible(run.callback or '-')}")
        lines.append(f"    mail: {run.mail_result or 'not yet'}")
        for a in attempts:
            lines.append(
                f"    {_time(a.placed_at)}  round {a.round + 1} try {a.try_ + 1}  "
                f"{visible(a.contact_name)} ({a.number}): {a.outcome or 'in progress'}"
                + (f" [{visible(a.detail)}]" if a.detail else "")
            )
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def format_json(found: list[tuple[RunRecord, list[AttemptRecord]]]) -> str:
    data = [{**_plain(run), "attempts": _plain(attempts)} for run, attempts in found]
    return json.dumps(data, indent=2) + "\n"


async def _load(
    url: str, linkedid: str | None, limit: int
) -> list[tuple[RunRecord, list[AttemptRecord]]]:
    await upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        if linkedid is not None:
            runs = await runs_for_call(sessions, linkedid)
        else:
            runs = await list_runs(sessions, limit=limit)
        out = []
        for run in runs:
            attempts = await attempts_for_call(sessions, run.linkedid)
            out.append((run, [a for a in attempts if a.run_id == run.id]))
        return out
    finally:
        await engine.dispose()


def run_escalations(args: argparse.Namespace) -> int:
    from ivr.config import load

    settings = load(getattr(args, "config", None))
    found = asyncio.run(_load(settings.db_url, args.call, args.limit))
    print(format_json(found) if args.json else format_text(found), end="")
    return 0


def register(sub: Any) -> None:
    """Add `escalations` to the `ivr` command's subparsers."""
    parser = sub.add_parser(
        "escalations", help="urgent escalations: each ladder and the calls it placed"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--call", metavar="LINKEDID", help="only the ladders of this call")
    parser.add_argument("--limit", type=int, default=20, help="how many ladders (20)")
    parser.set_defaults(func=run_escalations)
