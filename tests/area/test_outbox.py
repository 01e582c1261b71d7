"""Notices of new messages with several engines: the outbox row written with the message,
taken by one engine, the email sent once; an engine that dies with a row is replaced after
the lease; a mail server that is away gets the email later; and on PostgreSQL an engine's
wake-up reaches the other engines, whose notifiers sleep until then (no polling)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from area_world import NOW, Mailbox, World, close_world, make_world
from pg_server import new_database
from sqlalchemy import select

from ivr.area import users
from ivr.harness.stack import poll
from ivr.portal import store
from ivr.records import outbox
from ivr.records.outbox import OutboxRow


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    return await new_database(request.getfixturevalue("postgres_server"))


@pytest_asyncio.fixture
async def engines(
    db_url: str, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[list[World]]:
    """Two engines' areas on one database, their notifiers driven by the test."""
    _, port = mailbox
    made = []
    for n in range(2):
        made.append(
            await make_world(
                tmp_path / f"e{n}",
                run=False,
                db_url=db_url,
                seeded=n == 0,
                smtp_host="127.0.0.1",
                smtp_port=port,
            )  # fmt: skip
        )
    yield [world for world, _ in made]
    for world, engine in made:
        await close_world(world, engine)


async def outcome(world: World, linkedid: str, urgent: bool) -> None:
    """What the console does when an operator saves an outcome."""
    await store.save_outcome(
        world.services.sessions,
        store.Outcome(linkedid, "op1", "acme", "Said Name", "0612000001", "Call back",
                      "callback", urgent, None, NOW),
    )  # fmt: skip


async def rows(world: World) -> list[OutboxRow]:
    async with world.services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxRow).where(OutboxRow.topic == outbox.MESSAGE).order_by(OutboxRow.id)
            )
        )


def to_acme(box: Mailbox) -> list[str]:
    return sorted(str(m["To"]) for m in box.messages if "acme" in str(m["To"]))


async def test_two_engines_send_each_email_once(
    engines: list[World], mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    a, b = engines
    await outcome(a, "a.2", urgent=False)  # the seeded a.1 (urgent) has its row already
    for _ in range(3):  # both engines at once, several times
        await asyncio.gather(*(w.area.notifier.step(NOW) for w in engines))
    # a.1 and a.2 to both of Acme's users (they want each message), once each.
    assert to_acme(box) == ["admin@acme.example"] * 2 + ["member@acme.example"] * 2
    ids = [m["Message-ID"] for m in box.messages]
    assert len(set(ids)) == len(ids)
    assert all(r.done_at is not None and r.error is None for r in await rows(a))


async def test_an_engine_that_died_with_a_row_is_replaced_after_the_lease(
    engines: list[World], mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    a, b = engines
    taken = await outbox.take(a.services.sessions, outbox.MESSAGE, "dead engine", NOW)
    assert len(taken) == 2  # a.1 and b.2, held by an engine that then died
    await b.area.notifier.step(NOW)
    assert box.messages == []  # its lease runs
    due = await outbox.next_due(b.services.sessions, outbox.MESSAGE)
    assert due == NOW + outbox.LEASE
    await b.area.notifier.step(due)
    assert to_acme(box) == ["admin@acme.example", "member@acme.example"]


async def test_a_mail_server_away_gets_the_email_later(
    engines: list[World], mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, port = mailbox
    a, _ = engines
    sessions = a.services.sessions
    for email in ("admin@acme.example", "member@acme.example", "admin@bravosecret.example"):
        user = await users.by_email(sessions, email)
        assert user is not None
        await users.set_prefs(sessions, user.id, language="en", notify="none", digest_at="18:00")
    member = await users.by_email(sessions, "member@acme.example")
    assert member is not None
    await users.set_prefs(sessions, member.id, language="en", notify="each", digest_at="18:00")
    a.services.settings = replace(a.services.settings, smtp_port=1)  # nothing listens there
    due = await a.area.notifier.step(NOW)
    assert box.messages == [] and due is not None and due > NOW
    [held] = [r for r in await rows(a) if r.key.startswith("a.1")]
    assert held.done_at is None and held.tries == 1 and "failed" in (held.error or "")
    a.services.settings = replace(a.services.settings, smtp_port=port)
    await a.area.notifier.step(due)
    assert to_acme(box) == ["member@acme.example"]
    assert box.messages[0]["Subject"] == "URGENT message for Acme Idraulica"


async def test_a_wake_up_reaches_every_engine_on_postgresql(
    postgres_server: str, tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    """Engine A saves an outcome; engine B's notifier, asleep, is woken through PostgreSQL
    (A's too): the email goes once, and no notifier polls meanwhile."""
    box, port = mailbox
    url = await new_database(postgres_server)
    made = []
    try:
        for n in range(2):
            made.append(
                await make_world(
                    tmp_path / f"pg{n}",
                    run=True,
                    db_url=url,
                    seeded=n == 0,
                    smtp_host="127.0.0.1",
                    smtp_port=port,
                )  # fmt: skip
            )
        a, b = made[0][0], made[1][0]
        heard: list[str] = []
        b.services.wake.on(outbox.WAKE, heard.append)
        # The seeded rows (a.1, b.2) are sent by whichever notifier took them at start.
        await poll(lambda: rows(a), lambda r: all(x.done_at for x in r), 30, "seeded rows")
        sent = len(box.messages)
        await outcome(a, "a.2", urgent=True)
        await a.services.wake.send(outbox.WAKE, "acme")
        await poll(lambda: rows(a), lambda r: all(x.done_at for x in r), 30, "the new row")
        assert heard == ["acme"]  # B heard A's wake-up, once
        new = box.messages[sent:]
        assert sorted(str(m["To"]) for m in new) == ["admin@acme.example", "member@acme.example"]
        [row] = [r for r in await rows(a) if r.key == "a.2|urgent"]
        assert row.tries == 1  # taken once, by one of the two
        # Wake-ups sent at once (calls stored by several parts of A) all reach B.
        stored: list[str] = []
        b.services.wake.on("area.calls", stored.append)

        async def heard_calls() -> list[str]:
            return sorted(stored)

        await asyncio.gather(*(a.services.wake.send("area.calls", f"c{n}") for n in range(5)))
        await poll(heard_calls, lambda h: len(h) >= 5, 30, "five wake-ups")
        assert await heard_calls() == [f"c{n}" for n in range(5)]
    finally:
        for world, engine in made:
            await close_world(world, engine)


async def test_two_engines_send_a_digest_once(
    engines: list[World], mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    a, b = engines
    sessions = a.services.sessions
    for email in ("admin@acme.example", "member@acme.example", "admin@bravosecret.example"):
        user = await users.by_email(sessions, email)
        assert user is not None
        notify = "digest" if email == "member@acme.example" else "none"
        await users.set_prefs(sessions, user.id, language="it", notify=notify, digest_at="18:00")
    due = await a.area.notifier.step(NOW)  # the member's digests start now
    assert due is not None and await b.area.notifier.step(NOW) == due
    await asyncio.gather(a.area.notifier.step(due), b.area.notifier.step(due))
    digests = [m for m in box.messages if m["Subject"].startswith("Messaggi del giorno")]
    assert [m["To"] for m in digests] == ["member@acme.example"]
    assert "Said Name" in digests[0].get_content()  # a.1, the seeded urgent outcome
