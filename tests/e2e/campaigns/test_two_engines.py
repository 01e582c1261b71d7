"""Two engines sharing one PostgreSQL (and one Asterisk) split a campaign's contacts: each
dials for the operators at its own console, and nobody is dialled twice."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from campaign_rig import (
    RULES,
    TRUNK,
    AmiEvents,
    ContactPhones,
    Desk,
    FloorStack,
    Rig,
    e164,
    now,
    number,
)  # fmt: skip
from pg_server import new_database

from ivr.asterisk.render import Trunk
from ivr.campaigns import activity, store
from ivr.control import bearer
from ivr.harness.ports import free_tcp_port
from ivr.harness.stack import Stack, poll, stack_settings
from ivr.routing import load_rules

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


class SecondEngine:
    """Another `ivr serve` on the same Asterisk and database, with its own HTTP and AGI."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.http = free_tcp_port()
        self.log = stack.workdir / "engine-b.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**self.stack.engine_env(), "IVR_PORT_HTTP": str(self.http),
               "IVR_PORT_AGI": str(free_tcp_port())}  # fmt: skip
        with open(self.log, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr", "serve", env=env, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await poll(lambda: asyncio.to_thread(self.status),
                   lambda status: bool(status and status["ami"]["connected"]), 30,
                   "engine B connected to Asterisk")  # fmt: skip

    def status(self) -> dict[str, Any] | None:
        url = f"http://{self.stack.settings.bind}:{self.http}/api/status"
        request = urllib.request.Request(url, headers=bearer(self.stack.settings.control_token))
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                data: dict[str, Any] = json.loads(response.read())
                return data
        except OSError:
            return None

    async def wake(self) -> None:
        """Its dialer looks at the contacts now (as the first engine's does when told)."""
        url = f"http://{self.stack.settings.bind}:{self.http}/campaigns/wake"
        token = bearer(self.stack.settings.control_token)
        request = urllib.request.Request(url, method="POST", headers=token)
        with await asyncio.to_thread(urllib.request.urlopen, request, timeout=10) as answer:
            assert answer.status == 200

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await asyncio.wait_for(self.process.wait(), 20)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(
    tmp_path_factory: Any, asterisk_available: None, postgres_server: str
) -> AsyncIterator[tuple[Rig, SecondEngine]]:
    tmp: Path = tmp_path_factory.mktemp("two-engines")
    phones = ContactPhones(tmp / "work")
    settings = stack_settings(tmp, RULES, db_url=await new_database(postgres_server))
    stack = FloorStack(settings, tmp / "work", trunk=Trunk(TRUNK, phones.port))
    stack.extra_env["IVR_WRAPUP_SECONDS"] = "1"
    phones.start()
    rig = Rig(stack, phones)
    second = SecondEngine(stack)
    try:
        await stack.start()
        await second.start()
        await stack.phone("op1", ring_ms=200)
        await stack.phone("op2", ring_ms=200)
        yield rig, second
    finally:
        for desk in rig.desks.values():
            await desk.close()
        await second.stop()
        await stack.close()
        phones.stop()


async def test_two_engines_on_one_postgresql_split_the_work_and_dial_nobody_twice(
    pair: tuple[Rig, SecondEngine],
) -> None:
    rig, second = pair
    await rig.desk("op1")  # at engine A's console
    other = Desk(rig.stack, "op2", http_port=second.http)  # at engine B's
    await other.login()
    rig.desks["op2"] = other
    rows = [[number(71, 20 + n), f"Contatto {n}"] for n in range(8)]
    await rig.add_contacts("blended", ["numero", "nome"], rows)
    async with AmiEvents(rig.stack) as events:
        await rig.start("blended")
        attempts = await rig.wait_attempts(
            "blended", lambda a: len(a) == 8 and all(x.ended_at for x in a), timeout=120
        )
        await rig.idle()
        placed = [e for e in events.seen if e.event == "Newchannel"
                  and e.get("Channel", "").startswith("PJSIP/trunk")]  # fmt: skip
    assert sorted(a.number for a in attempts) == sorted(e164(71, 20 + n) for n in range(8))
    assert len({a.contact_id for a in attempts}) == 8 and {a.seq for a in attempts} == {1}
    assert len(placed) == 8  # eight calls left through the trunk, one per contact
    assert len({a.engine for a in attempts}) == 2, [a.engine for a in attempts]
    by_engine: dict[str, set[str]] = {}
    for a in attempts:
        by_engine.setdefault(a.engine, set()).add(a.operator or "")
    assert sorted(tuple(sorted(ops)) for ops in by_engine.values()) == [("op1",), ("op2",)]
    assert all(a.system_outcome == "connected" for a in attempts)


async def test_an_engine_killed_mid_campaign_leaves_no_contact_twice_and_none_behind(
    pair: tuple[Rig, SecondEngine],
) -> None:
    rig, second = pair
    await rig.desk("op1")
    if "op2" not in rig.desks:
        other = Desk(rig.stack, "op2", http_port=second.http)
        await other.login()
        rig.desks["op2"] = other
    first = {a.id for a in await rig.wait_attempts("blended", lambda a: True)}
    rows = [[number(71, 40 + n), f"Ripreso {n}"] for n in range(6)]
    await rig.add_contacts("blended", ["numero", "nome"], rows, name="more.csv")
    async with AmiEvents(rig.stack) as events:
        await rig.wake()
        await second.wake()
        # both engines dial; the second dies without a word once it has placed a call
        assert second.process is not None
        b = f"-{second.process.pid}-"
        await rig.wait_attempts(
            "blended", lambda a: any(x.id not in first and b in x.engine for x in a), timeout=60
        )
        second.process.kill()
        await second.process.wait()
        attempts = await rig.wait_attempts(
            "blended",
            lambda a: len([x for x in a if x.id not in first]) == 6 and all(x.ended_at for x in a),
            timeout=120,
        )
        await rig.idle()
        placed = [e for e in events.seen if e.event == "Newchannel"
                  and e.get("Channel", "").startswith("PJSIP/trunk")]  # fmt: skip
    new = [a for a in attempts if a.id not in first]
    assert sorted(a.number for a in new) == sorted(e164(71, 40 + n) for n in range(6))
    assert {a.seq for a in new} == {1}  # each contact called once: none twice, none left
    # one call made per attempt, none other: an attempt the dead engine claimed but had not
    # placed yet went back to the list, and the survivor called that contact as its first try
    assert sorted(e.get("Uniqueid") for e in placed) == sorted(a.linkedid for a in new)
    survivor = {a.engine for a in new if b not in a.engine}
    assert len(survivor) == 1  # the dead engine's calls and the survivor's, nobody else's


async def test_a_contact_claimed_by_an_engine_that_died_before_dialling_is_called_once(
    pair: tuple[Rig, SecondEngine],
) -> None:
    """The dead engine wrote the attempt (the claim) but Asterisk never made its call: the
    survivor does not close it as lost (the contact would wait hours for a retry) but puts
    the contact back, and calls it as its first try, once."""
    rig, _ = pair
    await rig.desk("op1")
    await rig.stop("blended")
    await rig.add_contacts("blended", ["numero", "nome"], [[number(71, 60), "Orfano"]],
                           name="orphan.csv")  # fmt: skip
    campaign = rig.campaign("blended")
    policy = load_rules(rig.stack.settings.rules).dial_policy_for(campaign.client_id)
    dead = "gone-engine"
    await activity.heartbeat(rig.sessions, dead, now() - timedelta(hours=1))
    claimed = await store.claim(
        rig.sessions, campaign, engine=dead, now=now(), operators=[None], policy=policy,
        register_max_days=rig.stack.settings.campaign_register_max_days,
    )  # fmt: skip
    assert [c.attempt.number for c in claimed if c.attempt] == [e164(71, 60)]
    orphan = claimed[0].attempt
    assert orphan is not None
    async with AmiEvents(rig.stack) as events:
        await rig.start("blended")
        attempts = await rig.wait_attempts(
            "blended",
            lambda a: any(x.number == e164(71, 60) and x.ended_at and x.engine != dead
                          for x in a),
            timeout=90,
        )  # fmt: skip
        await rig.idle()
        placed = [e.get("Uniqueid") for e in events.seen if e.event == "Newchannel"
                  and e.get("Channel", "").startswith("PJSIP/trunk")]  # fmt: skip
    mine = [a for a in attempts if a.number == e164(71, 60)]
    assert len(mine) == 1 and mine[0].seq == 1 and mine[0].linkedid != orphan.linkedid
    assert placed == [mine[0].linkedid]  # called once, by the survivor
    assert mine[0].system_outcome == "connected"
