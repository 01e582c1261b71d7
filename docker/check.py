"""`make docker-test`'s check of the running compose cluster (docker/cluster.toml): calls
through Kamailio with sipp (a caller that honours Record-Route, from the carrier's address)
all succeed, spread over both nodes, and PostgreSQL holds exactly one record per call, each
matched to its caller (every call from a number of its own): no call missing, no duplicate,
no stray record."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import asyncpg

from ivr.control import bearer
from ivr.harness.sipp import SCENARIOS, place_calls

KAMAILIO = ("127.0.0.1", 25060)
NUMBER = "0611111111"  # routing_rules: Rossi Idraulica
NODES = ("center-node1-", "center-node2-")
ENGINES = (25361, 25362)  # each node's engine's control API (docker/cluster.toml)
CALLS = 10
CALLER_PREFIX = "061270"  # + sipp's call number: each call's own caller number
WARM_UP_CALLER = "0399999999"  # the calls that wait for the cluster to be up


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


async def records(db: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(
            await conn.fetch("SELECT linkedid, caller_number, outcome, ended_at FROM calls")
        )
    finally:
        await conn.close()


async def main(db: str) -> int:
    await engines(time.monotonic() + 240)
    await first_call(time.monotonic() + 60)
    before = {r["linkedid"] for r in await records(db)}
    with tempfile.TemporaryDirectory() as folder:
        result = await place_calls(
            KAMAILIO, NUMBER, scenario=numbered_caller(Path(folder)), caller_num=CALLER_PREFIX,
            count=CALLS, rate=5, hold_ms=1000, timeout=120,
        )  # fmt: skip
    print(f"calls through Kamailio: {result.successful} done, {result.failed} failed")
    if not result.ok:
        print(result.output[-2000:], file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    while True:
        new = [r for r in await records(db) if r["linkedid"] not in before]
        mine = [r for r in new if r["caller_number"] != WARM_UP_CALLER]
        if len(mine) >= CALLS and all(r["ended_at"] for r in new):
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
    print(f"docker-test: {CALLS} calls, {len(new)} records, each matched to its caller")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="postgresql://... of the compose cluster")
    sys.exit(asyncio.run(main(parser.parse_args().db)))
