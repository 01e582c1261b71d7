"""Personal data has an end: the purge keeps each client's retention (recordings, messages,
callers' numbers), the erasure removes one caller everywhere and says what, files are
deleted only inside the recordings and prompts folders, and the daily purge sleeps until
it is due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from ivr import config
from ivr.escalation import store
from ivr.escalation.ladder import Slot
from ivr.escalation.models import EscalationAttempt, EscalationRun
from ivr.escalation.speech import intro_prompt
from ivr.lease import Leases
from ivr.portal.models import CallOutcome, QueueEvent
from ivr.privacy import variants
from ivr.privacy.run import DailyPurge, erase, next_due, purge, remove_files
from ivr.prompts import cached_name
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.models import Call, CallEvent
from ivr.routing.model import Retention, Rules

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> config.Settings:
    return config.load(
        environ={}, instance="unitprivacy", ami_secret="x", asterisk_root=tmp_path / "root",
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}", agi_token="t",
    )  # fmt: skip


@pytest_asyncio.fixture
async def sessions(settings: config.Settings) -> AsyncIterator[Any]:
    await upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def recording(settings: config.Settings, name: str) -> str:
    path = settings.run_dir / "messages" / name
    host = settings.host_path(path)
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_bytes(b"RIFF")
    return str(path)


async def a_call(
    sessions: Any, settings: config.Settings, linkedid: str, client: str | None, number: str,
    days_ago: int,
) -> None:  # fmt: skip
    at = NOW - timedelta(days=days_ago)
    async with sessions.begin() as session:
        session.add(
            Call(
                linkedid=linkedid, client_id=client, caller_number=number, caller_name="Maria",
                arrived_at=at, outcome="message-left", updated_at=at,
                message_path=recording(settings, f"{client}/{linkedid}.wav"),
            )
        )  # fmt: skip
        session.add(
            CallEvent(linkedid=linkedid, source="ami", kind="Newchannel", at=at,
                      dedupe_key=f"k{linkedid}", data={"CallerIDNum": number})
        )  # fmt: skip
        session.add(
            CallOutcome(linkedid=linkedid, operator="op1", client_id=client, caller_name="Maria",
                        callback=number, message="Leak in the kitchen", category="x",
                        urgent=False, saved_at=at)
        )  # fmt: skip
        session.add(
            QueueEvent(at=at, kind="join", queue="desk", linkedid=linkedid,
                       caller_number=number, dedupe_key=f"q{linkedid}")
        )  # fmt: skip


async def count(sessions: Any, column: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


def rules_with(own: dict[str, Retention]) -> Rules:
    from ivr.routing.decision import ClientCard
    from ivr.routing.model import Client

    clients = {
        cid: Client(cid, ClientCard(cid, cid), "", None, (), (), retention=r)  # type: ignore[arg-type]
        for cid, r in own.items()
    }
    return Rules({}, {}, "x", clients, {}, "", retention=Retention(10, 20, 30))


async def test_each_client_keeps_its_own_retention(
    sessions: Any, settings: config.Settings
) -> None:
    await a_call(sessions, settings, "a-old", "acme", "0612000001", days_ago=40)
    await a_call(sessions, settings, "a-mid", "acme", "0612000002", days_ago=15)
    await a_call(sessions, settings, "a-new", "acme", "0612000003", days_ago=1)
    await a_call(sessions, settings, "r-mid", "rossi", "0612000004", days_ago=15)
    rules = rules_with({"rossi": Retention(recordings=100, messages=100, numbers=100)})

    removed = await purge(sessions, rules, settings, NOW)

    # acme keeps the center's: recordings 10 days, messages 20, numbers 30.
    assert removed.counts == {
        "recordings": 2, "files": 2, "messages (outcomes)": 1,
        "callers' numbers on call records": 1, "call events": 1,
        "callers' numbers on queue events": 1,
    }  # fmt: skip
    assert not settings.host_path(Path(settings.run_dir / "messages/acme/a-old.wav")).exists()
    assert settings.host_path(settings.run_dir / "messages/acme/a-new.wav").exists()
    assert settings.host_path(settings.run_dir / "messages/rossi/r-mid.wav").exists()
    assert await count(sessions, Call.id, Call.caller_number.is_not(None)) == 3
    assert await count(sessions, Call.id) == 4  # the records stay, without the number
    assert await count(sessions, CallOutcome.id) == 3
    assert await count(sessions, CallEvent.id) == 3
    again = await purge(sessions, rules, settings, NOW)
    assert again.counts == {}


async def test_erase_removes_a_caller_everywhere_and_says_what(
    sessions: Any, settings: config.Settings
) -> None:
    await a_call(sessions, settings, "c1", "acme", "0612345678", days_ago=1)
    await a_call(sessions, settings, "c2", "rossi", "+390612345678", days_ago=2)
    await a_call(sessions, settings, "c3", "acme", "0699999999", days_ago=1)
    run_id = await store.start_escalation(
        sessions, linkedid="c1", client_id="acme", ladder="night", message_path=None,
        caller_name="Maria", callback="0612345678", caller_number="0612345678", now=NOW,
    )  # fmt: skip
    await store.claim_attempt(sessions, run_id, Slot(0, 0, 0), "Mario", "3331234567", NOW)
    [run] = await store.runs_for_call(sessions, "c1")
    speech = settings.host_path(
        settings.run_dir / "prompts" / f"{cached_name(intro_prompt(run), 'en')}.wav"
    )
    speech.parent.mkdir(parents=True, exist_ok=True)
    speech.write_bytes(b"RIFF")

    removed = await erase(sessions, settings, "+390612345678")

    assert removed.counts == {
        "call records": 2, "call events": 2, "messages (outcomes)": 2, "queue events": 2,
        "escalations": 1, "escalation calls": 1, "files": 3,
    }  # fmt: skip
    assert str(speech) in removed.files and not speech.exists()
    assert await count(sessions, Call.id) == 1 and await count(sessions, CallOutcome.id) == 1
    assert (
        await count(sessions, EscalationRun.id) == await count(sessions, EscalationAttempt.id) == 0
    )
    assert await count(sessions, QueueEvent.id) == 1


def test_a_number_is_looked_for_in_every_form_it_may_be_stored() -> None:
    assert variants("06 1234567") >= {"061234567", "+39061234567", "0039061234567", "39061234567"}
    assert variants("+44 20 7946 0958") >= {"+442079460958", "00442079460958", "442079460958"}
    assert variants("anonymous") == {"anonymous"}


def test_files_outside_the_recordings_and_prompts_are_never_deleted(
    settings: config.Settings, tmp_path: Path
) -> None:
    from ivr.privacy import Removed

    victim = tmp_path / "precious.txt"
    victim.write_text("x")
    inside = recording(settings, "acme/x.wav")
    removed = Removed(files={str(victim), inside, f"{settings.run_dir}/messages/../etc/x"})

    gone = remove_files(settings, removed)

    assert victim.exists() and gone == [settings.host_path(Path(inside)).resolve()]


def test_next_due_is_today_or_tomorrow() -> None:
    now = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    assert next_due(now, "03:30") == now.replace(hour=3, minute=30)
    assert next_due(now.replace(hour=4), "03:30") == datetime(2026, 6, 2, 3, 30, tzinfo=UTC)
    assert next_due(now.replace(hour=3, minute=30), "03:30").day == 2


async def test_the_daily_purge_sleeps_until_due_then_purges(
    sessions: Any, settings: config.Settings
) -> None:
    await a_call(sessions, settings, "old", "acme", "0612000001", days_ago=400)
    clock = [datetime(2026, 6, 1, 1, 0).astimezone()]
    slept: list[float] = []
    purged = asyncio.Event()

    class Holder:
        current = rules_with({})

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 1:
            purged.set()
            await asyncio.Event().wait()  # the second night: stay asleep
        clock[0] += timedelta(seconds=seconds)

    services = type("S", (), {})()
    services.settings = replace(settings, purge_at="03:30")
    services.sessions, services.rules, services.clock = sessions, Holder(), lambda: clock[0]
    services.leases = Leases()  # one engine: it holds the purge's lease
    daily = DailyPurge(services)
    daily.sleep = sleep  # type: ignore[method-assign]
    await daily.start()
    async with asyncio.timeout(10):
        await purged.wait()
    await daily.close()

    assert slept == [2.5 * 3600, 24 * 3600]  # one sleep per night, no polling
    assert daily.last is not None and daily.last["removed"]["recordings"] == 1
    assert await count(sessions, Call.id, Call.caller_number.is_not(None)) == 0
