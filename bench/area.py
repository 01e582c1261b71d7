"""The client area's list: 100,000 calls for one client among 1,000,000, on SQLite and on a
real PostgreSQL.

Prints p50/p95 of one page (50 rows) for the plain list, the filters, a deep page and text
searches, and of the unread count (on every page). Variants run interleaved in rounds, so
both see the same machine load:
- the list with the index it reads by (calls: client_id, arrived_at, id) and without it;
- the text searches and the unread count through area_calls (kept by triggers, with SQLite
  FTS5 trigram / PostgreSQL pg_trgm) and as they were before it (ILIKE over five columns of
  three joined tables; a count over the same join).
Also: how long migration 0006 takes on the million calls, and what its triggers add to the
writing of a call.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import and_, func, or_, select

from bench.pg import new_database, postgres
from ivr.area import query
from ivr.area.models import MessageState
from ivr.portal.models import CallOutcome
from ivr.records import db
from ivr.records.listen import plain_dsn
from ivr.records.models import Call

CALLS = 1_000_000
MINE = 100_000
CLIENT = "big"
ZONE = "Europe/Rome"
FIRST = ("Maria", "Giulia", "Luca", "Marco", "Anna", "Paolo", "Sara", "Giorgio", "Elena",
         "Franco", "Laura", "Stefano", "Chiara", "Andrea", "Silvia", "Roberto", "Marta",
         "Davide", "Valeria", "Matteo", "Federica", "Alberto", "Irene", "Simone", "Alessia",
         "Enrico", "Paola", "Fabio", "Cristina", "Nicola")  # fmt: skip
LAST = ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
        "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
        "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro",
        "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo",
        "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola", "De Santis",
        "D'Angelo", "Marchetti")  # fmt: skip
# What the big client's operators write (a law office), and what the others' do (plumbers).
MINE_SAYS = ("chiede un appuntamento per la pratica", "richiamare per l'udienza",
             "documenti pronti in ufficio", "parcella da chiarire")  # fmt: skip
OTHERS_SAY = ("perdita dalla caldaia", "tubo rotto in cucina", "preventivo per il bagno",
              "scaldabagno guasto")  # fmt: skip
SEARCHES = {
    "search: a full name": "Giulia Esposito",
    "search: a surname": "Esposito",
    "search: part of a number": "48213",
    "search: an order number": "ordine 4242",
    "search: others' word only": "caldaia",
    "search: two characters": "42",
}
Sample = Callable[[], Awaitable[Any]]


def generate(count: int = CALLS) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...] | None]]:
    """(call, outcome or None) of every call, the same on every run; a tenth are CLIENT's."""
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    mine = set(rng.sample(range(count), count * MINE // CALLS))
    for n in range(count):
        at = start + timedelta(seconds=n * 30)
        client = CLIENT if n in mine else f"c{n % 997}"
        outcome = ("answered", "message-left", "abandoned")[n % 3]
        path = f"/srv/ivr/x/messages/{n}.wav" if outcome == "message-left" else None
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        number = f"3{rng.randrange(10**9):09d}" if n % 2 else f"0{rng.randrange(10**9):09d}"
        call = (f"l{n}", client, client, number, name, at, outcome, path, at)
        said = None
        if n % 3 == 0:  # an operator answered and wrote something down
            words = rng.choice(MINE_SAYS if client == CLIENT else OTHERS_SAY)
            said = (f"l{n}", "op1", client, name, number, f"{words}, ordine {n}", "message",
                    n % 40 == 0, at)  # fmt: skip
        yield call, said


CALL_COLUMNS = ("linkedid", "client_id", "client_name", "caller_number", "caller_name",
                "arrived_at", "outcome", "message_path", "updated_at")  # fmt: skip
OUTCOME_COLUMNS = ("linkedid", "operator", "client_id", "caller_name", "callback", "message",
                   "category", "urgent", "saved_at")  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    return value.replace(tzinfo=None).isoformat(sep=" ") if isinstance(value, datetime) else value


def fill_sqlite(path: Path, count: int = CALLS) -> None:
    con = sqlite3.connect(path)
    calls, outcomes = [], []
    for call, said in generate(count):
        calls.append(tuple(map(_sqlite_value, call)))
        if said is not None:
            outcomes.append(tuple(map(_sqlite_value, said)))
    for table, columns, rows in (
        ("calls", CALL_COLUMNS, calls),
        ("call_outcomes", OUTCOME_COLUMNS, outcomes),
    ):
        marks = ",".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"  # noqa: S608
        con.executemany(sql, rows)
    con.commit()
    con.close()


async def fill_postgresql(url: str, count: int = CALLS) -> None:
    import asyncpg

    calls, outcomes = [], []
    for call, said in generate(count):
        calls.append(call)
        if said is not None:
            outcomes.append(said)
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.copy_records_to_table("calls", records=calls, columns=CALL_COLUMNS)
        await conn.copy_records_to_table("call_outcomes", records=outcomes, columns=OUTCOME_COLUMNS)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def migrate(url: str, revision: str) -> None:
    engine = db.make_engine(url)
    try:

        def run(connection: Any) -> None:
            config = db.alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
    finally:
        await engine.dispose()


def before_area(url: str) -> str:
    """The revision the area's migration (0006) comes after."""
    found = ScriptDirectory.from_config(db.alembic_config(url)).get_revision("0006")
    assert found is not None and isinstance(found.down_revision, str)
    return found.down_revision


async def prepare(url: str, fill: Callable[[], Awaitable[None]], count: int = CALLS) -> None:
    """The calls written before the area existed, then migration 0006 (timed) over them."""
    t0 = time.perf_counter()
    await migrate(url, before_area(url))
    await fill()
    t1 = time.perf_counter()
    await migrate(url, "head")
    t2 = time.perf_counter()
    print(
        f"  {count:,} calls ({count * MINE // CALLS:,} of one client) written in {t1 - t0:.0f} s;"
        f" migration 0006 over them (area_calls, its triggers and indexes) {t2 - t1:.0f} s"
    )
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as con:
            con.execute("ANALYZE")
    else:  # what autovacuum does soon after a bulk write: statistics, the visibility map
        import asyncpg

        conn = await asyncpg.connect(plain_dsn(url))
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()


# -- the queries as they were before area_calls -------------------------------------------


async def search_before(sessions: Any, words: str) -> Any:
    like = query._like(words)
    columns = (Call.caller_name, Call.caller_number, CallOutcome.caller_name,
               CallOutcome.callback, CallOutcome.message)  # fmt: skip
    found = query._select(CLIENT).where(or_(*(c.ilike(like, escape="\\") for c in columns)))
    async with sessions() as session:
        return await query._page(session, found, "", query.PAGE)


async def unread_before(sessions: Any) -> int:
    count = (
        select(func.count())
        .select_from(Call)
        .outerjoin(CallOutcome, CallOutcome.linkedid == Call.linkedid)
        .outerjoin(
            MessageState,
            and_(MessageState.linkedid == Call.linkedid, MessageState.client_id == CLIENT),
        )
        .where(Call.client_id == CLIENT, Call.arrived_at.is_not(None))
        .where(query._has_message(), MessageState.read_at.is_(None))
    )
    async with sessions() as session:
        return int(await session.scalar(count) or 0)


# -- measuring -----------------------------------------------------------------------------


def pct(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"{statistics.median(ordered) * 1000:7.1f} / {p95 * 1000:7.1f}"


async def timed(run: Sample, into: list[float]) -> Any:
    t0 = time.perf_counter()
    result = await run()
    into.append(time.perf_counter() - t0)
    return result


async def side_by_side(
    cases: dict[str, tuple[Sample, Sample]], rounds: int, per_round: int, heads: tuple[str, str]
) -> None:
    """Each case's two variants, alternately, per_round times in each of rounds."""
    samples: dict[tuple[str, int], list[float]] = {}
    cpu = [0.0, 0.0]
    for _ in range(rounds):
        for name, variants in cases.items():
            for _ in range(per_round):
                for which, run in enumerate(variants):
                    c0 = time.process_time()
                    await timed(run, samples.setdefault((name, which), []))
                    cpu[which] += time.process_time() - c0
    print(f"  {'p50 / p95 ms':28} {heads[0]:>18} {heads[1]:>18}")
    for name in cases:
        print(f"  {name:28} {pct(samples[(name, 0)]):>18} {pct(samples[(name, 1)]):>18}")
    print(f"  CPU seconds (this process): {heads[0]} {cpu[0]:.1f}, {heads[1]} {cpu[1]:.1f}")


def list_cases(sessions: Any, deep: str) -> dict[str, Sample]:
    week = query.Filters(
        outcome="messages", start=datetime(2025, 3, 3).date(), end=datetime(2025, 3, 9).date()
    )
    return {
        "list, page 1": lambda: query.page(sessions, CLIENT, query.Filters(), ZONE),
        "list, page 1,001": lambda: query.page(
            sessions, CLIENT, query.Filters(), ZONE, before=deep
        ),
        "unread": lambda: query.page(sessions, CLIENT, query.Filters(unread=True), ZONE),
        "urgent": lambda: query.page(sessions, CLIENT, query.Filters(urgent=True), ZONE),
        "messages in one week": lambda: query.page(sessions, CLIENT, week, ZONE),
    }


def search_cases(sessions: Any) -> dict[str, tuple[Sample, Sample]]:
    def now(words: str) -> Sample:
        return lambda: query.page(sessions, CLIENT, query.Filters(text=words), ZONE)

    def before(words: str) -> Sample:
        return lambda: search_before(sessions, words)

    cases = {name: (now(words), before(words)) for name, words in SEARCHES.items()}
    cases["unread count"] = (
        lambda: query.unread(sessions, CLIENT),
        lambda: unread_before(sessions),
    )
    return cases


async def check_same(sessions: Any) -> None:
    """The searches find what the old ILIKE found, and the counts agree."""
    for words in SEARCHES.values():
        new, _ = await query.page(sessions, CLIENT, query.Filters(text=words), ZONE)
        old, _ = await search_before(sessions, words)
        assert [r.linkedid for r in new] == [r.linkedid for r in old], words
    assert await query.unread(sessions, CLIENT) == await unread_before(sessions)


def set_list_index(path: Path, on: bool) -> None:
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


async def measure_sqlite(path: Path, rounds: int, per_round: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    await check_same(sessions)
    print("  text search and unread count, through area_calls and as before it:")
    await side_by_side(search_cases(sessions), rounds, per_round, ("area_calls", "before"))
    await engine.dispose()
    # The list: with the index it reads by and without it (dropped and made in turns).
    samples: dict[tuple[str, bool], list[float]] = {}
    cpu = {True: 0.0, False: 0.0}
    for _ in range(rounds):
        for on in (True, False):
            set_list_index(path, on)
            engine = db.make_engine(url)
            sessions = db.session_factory(engine)
            _, deep = await query.page(sessions, CLIENT, query.Filters(), ZONE, size=50_000)
            c0 = time.process_time()
            for name, run in list_cases(sessions, deep).items():
                for _ in range(per_round):
                    await timed(run, samples.setdefault((name, on), []))
            cpu[on] += time.process_time() - c0
            await engine.dispose()
    print("  the list, with the index calls (client_id, arrived_at, id) and without it:")
    print(f"  {'p50 / p95 ms':28} {'with index':>18} {'without':>18}")
    for name in list_cases(None, ""):
        print(f"  {name:28} {pct(samples[(name, True)]):>18} {pct(samples[(name, False)]):>18}")
    print(f"  CPU seconds: with index {cpu[True]:.1f}, without {cpu[False]:.1f}")


async def measure_postgresql(url: str, rounds: int, per_round: int) -> None:
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    await check_same(sessions)
    _, deep = await query.page(sessions, CLIENT, query.Filters(), ZONE, size=50_000)
    cases = search_cases(sessions)
    for name, run in list_cases(sessions, deep).items():
        cases[name] = (run, run)  # the same query twice: the two columns show the noise
    print("  text search and unread count, through area_calls and as before it; the list:")
    await side_by_side(cases, rounds, per_round, ("area_calls", "before"))
    await engine.dispose()


async def write_cost(make_url: Callable[[str], Awaitable[str]], count: int = 20_000) -> None:
    """Calls written by the records' own code, without the area's triggers and with them."""
    from ivr.ami.facts import event_fact
    from ivr.records import repo

    costs: dict[str, list[float]] = {"before 0006": [], "with area_calls": []}
    for _ in range(2):
        for label in costs:
            url = await make_url(label)
            await migrate(url, before_area(url) if label == "before 0006" else "head")
            engine = db.make_engine(url)
            sessions = db.session_factory(engine)
            start = datetime(2025, 1, 1, tzinfo=UTC)
            t0 = time.perf_counter()
            for n in range(count // 2):
                at = start + timedelta(seconds=n)
                await repo.open_call(
                    sessions, linkedid=f"w{n}", channel="PJSIP/trunk-1", client_id="big",
                    client_name="Big", called="0611000100", caller_number=f"06{n:08d}",
                    caller_name=f"Maria Rossi {n}", arrived_at=at, route="operators",
                )  # fmt: skip
                hangup = event_fact(
                    {"Event": "Hangup", "Linkedid": f"w{n}", "Uniqueid": f"w{n}",
                     "Context": "ivr-in-route", "Timestamp": str(at.timestamp() + 30)},
                )  # fmt: skip
                assert hangup is not None
                await repo.write(sessions, [hangup])
            costs[label].append((time.perf_counter() - t0) / (count // 2))
            await engine.dispose()
    low = {label: min(values) for label, values in costs.items()}
    print(
        "  a call written (AGI open + hangup event, two transactions): "
        + ", ".join(f"{label} {value * 1000:.2f} ms" for label, value in low.items())
        + f" ({low['with area_calls'] / low['before 0006']:.2f}x)"
    )


def run(rounds: int = 3, per_round: int = 10, postgresql: bool = True, calls: int = CALLS) -> None:
    """Every figure; `calls` (and the writes measured, a fiftieth of it at most 4,000) smaller
    for a smoke run."""
    writes = min(4000, max(20, calls // 50))
    with tempfile.TemporaryDirectory() as folder:
        print(" SQLite")
        path = Path(folder) / "area.db"
        url = f"sqlite+aiosqlite:///{path}"

        async def sqlite_fill() -> None:
            fill_sqlite(path, calls)

        asyncio.run(prepare(url, sqlite_fill, calls))
        asyncio.run(measure_sqlite(path, rounds, per_round))
        path.unlink()

        async def scratch(label: str) -> str:
            target = Path(folder) / f"w{time.monotonic_ns()}.db"
            return f"sqlite+aiosqlite:///{target}"

        asyncio.run(write_cost(scratch, count=writes))
    if not postgresql:
        return
    with postgres() as pg_url:
        print(" PostgreSQL")
        asyncio.run(prepare(pg_url, lambda: fill_postgresql(pg_url, calls), calls))
        asyncio.run(measure_postgresql(pg_url, rounds, per_round))

        async def pg_scratch(label: str) -> str:
            return await new_database(pg_url)

        asyncio.run(write_cost(pg_scratch, count=writes))
