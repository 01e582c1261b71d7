"""The client area's list: 100,000 calls for one client among 1,000,000, on SQLite.

Prints p50/p95 of one page (50 rows) for the plain list, the filters and a deep page, and of
the unread count, with the index the list reads by (calls: client_id, arrived_at, id) and
without it, interleaved in rounds so both see the same machine load.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.area import query
from ivr.records import db

CALLS = 1_000_000
MINE = 100_000
CLIENT = "big"
ZONE = "Europe/Rome"


def fill(path: Path) -> None:
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    con = sqlite3.connect(path)
    mine = set(rng.sample(range(CALLS), MINE))
    calls, outcomes = [], []
    for n in range(CALLS):
        at = start + timedelta(seconds=n * 30)
        client = CLIENT if n in mine else f"c{n % 997}"
        outcome = ("answered", "message-left", "abandoned")[n % 3]
        path_ = f"/srv/ivr/x/messages/{n}.wav" if outcome == "message-left" else None
        stamp = at.replace(tzinfo=None).isoformat(sep=" ")
        calls.append(
            (f"l{n}", client, client, f"06{n:08d}", f"Caller {n}", stamp, outcome, path_, stamp)
        )
        if client == CLIENT and n % 4 == 0:
            outcomes.append(
                (f"l{n}", "op1", client, f"Name {n}", "0612345678", f"message {n}", "message",
                 n % 40 == 0, stamp)
            )  # fmt: skip
    con.executemany(
        "INSERT INTO calls (linkedid, client_id, client_name, caller_number, caller_name,"
        " arrived_at, outcome, message_path, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
        calls,
    )
    con.executemany(
        "INSERT INTO call_outcomes (linkedid, operator, client_id, caller_name, callback,"
        " message, category, urgent, saved_at) VALUES (?,?,?,?,?,?,?,?,?)",
        outcomes,
    )
    con.commit()
    con.execute("ANALYZE")
    con.close()


def index(path: Path, on: bool) -> None:
    con = sqlite3.connect(path)
    if on:
        con.execute(
            "CREATE INDEX IF NOT EXISTS ix_calls_client_arrived"
            " ON calls (client_id, arrived_at, id)"
        )
    else:
        con.execute("DROP INDEX IF EXISTS ix_calls_client_arrived")
    con.execute("ANALYZE")
    con.commit()
    con.close()


async def cases(sessions: Any) -> dict[str, Any]:
    _, deep = await query.page(sessions, CLIENT, query.Filters(), ZONE, size=50_000)
    return {
        "list, page 1": lambda: query.page(sessions, CLIENT, query.Filters(), ZONE),
        "list, page 1,001": lambda: query.page(
            sessions, CLIENT, query.Filters(), ZONE, before=deep
        ),
        "unread": lambda: query.page(sessions, CLIENT, query.Filters(unread=True), ZONE),
        "urgent": lambda: query.page(sessions, CLIENT, query.Filters(urgent=True), ZONE),
        "messages in one week": lambda: query.page(
            sessions,
            CLIENT,
            query.Filters(
                outcome="messages",
                start=datetime(2025, 3, 3).date(),
                end=datetime(2025, 3, 9).date(),
            ),
            ZONE,
        ),  # fmt: skip
        "text search": lambda: query.page(
            sessions, CLIENT, query.Filters(text="Caller 4242"), ZONE
        ),
        "unread count": lambda: query.unread(sessions, CLIENT),
    }


async def measure(path: Path, rounds: int, per_round: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    samples: dict[tuple[str, bool], list[float]] = {}
    cpu: dict[bool, float] = {True: 0.0, False: 0.0}
    for _ in range(rounds):
        for on in (True, False):
            index(path, on)
            engine = db.make_engine(url)
            sessions = db.session_factory(engine)
            work = await cases(sessions)
            c0 = time.process_time()
            for name, run in work.items():
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    await run()
                    samples.setdefault((name, on), []).append(time.perf_counter() - t0)
            cpu[on] += time.process_time() - c0
            await engine.dispose()
    print(f"{'query':24} {'with index p50 / p95 ms':>26} {'without p50 / p95 ms':>24}")
    for name in work:
        cols = []
        for on in (True, False):
            values = sorted(samples[(name, on)])
            p50 = statistics.median(values) * 1000
            p95 = values[int(len(values) * 0.95) - 1] * 1000
            cols.append(f"{p50:8.1f} / {p95:8.1f}")
        print(f"{name:24} {cols[0]:>26} {cols[1]:>24}")
    print(f"CPU seconds: with index {cpu[True]:.1f}, without {cpu[False]:.1f}")


def run(rounds: int = 3, per_round: int = 10) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "area.db"
        t0 = time.perf_counter()
        asyncio.run(db.upgrade(f"sqlite+aiosqlite:///{path}"))
        fill(path)
        print(
            f"{CALLS:,} calls, {MINE:,} of one client, written in {time.perf_counter() - t0:.0f} s"
        )
        asyncio.run(measure(path, rounds, per_round))
