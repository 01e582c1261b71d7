#!/usr/bin/python3
"""The inbound route as a classic AGI script: one process per call, driven by pyst2.

Kept for the benchmark that compares it with FastAGI (`make bench`); production uses the
FastAGI route. It runs inside Asterisk's own root, with the engine's pure modules and pyst2
copied beside it in lib/. pyst2 quotes nothing, so every value goes through our own quote().
Arguments: the call's linkedid, the instance name.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

HERE = Path(os.path.abspath(__file__)).parent
sys.path.insert(0, str(HERE / "lib"))

from asterisk.agi import AGI  # noqa: E402  (pyst2, from lib/)

from agi_scripts.inbound_plan import operator_display, plan, read_call  # noqa: E402
from ivr.agi.protocol import quote  # noqa: E402
from ivr.clock import clock_of  # noqa: E402
from ivr.config import Settings  # noqa: E402
from ivr.routing import evaluate, load_rules  # noqa: E402

SCHEMA = """CREATE TABLE IF NOT EXISTS calls (
    linkedid TEXT PRIMARY KEY, client_id TEXT, called TEXT, caller_number TEXT,
    caller_name TEXT, arrived_at TEXT, route TEXT)"""


def main() -> None:
    agi = AGI(stderr=open(os.devnull, "w"))  # noqa: SIM115  (pyst2 narrates every line)
    args = [agi.env.get(f"agi_arg_{n}", "") for n in range(1, 3)]
    settings = Settings(instance=args[1] or "demo", asterisk_root=None)
    linkedid, info = read_call(agi.env, args)
    rules = load_rules(settings.run_dir / "rules")
    now = clock_of(settings)()  # the engine's clock (a test's moment)
    decision = evaluate(rules, info, now)
    values = plan(decision, settings, linkedid)
    # db/ is the folder Asterisk (an unprivileged user) may write in.
    with sqlite3.connect(settings.run_dir / "db" / "classic.db", timeout=10) as db:
        db.execute(SCHEMA)
        db.execute(
            "INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                linkedid,
                decision.client.id if decision.client else None,
                info.called,
                info.caller,
                info.caller_name,
                now.isoformat(),
                values["IVR_ROUTE"],
            ),
        )
    for name, value in values.items():
        agi.execute("SET VARIABLE", name, quote(value))
    display = operator_display(decision, info.caller_name, info.caller)
    agi.execute("SET VARIABLE", "CALLERID(name)", quote(display))


if __name__ == "__main__":
    main()
