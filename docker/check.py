"""`make docker-test`'s check of the running compose cluster (docker/cluster.toml): calls
through Kamailio with sipp (a caller that honours Record-Route, from the carrier's address)
all succeed, spread over both nodes, while the database's primary container is killed under
them (SIGKILL: the host lost); the monitor promotes the standby, and PostgreSQL holds exactly
one record per call, each matched to its caller (every call from a number of its own): no call
missing, no duplicate, no stray record. The killed part then starts again and rejoins as the
new primary's standby."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import asyncpg

from ivr.cluster.database import DatabaseSpec
from ivr.cluster.dbauth import MONITOR_DB, MONITOR_USER
from ivr.cluster.spec import load
from ivr.control import bearer
from ivr.harness.sipp import SCENARIOS, place_calls
from ivr.records.listen import plain_dsn

KAMAILIO = ("127.0.0.1", 25060)
NUMBER = "0611111111"  # routing_rules: Rossi Idraulica
NODES = ("center-node1-", "center-node2-")
ENGINES = (25361, 25362)  # each node's engine's control API (docker/cluster.toml)
CALLS = 80
RATE = 4  # calls a second: 20 s of calls, the failover in the middle of them
KILL_AFTER = 8  # records of the check's calls in the database before its primary is killed
CALLER_PREFIX = "061270"  # + sipp's call number: each call's own caller number
WARM_UP_CALLER = "0399999999"  # the calls that wait for the cluster to be up
DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def engine_up(port: int) -> bool:
    token = os.environ["IVR_CONTROL_TOKEN"]  # the compose file gives it to the engines
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers=bearer(token))
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
            return bool(json.loads(answer.read())["ami"]["connected"])
    except (OSError, ValueError, KeyError):
        return False


async def engines(deadline: float) -> None:
    """Until every node's engine runs with its Asterisk connected."""
    while not all([await asyncio.to_thread(engine_up, port) for port in ENGINES]):
        if time.monotonic() > deadline:
            raise SystemExit("the nodes' engines did not come up")
        await asyncio.sleep(1)  # the containers are still starting


async def first_call(deadline: float) -> None:
    """The cluster is up once a call goes through (nodes booting: 503 or no answer)."""
    while True:
        result = await place_calls(KAMAILIO, NUMBER, scenario=SCENARIOS / "caller_rr.xml",
                                   hold_ms=200, extra=("-recv_timeout", "5000"))  # fmt: skip
        if result.ok:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"no call went through the cluster:\n{result.output[-1500:]}")
        await asyncio.sleep(2)  # the containers are still starting


def numbered_caller(folder: Path) -> Path:
    """The Record-Route caller, each call from CALLER_PREFIX and sipp's call number."""
    text = (SCENARIOS / "caller_rr.xml").read_text()
    path = folder / "caller_numbered.xml"
    path.write_text(text.replace("sip:[caller_num]@", "sip:[caller_num][call_number]@"))
    return path


def mismatches(new: list[asyncpg.Record]) -> list[str]:
    """What is wrong with the records of the check's calls: each caller exactly once, and
    nothing else but the warm-up calls."""
    wanted = {f"{CALLER_PREFIX}{n}" for n in range(1, CALLS + 1)}
    seen = Counter(r["caller_number"] for r in new)
    problems = [f"no record of the call from {n}" for n in sorted(wanted - set(seen))]
    problems += [f"{c} records of the call from {n}" for n, c in sorted(seen.items())
                 if n in wanted and c > 1]  # fmt: skip
    problems += [f"a stray record ({r['linkedid']}, caller {r['caller_number']})" for r in new
                 if r["caller_number"] not in wanted | {WARM_UP_CALLER}]  # fmt: skip
    return problems


def dsn(spec: DatabaseSpec) -> str:
    """asyncpg's form of the engines' multi-host address: the primary, wherever it is (with
    the engines' password, from IVR_DB_PASSWORD as the compose file gives it them; TLS)."""
    return plain_dsn(spec.url)


def monitor_dsn(spec: DatabaseSpec) -> str:
    """The monitor, as pg_autoctl's user (IVR_DB_MONITOR_PASSWORD), over TLS."""
    assert spec.passwords is not None, "the compose cluster runs with passwords"
    password = quote(spec.passwords.monitor, safe="")
    return (
        f"postgres://{MONITOR_USER}:{password}@{spec.address}:{spec.monitor}/{MONITOR_DB}"
        "?sslmode=require"
    )


async def records(db: str) -> list[asyncpg.Record] | None:
    """Every call record, or None while no primary answers (a failover under way)."""
    try:
        conn = await asyncpg.connect(db, timeout=5)
    except DB_ERRORS:
        return None
    try:
        return list(
            await conn.fetch("SELECT linkedid, caller_number, outcome, ended_at FROM calls")
        )
    except DB_ERRORS:
        return None
    finally:
        await conn.close()


async def states(spec: DatabaseSpec) -> dict[str, str] | None:
    """Each data node's state as the monitor says (`primary`, `secondary`, `a->b` while
    changing), or None while the monitor does not answer."""
    try:
        conn = await asyncpg.connect(monitor_dsn(spec), timeout=5)
    except DB_ERRORS:
        return None
    try:
        rows = await conn.fetch(
            "SELECT nodename, current_group_state::text AS now,"
            " assigned_group_state::text AS goal FROM pgautofailover.current_state('default')"
        )
    except DB_ERRORS:
        return None
    finally:
        await conn.close()
    return {
        r["nodename"]: r["now"] if r["now"] == r["goal"] else f"{r['now']}->{r['goal']}"
        for r in rows
    }


async def formation(
    spec: DatabaseSpec, done: Callable[[dict[str, str]], bool], timeout: float, what: str
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        now = await states(spec)
        if now is not None and done(now):
            return now
        if time.monotonic() > deadline:
            raise SystemExit(f"the database: no {what} within {timeout} s ({now})")
        await asyncio.sleep(0.5)  # polling the monitor's view of a changing formation


def ready(now: dict[str, str]) -> bool:
    """A primary and its standby."""
    return sorted(now.values()) == ["primary", "secondary"]


def container(project: str, service: str) -> str:
    """The compose container that runs `service`, found by podman-compose's labels."""
    names = subprocess.run(  # noqa: S603
        ["podman", "ps", "-a", "--format", "{{.Names}}",  # noqa: S607
         "--filter", f"label=com.docker.compose.project={project}",
         "--filter", f"label=com.docker.compose.service={service}"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    if len(names) != 1:
        raise SystemExit(f"no one container of {service} in {project}: {names}")
    return names[0]


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], check=True, capture_output=True)  # noqa: S603, S607


async def mine_seen(db: str, before: set[str], count: int, deadline: float) -> int:
    """Until `count` of the check's calls have their records (the calls are under way); how
    many have."""
    while True:
        rows = await records(db)
        if rows is not None:
            mine = [r for r in rows if r["linkedid"] not in before
                    and r["caller_number"].startswith(CALLER_PREFIX)]  # fmt: skip
            if len(mine) >= count:
                return len(mine)
        if time.monotonic() > deadline:
            raise SystemExit("the check's calls left no record in the database")
        await asyncio.sleep(0.2)  # the engines' writers batch their rows


async def main(config: Path, project: str) -> int:
    spec = load(config).database
    if spec is None:
        raise SystemExit(f"{config}: no [cluster.database]")
    db = dsn(spec)
    now = await formation(spec, ready, 240, "primary with its standby")
    primary = next(n for n, s in now.items() if s == "primary")
    standby = next(n for n in now if n != primary)
    print(f"database: {primary} primary, {standby} its standby")
    await engines(time.monotonic() + 240)
    await first_call(time.monotonic() + 60)
    before = {r["linkedid"] for r in await records(db) or []}
    with tempfile.TemporaryDirectory() as folder:
        calls = asyncio.create_task(place_calls(
            KAMAILIO, NUMBER, scenario=numbered_caller(Path(folder)), caller_num=CALLER_PREFIX,
            count=CALLS, rate=RATE, hold_ms=1000, timeout=240,
        ))  # fmt: skip
        seen = await mine_seen(db, before, KILL_AFTER, time.monotonic() + 60)
        began = time.monotonic()
        podman("kill", "--signal", "KILL", container(project, primary))
        await formation(spec, lambda s: s.get(standby) in ("wait_primary", "primary"), 120,
                        f"promotion of {standby}")  # fmt: skip
        promoted = time.monotonic() - began
        print(f"database: {primary}'s container killed under calls ({seen} of {CALLS} on "
              f"record then); {standby} promoted after {promoted:.1f} s")  # fmt: skip
        result = await calls
    print(f"calls through Kamailio: {result.successful} done, {result.failed} failed")
    if not result.ok:
        print(result.output[-2000:], file=sys.stderr)
        return 1
    deadline = time.monotonic() + 120
    while True:
        rows = await records(db)
        new = [r for r in rows or [] if r["linkedid"] not in before]
        mine = [r for r in new if r["caller_number"] != WARM_UP_CALLER]
        if rows is not None and len(mine) >= CALLS and all(r["ended_at"] for r in new):
            break
        if time.monotonic() > deadline:
            print(f"records in PostgreSQL: {len(mine)} of {CALLS}", file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)  # the engines' writers batch their rows
    problems = mismatches(new)
    if problems:
        print("records != calls:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    new = [r for r in new if r["caller_number"] != WARM_UP_CALLER]
    per_node = {n: sum(1 for r in new if r["linkedid"].startswith(n)) for n in NODES}
    print(f"records in PostgreSQL: {len(new)}, per node {per_node}")
    if not all(per_node.values()):
        print("the calls did not spread over both nodes", file=sys.stderr)
        return 1
    now = await formation(spec, lambda s: s.get(standby) in ("wait_primary", "primary"), 10,
                          f"{standby} still primary")  # fmt: skip
    print(f"database after the calls: {now}")
    began = time.monotonic()
    podman("start", container(project, primary))
    now = await formation(spec, lambda s: ready(s) and s[primary] == "secondary", 180,
                          f"{primary} back as standby")  # fmt: skip
    print(f"database: {primary} started again, back as {standby}'s standby after "
          f"{time.monotonic() - began:.1f} s: {now}")  # fmt: skip
    print(f"docker-test: {CALLS} calls, {len(new)} records, each matched to its caller; the "
          f"primary killed under them, {standby} promoted in {promoted:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True, help="the cluster's settings file")
    parser.add_argument("--project", required=True, help="the compose project's name")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.config, arguments.project)))
