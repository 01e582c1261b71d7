"""Nodes that go away, through the two-node cluster on loopback: no record stays open
because its node is gone (closed by the other engine within the stated time, corrected by
the node's own account when it is back), a node without its engine leaves the rotation and
comes back with it, a drain ends with every record closed."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from pg_server import new_database
from sqlalchemy import select

from ivr.area import users
from ivr.cluster.run import Running
from ivr.cluster.spec import load
from ivr.escalation.store import runs_for_call, start_escalation
from ivr.harness.cluster import loopback_file
from ivr.harness.sipp import SCENARIOS, SippResult, place_calls
from ivr.harness.sipp.contacts import AnsweringPhones
from ivr.harness.stack import poll
from ivr.nodes import store
from ivr.records import recordings
from ivr.records.db import make_engine, session_factory
from ivr.records.listen import CHANNEL, plain_dsn
from ivr.records.models import Call
from ivr.records.recordings import COPIES

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
ACME = "0611000001"
TRUNK = "127.0.0.2"  # the carrier: its callers, and its gateway where the nodes call out
CONTACTS = HERE.parent / "escalation" / "contacts.xml"  # 72... never answer, 71... answer
CALLER = SCENARIOS / "caller_rr.xml"  # honours Record-Route: ACK and BYE via Kamailio
NODE_DOWN = 4.0  # node_down_seconds
LEASE_SECONDS = 3.0
# Kamailio pings every 2 s and takes a node out after 2 missed pings: out within ~6 s
OUT_WITHIN = 2 * 2 + 2 + 2.0


class Contacts(AnsweringPhones):
    """The phones behind the carrier's gateway (ladder contacts, forwarded calls); every
    INVITE traced, with the node that sent it."""

    def __init__(self, folder: Path) -> None:
        self.trace = folder / "contacts.msg"
        super().__init__(CONTACTS, folder, TRUNK, ("-trace_msg", "-message_file", str(self.trace)))

    def invites(self) -> list[tuple[str, int]]:
        """(number, the sending node's SIP port) of every INVITE received."""
        text = self.trace.read_text(errors="replace") if self.trace.exists() else ""
        found = re.findall(
            r"^INVITE sip:\+39(\d+)@.*?^Via: SIP/2.0/UDP [\d.]+:(\d+)", text, re.M | re.S
        )
        return [(number, int(port)) for number, port in found]


@dataclass
class Rig:
    running: Running
    sessions: Any
    contacts: Contacts
    url: str

    @property
    def proxy(self) -> tuple[str, int]:
        return self.running.cluster.address, self.running.cluster.port

    def node_of(self, linkedid: str) -> str:
        for node in self.running.cluster.nodes:
            if linkedid.startswith(f"{self.running.cluster.name}-{node.name}-"):
                return node.name
        raise AssertionError(f"call {linkedid} of no node")

    async def calls(self, **kwargs: Any) -> SippResult:
        kwargs.setdefault("timeout", 120)
        return await place_calls(self.proxy, ACME, scenario=CALLER, **kwargs)

    async def records(self) -> list[Call]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Call).order_by(Call.id)))

    async def wait_records(
        self, done: Callable[[list[Call]], bool], what: str, timeout: float = 60
    ) -> list[Call]:
        return await poll(self.records, done, timeout=timeout, what=what)

    async def state(self, node: str) -> str:
        return str((await self.running.status())["nodes"][node]["kamailio"])

    async def up_on(self, node: str, before: set[str], count: int) -> list[Call]:
        """Calls held up until `count` of them are on `node` (new ones, open)."""
        return await self.wait_records(
            lambda rows: len([r for r in rows if r.linkedid not in before
                              and self.node_of(r.linkedid) == node]) >= count,
            f"{count} calls up on {node}",
        )  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    folder = tmp_path_factory.mktemp("nodes")
    url = await new_database(postgres_server)
    contacts = Contacts(folder / "contacts")
    path = loopback_file(
        folder, f"n{os.getpid() % 100000}", url, RULES, f"{TRUNK}:{contacts.port}",
        40000 + (os.getpid() * 11 % 40) * 400 + 200, 100,
        settings=f"lease_seconds = {LEASE_SECONDS}\nnode_down_seconds = {NODE_DOWN}",
    )  # fmt: skip
    running = Running(load(path))
    engine = make_engine(url)
    rig = Rig(running, session_factory(engine), contacts, url)
    try:
        contacts.start()
        await running.start()
        yield rig
    finally:
        contacts.stop()
        await running.stop()
        await engine.dispose()
        for settings in running.settings.values():
            shutil.rmtree(settings.state_dir, ignore_errors=True)
            shutil.rmtree(settings.host_run_dir, ignore_errors=True)
        shutil.rmtree(running.cluster.run_dir, ignore_errors=True)


async def test_a_node_killed_and_kept_down_has_its_calls_closed_by_the_other_engine(
    rig: Rig,
) -> None:
    before = {r.linkedid for r in await rig.records()}
    up = asyncio.create_task(
        rig.calls(count=4, rate=4, hold_ms=30000, extra=("-recv_timeout", "40000"))
    )
    opened = await rig.up_on("node2", before, 1)
    on_node2 = {r.linkedid for r in opened if r.linkedid not in before
                and rig.node_of(r.linkedid) == "node2"}  # fmt: skip

    await rig.running.stop_asterisk(rig.running.cluster.node("node2"), "kill")
    killed = time.monotonic()
    closed = await rig.wait_records(
        lambda rows: all(r.ended_at for r in rows if r.linkedid in on_node2),
        "node2's calls closed by node1's engine", timeout=30,
    )  # fmt: skip
    took = time.monotonic() - killed
    print(f"figure: node2's calls closed by node1's engine {took:.1f} s after node2 was killed")
    beats = {b.node: b for b in await store.beats(rig.sessions)}
    last = beats[f"{rig.running.cluster.name}-node2"].alive_at
    # node2's engine runs, but without AMI: it holds no lease
    leases = await poll(
        rig.running.status,
        lambda s: not s["nodes"]["node2"]["engine"]["leases"],
        what="node2's engine giving up its leases",
    )

    assert took < NODE_DOWN + NODE_DOWN / 5 + 5.0
    cut = [r for r in closed if r.linkedid in on_node2]
    assert all(r.end_inferred and r.outcome == "unknown" for r in cut)
    # closed at the last moment node2 was known alive, not when they were closed
    assert all(r.ended_at is not None and r.ended_at >= last for r in cut)
    assert all(r.ended_at is not None and r.ended_at - last < timedelta(seconds=2)
               for r in cut)  # fmt: skip
    assert "nodes" in leases["nodes"]["node1"]["engine"]["leases"]

    # node2 back: its own account corrects them; still closed, nothing reopened
    await rig.running.start(["node2"])
    await poll(lambda: rig.state("node2"), lambda s: s == "active", what="node2 active")
    await up
    after = await rig.wait_records(
        lambda rows: all(r.ended_at for r in rows if r.linkedid not in before),
        "every call closed",
    )
    assert all(r.ended_at for r in after if r.linkedid in on_node2)
    status = await rig.running.status()
    assert status["nodes"]["node2"]["engine"]["ami"]


async def test_an_engine_killed_takes_its_node_out_of_rotation_and_back(rig: Rig) -> None:
    node2 = rig.running.cluster.node("node2")
    before = {r.linkedid for r in await rig.records()}
    up = asyncio.create_task(
        rig.calls(count=4, rate=4, hold_ms=12000, extra=("-recv_timeout", "20000"))
    )
    opened = await rig.up_on("node2", before, 1)
    on_node2 = {r.linkedid for r in opened if r.linkedid not in before
                and rig.node_of(r.linkedid) == "node2"}  # fmt: skip

    await rig.running.stop_engine(node2, signal.SIGKILL)
    killed = time.monotonic()
    await poll(lambda: rig.state("node2"), lambda s: s != "active", timeout=30,
               what="node2 out of rotation")  # fmt: skip
    out = time.monotonic() - killed
    print(f"figure: node2 out of rotation {out:.1f} s after its engine was killed")
    assert out < OUT_WITHIN
    seen = {r.linkedid for r in await rig.records()}
    fresh = await rig.calls(count=4, rate=4, hold_ms=300)
    assert fresh.ok, fresh.output[-2000:]
    new = await rig.wait_records(
        lambda rows: len([r for r in rows if r.linkedid not in seen and r.ended_at]) >= 4,
        "4 new calls",
    )
    assert {rig.node_of(r.linkedid) for r in new if r.linkedid not in seen} == {"node1"}
    # its calls up, still going on node2's Asterisk, closed as cut by node1's engine ...
    await rig.wait_records(
        lambda rows: all(r.ended_at for r in rows if r.linkedid in on_node2),
        "node2's calls closed by node1's engine", timeout=30,
    )  # fmt: skip
    result = await up
    assert result.ok, result.output[-2000:]  # ... though none was lost

    # a call that reaches node2 while its engine is down: the dialplan's fallback takes it
    await rig.running.kamailio.set_state("ap", node2.uri)
    seen = {r.linkedid for r in await rig.records()}
    forced = await rig.calls(count=4, rate=4, hold_ms=300, extra=("-recv_timeout", "20000"))

    # out again, as its engine's absence had it: only the engine's answer brings it back
    await rig.running.kamailio.set_state("d", node2.uri)
    started = time.monotonic()
    await rig.running.start_engine(node2)
    await poll(lambda: rig.state("node2"), lambda s: s == "active", what="node2 active")
    back = time.monotonic() - started
    print(f"figure: node2 back in rotation {back:.1f} s after its engine was started")
    assert back < 30
    done = await rig.wait_records(
        lambda rows: all(r.ended_at for r in rows if r.linkedid in on_node2)
        and not any(r.end_inferred for r in rows if r.linkedid in on_node2),
        "node2's calls corrected from its account",
    )  # fmt: skip
    # the account said how they ended: no longer "cut off"
    assert all(r.outcome != "unknown" for r in done if r.linkedid in on_node2)
    fallback = [r for r in done if r.linkedid not in seen and rig.node_of(r.linkedid) == "node2"]
    assert forced.successful + forced.failed == 4
    assert fallback, "no call reached node2 while its engine was down"
    assert all(r.route == "fallback" and r.failure_reason and "engine" in r.failure_reason
               for r in fallback), [(r.route, r.failure_reason) for r in fallback]  # fmt: skip
    # Kamailio said so
    text = (rig.running.kamailio.log_path).read_text(errors="replace")
    assert "node node2 left the rotation: its engine does not answer" in text
    assert "node node2: its engine answers again" in text


async def test_a_drain_under_load_ends_with_every_record_closed(rig: Rig) -> None:
    before = {r.linkedid for r in await rig.records()}
    load = asyncio.create_task(rig.calls(count=8, rate=2, hold_ms=3000))
    await rig.up_on("node1", before, 1)

    await rig.running.drain(rig.running.cluster.node("node1"))

    drained = [r for r in await rig.records()
               if r.linkedid not in before and rig.node_of(r.linkedid) == "node1"]  # fmt: skip
    assert drained and all(r.ended_at and not r.end_inferred for r in drained), drained
    result = await load
    assert result.ok, result.output[-2000:]
    await rig.running.start(["node1"])


EMAIL, PASSWORD = "anna@acme.example", "a long enough password"
ROME = ZoneInfo("Europe/Rome")  # the client's time zone: the area's times are its


async def area_post(http: aiohttp.ClientSession, base: str, path: str, data: dict[str, str]) -> int:
    """Post a form of the settings page as a browser does (its CSRF token)."""
    async with http.get(f"{base}/settings") as response:
        form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
    assert form is not None
    async with http.post(
        f"{base}{path}", data={**data, "csrf": form.group(1)}, allow_redirects=False
    ) as response:
        return response.status


async def test_an_override_set_in_one_nodes_area_is_obeyed_on_the_other_node(rig: Rig) -> None:
    await users.add_user(rig.sessions, "acme", EMAIL, PASSWORD, datetime.now(UTC), role="admin")
    node1 = rig.running.settings["node1"]
    base = f"http://{node1.bind}:{node1.ports.http}/area"
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with http.get(f"{base}/login") as response:
            form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert form is not None
        login = {"email": EMAIL, "password": PASSWORD, "csrf": form.group(1)}
        async with http.post(f"{base}/login", data=login, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        # "forwarded", set at node1's area: node2's engine reads it from the database
        until = (datetime.now(UTC) + timedelta(days=1)).astimezone(ROME)
        override = {"kind": "forward", "number": "+39 7100002",
                "until": until.strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
        assert await area_post(http, base, "/settings/override", override) == 303
        told = await poll(
            lambda: asyncio.to_thread(rig.running.engine_status, rig.running.cluster.node("node2")),
            lambda s: s is not None and "acme" in s["overrides"]["in_force"],
            what="node2's engine told of the override",
        )
        assert told is not None and told["overrides"]["path"] == "database"
        node2 = rig.running.cluster.node("node2")
        for _ in range(4):  # round robin: node2 takes one of two
            result = await rig.calls(count=2, rate=4, hold_ms=300)
            assert result.ok, result.output[-2000:]
            if ("7100002", node2.sip) in rig.contacts.invites():
                break
        assert ("7100002", node2.sip) in rig.contacts.invites(), rig.contacts.invites()
        assert await area_post(http, base, "/settings/override/clear", {}) == 303
    finally:
        await http.close()


async def test_a_message_recorded_on_node1_is_played_and_served_by_node2_once_node1_is_gone(
    rig: Rig,
) -> None:
    node1, node2 = rig.running.cluster.node("node1"), rig.running.cluster.node("node2")
    recorded: Call | None = None
    for _ in range(4):  # round robin: node1 takes one of two; nobody answers: a message
        before = {r.linkedid for r in await rig.records()}
        result = await rig.calls(count=2, rate=4, hold_ms=9000)
        assert result.ok, result.output[-2000:]
        rows = await rig.wait_records(ended(before, 2), "2 calls ended")
        mine = [r for r in rows if r.linkedid not in before and r.message_path
                and rig.node_of(r.linkedid) == "node1"]  # fmt: skip
        if mine:
            recorded = mine[0]
            break
    assert recorded is not None and recorded.message_path
    path = recorded.message_path
    kept = await poll(lambda: recordings.fetch(rig.sessions, path), lambda d: d is not None,
                      what="the message in the database")  # fmt: skip
    assert kept

    # node1 goes, and its disk with it
    await rig.running.stop_node(node1)
    settings1 = rig.running.settings["node1"]
    settings1.host_path(Path(path)).unlink()

    # node2's area serves it
    await users.add_user(rig.sessions, "acme", "bea@acme.example", PASSWORD, datetime.now(UTC),
                         role="admin")  # fmt: skip
    settings2 = rig.running.settings["node2"]
    base = f"http://{settings2.bind}:{settings2.ports.http}/area"
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with http.get(f"{base}/login") as response:
            form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert form is not None
        login = {"email": "bea@acme.example", "password": PASSWORD, "csrf": form.group(1)}
        async with http.post(f"{base}/login", data=login, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
        async with http.get(f"{base}/calls/{recorded.linkedid}/recording") as response:
            assert response.status == 200
            assert await response.read() == kept
    finally:
        await http.close()

    # node2's engine runs the ladder now (node1's released its leases) and plays it
    await poll(rig.running.status,
               lambda s: "escalations" in s["nodes"]["node2"]["engine"]["leases"],
               what="node2 holding the ladders")  # fmt: skip
    await start_escalation(
        rig.sessions, linkedid=recorded.linkedid, client_id="acme", ladder="slow-then-ack",
        message_path=path, caller_name="Maria Bianchi", callback="0612345678",
    )  # fmt: skip
    await wake(rig.url, "alarm.escalations")
    runs = await poll(
        lambda: runs_for_call(rig.sessions, recorded.linkedid),
        lambda runs: bool(runs) and runs[0].status != "running",
        timeout=90, what="the ladder's end",
    )  # fmt: skip
    assert runs[0].status == "acknowledged"
    log = rig.running.engine_log(node2).read_text(errors="replace")
    assert f"message {path} played from the shared database" in log
    copies = settings2.host_path(settings2.run_dir / "messages" / COPIES)
    # the copy goes with the contact's call (which ends after the thanks)
    await poll(lambda: asyncio.to_thread(lambda: list(copies.glob("*.wav"))),
               lambda found: not found, what="the copy removed")  # fmt: skip
    await rig.running.start(["node1"])
    await poll(lambda: rig.state("node1"), lambda s: s == "active", what="node1 active")


def ended(before: set[str], count: int) -> Callable[[list[Call]], bool]:
    """At least `count` calls not in `before`, each ended."""
    return lambda rows: len([r for r in rows if r.linkedid not in before and r.ended_at]) >= count


async def wake(url: str, topic: str) -> None:
    """A wake-up to every engine, as ivr.wake sends it (PostgreSQL NOTIFY)."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{topic}\n")
    finally:
        await conn.close()
