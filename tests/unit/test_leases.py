"""Leases (ivr/lease.py, ivr/records/leases.py) on a real PostgreSQL: one holder at a time;
a holder killed with SIGKILL is replaced by another engine within the lease time and the
job goes on with nothing done twice and nothing skipped; a holder that stops hands over at
once; an alarm woken in one engine wakes the scheduler in another. On SQLite one engine
holds every lease."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest_asyncio
from pg_server import new_database
from sqlalchemy import update

from ivr.alarm import Alarms
from ivr.harness.stack import poll
from ivr.lease import Leases
from ivr.records import leases as store
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.listen import PgRelay, plain_dsn
from ivr.wake import Wakeups

WORKER = Path(__file__).resolve().parent.parent / "lease_worker.py"
TTL = 2.0


@pytest_asyncio.fixture
async def pg_url(postgres_server: str) -> str:
    url = await new_database(postgres_server)
    await upgrade(url)
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(
            "CREATE TABLE lease_work (n integer NOT NULL, holder text NOT NULL,"
            " at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    finally:
        await conn.close()
    return url


@pytest_asyncio.fixture
async def sessions(pg_url: str) -> AsyncIterator[Any]:
    engine = make_engine(pg_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


class Worker:
    """One engine's scheduler in its own process (tests/lease_worker.py)."""

    def __init__(self, url: str, name: str, log: Path) -> None:
        self.url, self.name, self.log = url, name, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKER.parent.parent), "."])}
        with open(self.log, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(WORKER), self.url, self.name, str(TTL),
                stdout=asyncio.subprocess.PIPE, stderr=out, env=env,
            )  # fmt: skip
        assert self.process.stdout is not None
        async with asyncio.timeout(30):
            assert (await self.process.stdout.readline()).strip() == b"ready", self.log.read_text()

    async def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        async with asyncio.timeout(30):
            await self.process.wait()

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


async def work(url: str) -> list[tuple[int, str, float]]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT n, holder, extract(epoch FROM at)::float8 AS at FROM lease_work ORDER BY at"
        )
    finally:
        await conn.close()
    return [(r["n"], r["holder"], r["at"]) for r in rows]


def runs(rows: list[tuple[int, str, float]]) -> list[str]:
    """The holders in the order they worked, one entry per uninterrupted run."""
    out: list[str] = []
    for _, holder, _ in rows:
        if not out or out[-1] != holder:
            out.append(holder)
    return out


async def test_a_killed_holder_is_replaced_within_the_lease_time_and_nothing_is_done_twice(
    pg_url: str, tmp_path: Path
) -> None:
    a, b = Worker(pg_url, "a", tmp_path / "a.log"), Worker(pg_url, "b", tmp_path / "b.log")
    try:
        await a.start()
        await until(pg_url, "a", 10)
        await b.start()
        # b runs, renews and finds the lease held: it writes nothing while a lives
        start = len(await work(pg_url))
        await until(pg_url, "a", start + 20)
        await a.signal(signal.SIGKILL)
        await until(pg_url, "b", 10)
    finally:
        await a.close()
        await b.close()
    rows = await work(pg_url)
    assert runs(rows) == ["a", "b"]  # never both at once, and b only after a died
    numbers = [n for n, _, _ in rows]
    assert numbers == list(range(1, len(rows) + 1))  # nothing twice, nothing skipped
    last_a = max(at for _, holder, at in rows if holder == "a")
    first_b = min(at for _, holder, at in rows if holder == "b")
    # the lease outlives its dead holder by at most TTL; b renews every TTL / 3
    assert 0 < first_b - last_a < TTL + TTL / 3 + 1.5


async def test_a_holder_that_stops_hands_over_at_once(pg_url: str, tmp_path: Path) -> None:
    a, b = Worker(pg_url, "a", tmp_path / "a.log"), Worker(pg_url, "b", tmp_path / "b.log")
    try:
        await a.start()
        await until(pg_url, "a", 5)
        await b.start()
        await a.signal(signal.SIGTERM)  # releases its lease as it stops
        await until(pg_url, "b", 5)
    finally:
        await a.close()
        await b.close()
    rows = await work(pg_url)
    assert runs(rows) == ["a", "b"]
    assert [n for n, _, _ in rows] == list(range(1, len(rows) + 1))
    last_a = max(at for _, holder, at in rows if holder == "a")
    first_b = min(at for _, holder, at in rows if holder == "b")
    assert first_b - last_a < TTL / 3 + 1.0  # b's next renewal, not the whole lease


async def until(url: str, holder: str, at_least: int) -> None:
    """Until `holder` has written at least `at_least` rows."""
    await poll(
        lambda: work(url),
        lambda rows: sum(1 for _, h, _ in rows if h == holder) >= at_least,
        what=f"{at_least} rows by {holder}",
    )


async def test_the_lease_table_gives_each_lease_to_one_holder(sessions: Any) -> None:
    await store.ensure(sessions, ["x", "y"])
    await store.ensure(sessions, ["x", "y"])  # twice: still one row each
    first = {h.name: h for h in await store.acquire(sessions, ["x", "y"], "a", 30)}
    assert {n: h.holder for n, h in first.items()} == {"x": "a", "y": "a"}
    other = {h.name: h for h in await store.acquire(sessions, ["x"], "b", 30)}
    assert other["x"].holder == "a" and other["x"].left > 25  # held: b does not get it
    assert await store.release(sessions, ["x"], "b") == 0  # b cannot give up what a holds
    assert await store.release(sessions, ["x"], "a") == 1
    taken = {h.name: h for h in await store.acquire(sessions, ["x"], "b", 30)}
    assert taken["x"].holder == "b" and taken["x"].epoch == first["x"].epoch + 1
    shown = {h.name: h.holder for h in await store.holders(sessions)}
    assert shown == {"x": "b", "y": "a"}


async def test_a_lease_lost_stops_its_job_and_one_taken_starts_it(sessions: Any) -> None:
    a = Leases(sessions, "a", ttl=30)
    b = Leases(sessions, "b", ttl=30)
    running = {"a": asyncio.Event(), "b": asyncio.Event()}

    def job(name: str) -> Any:
        async def loop() -> None:
            running[name].set()
            await asyncio.Event().wait()

        return loop

    a.run("j", job("a"))
    b.run("j", job("b"))
    await a.renew_once()
    await b.renew_once()
    assert a.held == {"j"} and b.held == set()
    await asyncio.wait_for(running["a"].wait(), 5)
    assert not running["b"].is_set()
    # another engine took it (a was away longer than the lease): a's job stops at once
    async with sessions.begin() as session:
        await session.execute(update(store.LeaseRow).values(holder="b", epoch=9))
    await a.renew_once()
    assert a.held == set() and not a.jobs["j"].running
    await b.renew_once()
    await asyncio.wait_for(running["b"].wait(), 5)
    await a.close()
    await b.close()


async def test_an_alarm_woken_in_one_engine_wakes_the_scheduler_in_another(pg_url: str) -> None:
    here, there = Wakeups(), Wakeups()
    relays = [PgRelay(pg_url, here), PgRelay(pg_url, there)]
    for relay in relays:
        await relay.start()
    try:
        sender, runner = Alarms(here), Alarms(there)
        alarm = runner.get("escalations")  # only the other engine runs the ladders
        assert sender.wake("escalations")
        assert await alarm.sleep(30)  # woken early, not after 30 s
    finally:
        for relay in relays:
            await relay.close()


async def test_on_sqlite_one_engine_holds_every_lease() -> None:
    leases = Leases()
    ran = asyncio.Event()

    async def loop() -> None:
        ran.set()
        await asyncio.Event().wait()

    job = leases.run("escalations", loop)
    await asyncio.wait_for(ran.wait(), 5)
    assert leases.held == {"escalations"} and job.running
    await job.close()
    assert not job.running and leases.held == set()
