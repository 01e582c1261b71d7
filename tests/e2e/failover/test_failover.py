"""The two-node cluster on a PostgreSQL that fails over (`[cluster.database]`: a
pg_auto_failover monitor, a primary and its synchronous standby, all started by `ivr cluster`):
the primary's whole node SIGKILLed under 10 calls a second loses no call and no record (one
record per call, each matched to its caller), the client's area answers again (the time is
measured and printed), and each scheduler's lease is held by one engine at a time across the
switch, then by exactly one."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from ivr.area import users
from ivr.cluster.run import Running
from ivr.cluster.spec import load
from ivr.harness.cluster import loopback_file
from ivr.harness.sipp import SCENARIOS, place_calls
from ivr.harness.stack import poll
from ivr.records.db import make_engine, session_factory
from ivr.records.models import Call

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

RULES = Path(__file__).resolve().parents[1] / "cluster" / "rules"
TRUNK = "127.0.0.2"
ACME = "0611000001"
CALLER_PREFIX = "0399"  # each call's caller number: this and sipp's call number
CALLS, RATE = 200, 10
LEASES = {"escalations", "purge", "notices", "billing", "dispatch", "nodes"}
EMAIL, PASSWORD = "anna@acme.example", "a long enough password"


@dataclass
class Rig:
    running: Running
    sessions: Any
    folder: Path
    running_file: Path  # the cluster's settings file

    @property
    def proxy(self) -> tuple[str, int]:
        return self.running.cluster.address, self.running.cluster.port

    async def records(self) -> list[Call]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Call).order_by(Call.id)))


def numbered_caller(folder: Path) -> Path:
    """The Record-Route caller, each call from a number of its own: CALLER_PREFIX and sipp's
    call number (1, 2, ...), so that every record is matched to the call that made it."""
    text = (SCENARIOS / "caller_rr.xml").read_text()
    path = folder / "caller_numbered.xml"
    path.write_text(text.replace("sip:[caller_num]@", "sip:[caller_num][call_number]@"))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    folder = tmp_path_factory.mktemp("failover")
    path = loopback_file(
        folder, f"f{os.getpid() % 100000}", None, RULES, f"{TRUNK}:5999",
        42000 + (os.getpid() * 7 % 40) * 200, 100, settings="lease_seconds = 3.0",
    )  # fmt: skip
    running = Running(load(path))
    assert running.database is not None
    engine = make_engine(running.cluster.database.url)  # type: ignore[union-attr]
    rig = Rig(running, session_factory(engine), folder, path)
    try:
        await running.start()  # the database first: a primary and its standby
        yield rig
    finally:
        await running.stop()
        await engine.dispose()
        for settings in running.settings.values():
            shutil.rmtree(settings.state_dir, ignore_errors=True)
            shutil.rmtree(settings.host_run_dir, ignore_errors=True)
        shutil.rmtree(running.cluster.run_dir, ignore_errors=True)


async def area_login(base: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(f"{base}/login") as response:
        form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert form is not None
    data = {"email": EMAIL, "password": PASSWORD, "csrf": form.group(1)}
    async with http.post(f"{base}/login", data=data, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
    return http


async def area_answers(http: aiohttp.ClientSession, base: str) -> bool:
    """The client's list of calls (read from the database) comes back whole."""
    try:
        async with http.get(f"{base}/calls", timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status == 200 and "</html>" in await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return False


async def test_the_primary_killed_under_load_loses_no_call_and_no_record(rig: Rig) -> None:
    database = rig.running.database
    assert database is not None
    await users.add_user(rig.sessions, "acme", EMAIL, PASSWORD, datetime.now(UTC), role="admin")
    node1 = rig.running.settings["node1"]
    base = f"http://{node1.bind}:{node1.ports.http}/area"
    http = await area_login(base)
    held_twice: list[dict[str, list[str]]] = []
    watching = True

    async def watch_leases() -> None:
        """Which engine holds what, through the switch: never one lease in two engines."""
        while watching:
            status = await rig.running.status()
            held = {n: s["engine"].get("leases", []) for n, s in status["nodes"].items()}
            if len(sum(held.values(), [])) != len(set(sum(held.values(), []))):
                held_twice.append(held)
            await asyncio.sleep(0.3)  # sampling the engines' own view

    try:
        assert await area_answers(http, base)
        # what an administrator reads: `ivr cluster status` names the database's parts
        shown = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "--config", str(rig.running_file), "cluster", "status",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out = (await shown.communicate())[0].decode()
        assert shown.returncode == 0, out
        assert re.search(r"database \(pg_auto_failover\): monitor up; db1 \w+, db2 \w+", out), out
        watcher = asyncio.create_task(watch_leases())
        load = asyncio.create_task(
            place_calls(
                rig.proxy, ACME, count=CALLS, rate=RATE, hold_ms=1000, timeout=300,
                caller_num=CALLER_PREFIX, scenario=numbered_caller(rig.folder),
            )
        )  # fmt: skip
        # a few seconds of calls recorded, then the primary's whole node is lost
        await poll(rig.records, lambda rows: len(rows) >= 3 * RATE, timeout=60, what="30 calls")
        primary = await database.primary()
        assert primary is not None
        killed = time.monotonic()
        await database.kill(primary)
        await poll(lambda: area_answers(http, base), bool, timeout=120, what="the area back")
        area_back = time.monotonic() - killed
        states = await database.wait(
            lambda s: (
                s.get(primary) != "primary"
                and "wait_primary" in s.values()
                or "primary" in s.values()
                and s.get(primary) != "primary"
            ),
            60,
            "the standby promoted",
        )
        promoted = time.monotonic() - killed
        result = await load
        watching = False
        await watcher
        print(f"\nprimary {primary} killed under {RATE} calls/s: standby promoted after "
              f"{promoted:.1f} s, the area answered again after {area_back:.1f} s; "
              f"{result.successful}/{CALLS} calls; states {states}")  # fmt: skip
        assert result.ok, result.output[-2000:]  # no call lost

        records = await poll(
            rig.records,
            lambda rows: len(rows) >= CALLS and all(r.ended_at for r in rows),
            timeout=120,
            what="every call's record, ended",
        )
        callers = sorted(r.caller_number or "" for r in records)
        # one record per call, each the record of its own caller
        assert callers == sorted(f"{CALLER_PREFIX}{n}" for n in range(1, CALLS + 1)), callers
        assert all(r.outcome != "in-progress" and not r.rebuilt for r in records)

        # each scheduler held by one engine at a time through the switch, then by exactly one
        assert not held_twice, held_twice
        status = await poll(
            rig.running.status,
            lambda s: (
                sorted(sum((n["engine"]["leases"] for n in s["nodes"].values()), []))
                == sorted(LEASES)
            ),
            timeout=60,
            what="every lease held once",
        )
        assert all(n["engine"]["ami"] for n in status["nodes"].values())
        assert await area_answers(http, base)
    finally:
        watching = False
        await http.close()
