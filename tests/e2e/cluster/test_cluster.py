"""Two Asterisk nodes behind Kamailio, one engine beside each, both on one PostgreSQL, run by
`ivr cluster` (ivr/cluster/): calls spread over the nodes and recorded in the one database,
operators' phones registered at Kamailio reached from either node, trust at the edge, one
engine at a time runs each scheduler (taken over when it dies), and node loss and
maintenance through Kamailio with callers that honour Record-Route: a drain loses no call,
a node killed under load loses only its own calls (each closed on record) while no new call
fails, and a node that comes back rejoins within seconds."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from pg_server import new_database
from sqlalchemy import select

from ivr import config
from ivr.cluster.run import Running
from ivr.cluster.spec import Node, load
from ivr.escalation import speech
from ivr.escalation.store import attempts_for_call, runs_for_call, start_escalation
from ivr.harness.cluster import loopback_file
from ivr.harness.console_client import ConsoleClient
from ivr.harness.sipp import SCENARIOS, Phone, SippResult, place_calls
from ivr.harness.sipp.contacts import AnsweringPhones
from ivr.harness.stack import poll
from ivr.portal.auth import portal_password
from ivr.portal.models import QueueEvent
from ivr.prompts import cached_name
from ivr.records.db import make_engine, session_factory
from ivr.records.listen import CHANNEL, plain_dsn
from ivr.records.models import Call

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
CONTACTS = HERE.parent / "escalation" / "contacts.xml"  # the ladder's contacts' phones
TRUNK = "127.0.0.2"  # the carrier: its callers, and its gateway where the nodes call out
ACME = "0611000001"
CALLER = SCENARIOS / "caller_rr.xml"  # honours Record-Route: ACK and BYE via Kamailio
LEASE_SECONDS = 3.0


class Contacts(AnsweringPhones):
    """The phones behind the carrier's gateway that the ladders call (one sipp answering
    side); every INVITE it gets is traced, so a number called twice shows."""

    def __init__(self, folder: Path) -> None:
        self.trace = folder / "contacts.msg"
        super().__init__(CONTACTS, folder, TRUNK, ("-trace_msg", "-message_file", str(self.trace)))

    async def read(self) -> str:
        return self.trace.read_text(errors="replace") if self.trace.exists() else ""

    def invited(self) -> list[str]:
        """The numbers called, one entry per call (retransmissions counted once)."""
        text = self.trace.read_text(errors="replace") if self.trace.exists() else ""
        found = re.findall(r"^INVITE sip:\+39(\d+)@.*?^Call-ID: *(\S+)", text, re.M | re.S)
        return sorted({call_id: number for number, call_id in found}.values())


@dataclass
class Rig:
    running: Running
    url: str
    sessions: Any
    phones: list[Phone]
    contacts: Contacts
    file: Path  # the cluster's settings file

    @property
    def proxy(self) -> tuple[str, int]:
        return self.running.cluster.address, self.running.cluster.port

    def node(self, name: str) -> Node:
        return self.running.cluster.node(name)

    def node_of(self, linkedid: str) -> str:
        """Which node took a call: its id starts with the node's instance name."""
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

    async def wait_records(self, done: Callable[[list[Call]], bool], what: str) -> list[Call]:
        return await poll(self.records, done, timeout=60, what=what)

    async def state(self, node: str) -> str:
        return str((await self.running.status())["nodes"][node]["kamailio"])


def settings_file(folder: Path, url: str, gateway: int) -> Path:
    return loopback_file(
        folder, f"c{os.getpid() % 100000}", url, RULES, f"{TRUNK}:{gateway}",
        40000 + (os.getpid() * 7 % 40) * 400, 200, settings=f"lease_seconds = {LEASE_SECONDS}",
    )  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    folder = tmp_path_factory.mktemp("cluster")
    url = await new_database(postgres_server)
    contacts = Contacts(folder / "contacts")
    path = settings_file(folder, url, contacts.port)
    running = Running(load(path))
    engine = make_engine(url)
    rig = Rig(running, url, session_factory(engine), [], contacts, path)
    try:
        contacts.start()
        await running.start()
        first = running.settings[running.cluster.nodes[0].name]
        for op in ("op1", "op2"):  # registered at Kamailio, as a center's desk phones are
            phone = Phone(op, config.operator_password(first, op), rig.proxy, folder / "phones")
            await phone.start()
            rig.phones.append(phone)
        yield rig
    finally:
        for phone in rig.phones:
            await phone.stop()
        contacts.stop()
        await running.stop()
        await engine.dispose()
        for settings in running.settings.values():
            shutil.rmtree(settings.state_dir, ignore_errors=True)
            shutil.rmtree(settings.host_run_dir, ignore_errors=True)
        shutil.rmtree(running.cluster.run_dir, ignore_errors=True)


async def test_calls_spread_over_both_nodes_and_land_in_one_postgresql(rig: Rig) -> None:
    result = await rig.calls(count=8, rate=4, hold_ms=500)

    assert result.ok, result.output[-2000:]
    records = await rig.wait_records(
        lambda rows: len(rows) >= 8 and all(r.ended_at for r in rows), "8 ended records"
    )
    by_node: dict[str, list[Call]] = {}
    for record in records:
        by_node.setdefault(rig.node_of(record.linkedid), []).append(record)
    assert sorted(by_node) == ["node1", "node2"]
    assert all(len(calls) >= 2 for calls in by_node.values()), by_node
    # the operators' phones, registered at Kamailio, answered calls of either node
    for node, calls in by_node.items():
        assert any(c.outcome == "answered" and c.operator for c in calls), (node, calls)
    # each node's queue events (joins, connects) are in the one database too
    async with rig.sessions() as session:
        queued = set(await session.scalars(select(QueueEvent.linkedid).where(
            QueueEvent.kind == "connect")))  # fmt: skip
    assert {rig.node_of(lid) for lid in queued if lid} == {"node1", "node2"}


async def test_an_operator_at_one_nodes_console_sees_the_calls_of_every_node(rig: Rig) -> None:
    answered = {r.linkedid for r in await rig.records() if r.operator}
    settings = rig.running.settings["node1"]
    shown: set[str] = set()
    for op in ("op1", "op2"):
        shown |= await recent_calls(settings, op)

    assert {rig.node_of(lid) for lid in shown} == {"node1", "node2"}
    assert shown <= answered and len(shown) == min(len(answered), 20)


async def test_a_console_on_one_node_follows_its_operators_on_every_node(rig: Rig) -> None:
    node1 = rig.running.settings["node1"]
    node2 = rig.running.asterisk(rig.node("node2"))
    breaker, supervisor = ConsoleClient(node1, "op2"), ConsoleClient(node1, "supervisor")
    await breaker.login()
    status, _ = await supervisor.sign_in()
    assert status == 200
    try:
        # op2 goes on a break at node1's console: node2's queue pauses op2 too
        await breaker.state("pause")
        await poll(lambda: node2.cli("queue show desk"),
                   lambda shown: any("PJSIP/op2" in line and "paused" in line.lower()
                                     for line in shown.splitlines()),
                   20, "op2 paused in node2's queue")  # fmt: skip
        # a call that comes through node2 shows on node1's board (its supervisor page)
        for _ in range(4):
            known = {r.linkedid for r in await rig.records()}
            call = asyncio.create_task(rig.calls(count=1, hold_ms=6000))
            rows = await rig.wait_records(lambda rows, k=known: any(r.linkedid not in k
                                          for r in rows), "the new call's record")  # fmt: skip
            linkedid = next(r.linkedid for r in rows if r.linkedid not in known)
            if rig.node_of(linkedid) == "node2":
                page = await poll(lambda: supervisor.get("/supervisor"),
                                  lambda got: operator_state(got[1], "op1") == "on call",
                                  15, "op1 on call at node1's supervisor page")  # fmt: skip
                assert operator_state(page[1], "op2") == "paused"
                assert (await call).ok
                break
            assert (await call).ok
        else:
            raise AssertionError("no call came through node2 in four")
    finally:
        await breaker.state("available")
        await breaker.logout()
        await supervisor.logout()
        await breaker.close()
        await supervisor.close()


def operator_state(page: str, operator: str) -> str | None:
    found = re.search(rf'data-operator="{operator}">.*?data-state="([^"]+)"', page, re.S)
    return found.group(1) if found else None


async def recent_calls(settings: config.Settings, operator: str) -> set[str]:
    """The calls an operator's console lists under "Your recent calls" (logged in there)."""
    base = f"http://{settings.bind}:{settings.ports.http}/console"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/login") as response:
            form = re.search(r'name="csrf" value="([^"]+)"', await response.text())
        assert form is not None
        data = {"user": operator, "csrf": form.group(1),
                "password": portal_password(settings, operator)}  # fmt: skip
        async with http.post(f"{base}/login", data=data) as response:
            page = await response.text()
            assert response.status == 200 and 'id="recent"' in page, page[-500:]
    table = page[page.index('id="recent"') :]
    return set(re.findall(r'data-linkedid="([^"]+)"', table[: table.index("</table>")]))


async def test_only_the_carrier_reaches_kamailio_and_only_kamailio_reaches_a_node(
    rig: Rig,
) -> None:
    before = len(await rig.records())
    stranger = await place_calls(
        rig.proxy, ACME, scenario=CALLER, bind="127.0.0.3", extra=("-recv_timeout", "5000")
    )
    node = rig.node("node1")
    around = await place_calls(
        (node.address, node.sip), ACME, scenario=CALLER, extra=("-recv_timeout", "5000")
    )

    assert stranger.failed == 1 and "403" in stranger.output
    assert around.failed == 1  # the carrier's own address, but not through Kamailio
    assert len(await rig.records()) == before  # neither became a call


async def test_status_shows_each_node_and_one_engine_runs_each_scheduler(rig: Rig) -> None:
    status = await rig.running.status()

    assert status["kamailio"]["running"]
    for name in ("node1", "node2"):
        node = status["nodes"][name]
        assert node["kamailio"] == "active" and node["asterisk"] and node["calls"] == 0
        assert node["engine"]["running"] and node["engine"]["ami"]
    held = [set(status["nodes"][n]["engine"]["leases"]) for n in ("node1", "node2")]
    assert held[0].isdisjoint(held[1])
    assert held[0] | held[1] == {"escalations", "purge", "notices", "billing", "dispatch", "nodes"}
    # what an administrator reads: `ivr cluster status`
    shown = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "--config", str(rig.file), "cluster", "status",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await shown.communicate())[0].decode()
    assert shown.returncode == 0, out
    assert f"Kamailio up on {rig.proxy[0]}:{rig.proxy[1]}" in out
    for name in ("node1", "node2"):
        line = next(x for x in out.splitlines() if x.startswith(name))
        assert re.match(rf"{name}\s+active\s+up\s+0\s+AMI up, records waiting 0, leases ", line)


async def test_killed_mid_ladder_another_engine_takes_over_and_calls_nobody_twice(
    rig: Rig,
) -> None:
    status = await rig.running.status()
    holder = next(n for n, s in status["nodes"].items() if "escalations" in s["engine"]["leases"])
    other = "node2" if holder == "node1" else "node1"
    await start_escalation(
        rig.sessions, linkedid="cluster-esc-1", client_id="acme", ladder="slow-then-ack",
        message_path=None, caller_name="Maria Bianchi", callback="0612345678",
    )  # fmt: skip
    await wake(rig.url, "alarm.escalations")  # as the engine that stored it does

    # Mario's phone rings, called by the engine holding the ladders: it dies now
    await poll(rig.contacts.read, lambda text: "INVITE sip:+397200001" in text, what="Mario")
    await rig.running.stop_engine(rig.node(holder), signal.SIGKILL)
    killed = time.monotonic()
    taken = await poll(
        rig.running.status,
        lambda s: "escalations" in s["nodes"][other]["engine"]["leases"],
        what=f"the lease taken by {other}",
    )
    took = time.monotonic() - killed
    ended = await poll(
        lambda: runs_for_call(rig.sessions, "cluster-esc-1"),
        lambda runs: runs[0].status != "running",
        timeout=60,
        what="the ladder's end",
    )
    attempts = await attempts_for_call(rig.sessions, "cluster-esc-1")
    await rig.running.start_engine(rig.node(holder))

    assert took < LEASE_SECONDS + LEASE_SECONDS / 3 + 2.0
    assert set(taken["nodes"][other]["engine"]["leases"]) == {
        "escalations",
        "purge",
        "notices",
        "billing",
        "dispatch",
        "nodes",
    }
    assert ended[0].status == "acknowledged" and ended[0].acknowledged_by == "Luca Rossi"
    # Mario called once (by the engine that died: its outcome went with it), then Luca once
    assert [(a.contact_name, a.outcome) for a in attempts] == [
        ("Mario Rossi", "unknown"),
        ("Luca Rossi", "acknowledged"),
    ]
    assert rig.contacts.invited() == ["7100002", "7200001"]  # nobody dialled twice
    # Luca heard the client's language: the engine that called him spoke the menu in Italian
    spoken = {
        language: [rig.running.settings[n.name].host_path(
            rig.running.settings[n.name].run_dir / "prompts"
            / f"{cached_name(speech.menu(language), language)}.wav").exists()
            for n in rig.running.cluster.nodes]
        for language in ("it", "en")
    }  # fmt: skip
    assert any(spoken["it"]) and not any(spoken["en"]), spoken


async def wake(url: str, topic: str) -> None:
    """A wake-up to every engine, as ivr.wake sends it (PostgreSQL NOTIFY)."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{topic}\n")
    finally:
        await conn.close()


async def test_a_drained_node_finishes_its_calls_and_rejoins_when_started(rig: Rig) -> None:
    before = {r.linkedid for r in await rig.records()}
    load = asyncio.create_task(rig.calls(count=8, rate=2, hold_ms=3000))
    await rig.wait_records(
        lambda rows: any(
            r.linkedid not in before and rig.node_of(r.linkedid) == "node1" for r in rows
        ),
        "a call up on node1",
    )

    await rig.running.drain(rig.node("node1"))  # returns once node1 has ended its calls
    result = await load
    assert result.ok, result.output[-2000:]  # no call lost, none refused
    records = await rig.wait_records(
        lambda rows: len([r for r in rows if r.linkedid not in before and r.ended_at]) >= 8,
        "the 8 calls ended",
    )
    assert {rig.node_of(r.linkedid) for r in records if r.linkedid not in before} == {
        "node1",
        "node2",
    }

    started = time.monotonic()
    await rig.running.start(["node1"])
    await poll(lambda: rig.state("node1"), lambda s: s == "active", what="node1 active")
    back = time.monotonic() - started
    seen = {r.linkedid for r in await rig.records()}
    again = await rig.calls(count=4, rate=4, hold_ms=300)
    assert again.ok, again.output[-2000:]
    fresh = await rig.wait_records(
        lambda rows: len([r for r in rows if r.linkedid not in seen]) >= 4, "4 new calls"
    )
    assert {rig.node_of(r.linkedid) for r in fresh if r.linkedid not in seen} == {
        "node1",
        "node2",
    }
    assert back < 20


async def test_a_killed_node_loses_only_its_calls_and_no_new_call_fails(rig: Rig) -> None:
    before = {r.linkedid for r in await rig.records()}
    up = asyncio.create_task(
        rig.calls(count=4, rate=4, hold_ms=6000, extra=("-recv_timeout", "8000"))
    )
    opened = await rig.wait_records(
        lambda rows: len([r for r in rows if r.linkedid not in before]) >= 4, "4 calls up"
    )
    on_node2 = len(
        [r for r in opened if r.linkedid not in before and rig.node_of(r.linkedid) == "node2"]
    )
    assert on_node2 > 0

    await rig.running.stop_asterisk(rig.node("node2"), "kill")
    fresh = await rig.calls(count=6, rate=3, hold_ms=300)
    cut = await up

    assert fresh.ok, fresh.output[-2000:]  # every new call went to node1, none failed
    assert cut.failed == on_node2 and cut.successful == 4 - on_node2
    await rig.running.start(["node2"])  # the engine still runs: AMI back, reconciled
    await poll(lambda: rig.state("node2"), lambda s: s == "active", what="node2 active")
    records = await rig.wait_records(
        lambda rows: all(r.ended_at for r in rows if r.linkedid not in before),
        "every call closed",
    )
    lost = [r for r in records if r.linkedid not in before and rig.node_of(r.linkedid) == "node2"]
    assert len(lost) == on_node2
    assert all(r.end_inferred for r in lost)  # recorded as cut off, not as ended normally
    kept = [r for r in records if r.linkedid not in before and rig.node_of(r.linkedid) == "node1"]
    assert len(kept) == 10 - on_node2 and not any(r.end_inferred for r in kept)
