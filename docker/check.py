"""`make docker-test`'s check of the running compose cluster (docker/cluster.toml): calls
through Kamailio with sipp (a caller that honours Record-Route, from the carrier's address)
all succeed, spread over both nodes, and their records are in PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request

import asyncpg

from ivr.control import bearer
from ivr.harness.sipp import SCENARIOS, place_calls

KAMAILIO = ("127.0.0.1", 25060)
NUMBER = "0611111111"  # routing_rules: Rossi Idraulica
NODES = ("center-node1-", "center-node2-")
ENGINES = (25361, 25362)  # each node's engine's control API (docker/cluster.toml)
CALLS = 10


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


async def records(db: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db)
    try:
        return list(await conn.fetch("SELECT linkedid, outcome, ended_at FROM calls"))
    finally:
        await conn.close()


async def main(db: str) -> int:
    await engines(time.monotonic() + 240)
    await first_call(time.monotonic() + 60)
    before = {r["linkedid"] for r in await records(db)}
    result = await place_calls(KAMAILIO, NUMBER, scenario=SCENARIOS / "caller_rr.xml",
                               count=CALLS, rate=5, hold_ms=1000, timeout=120)  # fmt: skip
    print(f"calls through Kamailio: {result.successful} done, {result.failed} failed")
    if not result.ok:
        print(result.output[-2000:], file=sys.stderr)
        return 1
    deadline = time.monotonic() + 60
    while True:
        new = [r for r in await records(db) if r["linkedid"] not in before]
        if len(new) >= CALLS and all(r["ended_at"] for r in new):
            break
        if time.monotonic() > deadline:
            print(f"records in PostgreSQL: {len(new)} of {CALLS}", file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)  # the engines' writers batch their rows
    per_node = {n: sum(1 for r in new if r["linkedid"].startswith(n)) for n in NODES}
    print(f"records in PostgreSQL: {len(new)}, per node {per_node}")
    if not all(per_node.values()):
        print("the calls did not spread over both nodes", file=sys.stderr)
        return 1
    print("docker-test: the compose cluster took every call and recorded it")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="postgresql://... of the compose cluster")
    sys.exit(asyncio.run(main(parser.parse_args().db)))
