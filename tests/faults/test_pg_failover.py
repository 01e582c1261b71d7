"""PostgreSQL that fails over (pg_auto_failover: a monitor, a primary and its synchronous
standby on loopback, ivr/cluster/database.py), its primary node SIGKILLed while the engine's
parts write through the one multi-host address: the records writer loses no fact and writes
none twice, a lease's job runs in one engine at a time across the promotion, and two engines
claiming a campaign's contacts never claim one twice."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from ivr.campaigns import importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.models import Attempt
from ivr.cluster.database import DatabaseSpec, FailoverDatabase
from ivr.cluster.dbauth import Passwords
from ivr.dialpolicy import DialPolicy
from ivr.harness.ports import free_tcp_port
from ivr.lease import Leases
from ivr.records import leases as lease_store
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.facts import Fact, Facts
from ivr.records.models import Call, CallEvent
from ivr.records.writer import RecordWriter
from ivr.routing import load_rules

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
WRITE_EVERY = 0.05  # seconds between two calls' facts: 20 a second
FAILOVER_WITHIN = 90.0  # seconds the test waits for the standby to take over (not a bound)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def database() -> AsyncIterator[FailoverDatabase]:
    spec = DatabaseSpec(
        monitor=free_tcp_port(),
        ports=(free_tcp_port(), free_tcp_port()),
        passwords=Passwords.new(),  # scram-sha-256 and TLS, as every formation
    )
    # a folder of its own that the postgres user may enter (pytest's are root's alone)
    db = FailoverDatabase(spec, Path(tempfile.mkdtemp(prefix="ivr-failover-")))
    try:
        await db.start()
        await upgrade(spec.url)
        yield db
    finally:
        await db.stop()
        db.remove()


async def back_to_two(db: FailoverDatabase, killed: str) -> None:
    """The killed node started again: it rejoins as the new primary's standby."""
    await db.start()
    states = await db.states()
    assert db.ready(states) and states[killed] == "secondary", states


async def kill_primary(db: FailoverDatabase) -> tuple[str, float]:
    """SIGKILL the primary's whole node (pg_autoctl and its PostgreSQL); the node killed and
    the seconds until the monitor reports its standby as the primary."""
    states = await db.wait(db.ready, FAILOVER_WITHIN, "a primary and its standby")
    primary = next(n for n, s in states.items() if s == "primary")
    began = time.monotonic()
    await db.kill(primary)
    await db.wait(
        lambda s: any(n != primary and v in ("wait_primary", "primary") for n, v in s.items()),
        FAILOVER_WITHIN,
        "a new primary",
    )
    return primary, time.monotonic() - began


def call_facts(n: int, at: datetime) -> list[Fact]:
    """A call's arrival and end, and the engine's trace of it (a row of call_events)."""
    linkedid = f"failover-{n:05d}"
    return [
        Fact(linkedid, Facts(arrived_at=at), "agi", "arrive", at, data={"n": n}),
        Fact(linkedid, Facts(ended_at=at + timedelta(seconds=1)), "ami", "hangup", at),
    ]


async def test_the_records_writer_loses_nothing_and_writes_nothing_twice(
    database: FailoverDatabase,
) -> None:
    writer = RecordWriter(database.spec.url)
    await writer.start()
    written_at: list[float] = []  # when each batch was written (its commit came back)
    writer.listen(lambda _changes: written_at.append(time.monotonic()))
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # any moment: the records are not routed
    submitted = 0
    stop = asyncio.Event()

    async def keep_writing() -> None:
        nonlocal submitted
        while not stop.is_set():
            assert writer.submit(call_facts(submitted, start + timedelta(seconds=submitted)))
            submitted += 1
            await asyncio.sleep(WRITE_EVERY)  # the pace of the load, not a wait on a result

    producer = asyncio.create_task(keep_writing())
    try:
        assert await writer.wait_written(writer.submit([]) or 0, 30)
        await _until(lambda: submitted >= 40, 30, "40 calls submitted")  # before the kill
        before = submitted
        killed_at = time.monotonic()
        killed, promoted = await kill_primary(database)
        # the writer goes on by itself: wait until it has written what came after the kill
        target = submitted + 40
        await _until(lambda: submitted >= target, 120, "40 more calls submitted")
        stop.set()
        await producer
        assert await writer.flush(120), writer.last_error
    finally:
        stop.set()
        await writer.close()
    # the longest time without a batch written, around the kill: how long records waited
    gap = max(b - a for a, b in zip(written_at, written_at[1:], strict=False) if b > killed_at)
    print(f"\nprimary {killed} killed after {before} calls: standby promoted in "
          f"{promoted:.1f} s; no batch written for {gap:.1f} s; "
          f"{submitted} calls in all")  # fmt: skip

    engine = make_engine(database.spec.url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            calls = list(await session.scalars(select(Call).order_by(Call.linkedid)))
            events = await session.scalar(select(func.count()).select_from(CallEvent))
    finally:
        await engine.dispose()
    assert [c.linkedid for c in calls] == [f"failover-{n:05d}" for n in range(submitted)]
    assert all(c.arrived_at is not None and c.ended_at is not None for c in calls)
    assert events == submitted  # each call's trace once: a batch written twice adds nothing
    await back_to_two(database, killed)


async def test_a_leases_job_runs_in_one_engine_at_a_time_across_a_promotion(
    database: FailoverDatabase,
) -> None:
    engine = make_engine(database.spec.url)
    sessions = session_factory(engine)
    ttl = 3.0
    running: dict[str, bool] = {}
    overlaps: list[float] = []

    def job(me: str) -> object:
        async def loop() -> None:
            running[me] = True
            try:
                while True:
                    if sum(running.values()) > 1:
                        overlaps.append(time.monotonic())
                    await asyncio.sleep(0.05)  # a job's own pace
            finally:
                running[me] = False

        return loop

    engines = [Leases(sessions, me, ttl=ttl) for me in ("a", "b")]
    for leases in engines:
        leases.run("dialler", job(leases.me))  # type: ignore[arg-type]
        await leases.start()
    try:
        first = await _until_holder(sessions, 30)
        epoch = (await lease_store.holders(sessions))[0].epoch
        killed, promoted = await kill_primary(database)
        # after the switch: the lease held again by one engine, its epoch never gone back
        holder = await _until_holder(sessions, 120)
        after = (await lease_store.holders(sessions))[0]
        assert after.epoch >= epoch and (after.epoch > epoch) == (holder != first)
        await _until(lambda: running.get(holder, False), 30, f"the job running in {holder}")
        assert [e.me for e in engines if e.held] == [holder]
        print(f"\nlease held by {first} (epoch {epoch}) before, by {holder} (epoch "
              f"{after.epoch}) after; standby promoted in {promoted:.1f} s")  # fmt: skip
    finally:
        for leases in engines:
            await leases.close()
        await engine.dispose()
    assert not overlaps, f"the job ran in two engines at once {len(overlaps)} times"
    await back_to_two(database, killed)


async def _until_holder(sessions: lease_store.Sessions, timeout: float) -> str:
    async def holder() -> str:
        try:
            held = await lease_store.holders(sessions)
        except Exception:  # the primary being replaced: ask again
            return ""
        return held[0].holder if held else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await holder()
        if found:
            return found
        await asyncio.sleep(0.2)  # polling the lease row
    raise AssertionError(f"nobody holds the lease after {timeout} s")


async def _until(done: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        await asyncio.sleep(0.05)  # polling a counter the running tasks move


async def test_two_engines_claiming_contacts_never_claim_one_twice_across_a_promotion(
    database: FailoverDatabase,
) -> None:
    campaign = load_campaigns(RULES, load_rules(RULES)).by_id["rossi-solleciti"]
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # the moment the claims are judged at
    engines = [make_engine(database.spec.url) for _ in range(2)]
    sessions = [session_factory(e) for e in engines]
    header = ["numero", "debitore", "importo", "scadenza", "fattura"]
    rows = [[f"06{7000000 + n}", f"D{n}", "10", "2026-10-01", f"F{n}"] for n in range(400)]
    parsed = importer.parse_rows(campaign.kind, header, enumerate(rows, start=2))
    await lists.import_contacts(sessions[0], campaign, parsed, "l", now)
    claimed: list[int] = []
    failed: list[str] = []
    done = asyncio.Event()

    async def dialler(k: int) -> None:
        while not done.is_set():
            try:
                got = await store.claim(
                    sessions[k], campaign, engine=f"e{k}", now=now, operators=["op1", "op2"],
                    policy=DialPolicy(), register_max_days=15,
                )  # fmt: skip
            except Exception as exc:  # the primary being replaced: the dialler tries again
                failed.append(type(exc).__name__)
                await asyncio.sleep(0.2)  # a dialler's pause after a failed round
                continue
            if not got:
                return
            claimed.extend(c.contact.id for c in got)
            await asyncio.sleep(0.05)  # a dialler's pace

    try:
        running = [asyncio.create_task(dialler(k)) for k in range(2)]
        await _until(lambda: len(claimed) >= 40, 30, "40 contacts claimed")
        killed, _ = await kill_primary(database)
        await _until(lambda: len(claimed) >= 200 or all(t.done() for t in running), 120,
                     "claims after the switch")  # fmt: skip
        done.set()
        await asyncio.gather(*running)
        async with sessions[0]() as session:
            per_contact = list(
                await session.execute(
                    select(Attempt.contact_id, func.count()).group_by(Attempt.contact_id)
                )
            )
    finally:
        done.set()
        for engine in engines:
            await engine.dispose()
    print(f"\n{len(claimed)} contacts claimed by two engines; {len(failed)} rounds failed "
          f"during the switch ({', '.join(sorted(set(failed)))})")  # fmt: skip
    assert len(claimed) == len(set(claimed)) and len(claimed) >= 200
    assert all(count == 1 for _, count in per_contact)  # one attempt per contact: none twice
    assert set(claimed) <= {contact for contact, _ in per_contact}
    await back_to_two(database, killed)
