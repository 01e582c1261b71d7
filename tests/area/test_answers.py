"""A script's answers in the client's area: on the list and the message page, one column per
field in the CSV and XLSX exports, in the email, and found by the search."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from area_world import NOW, Mailbox, World, close_world, make_world
from openpyxl import load_workbook

from ivr.area import users
from ivr.portal import store
from ivr.records import fields

ANSWERS = [
    fields.Answer("ref", "Riferimento immobile", "MI-1234", "MI-1234"),
    fields.Answer("want", "Acquisto o affitto", "rent", "Affitto"),
    fields.Answer("formula", "Note", "=HYPERLINK(1)", "=HYPERLINK(1)"),
]


@pytest_asyncio.fixture
async def world(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> AsyncIterator[World]:
    _, port = mailbox
    made, engine = await make_world(tmp_path, run=False, smtp_host="127.0.0.1", smtp_port=port)
    sessions = made.services.sessions
    async with sessions.begin() as session:  # as the console does: the fields, then the message
        await fields.replace_fields(session, "a.2", "acme", ANSWERS, NOW)
    await store.save_outcome(
        sessions,
        store.Outcome("a.2", "op1", "acme", "Luca Verdi", "0612000002", "", "message", False,
                      None, NOW),
    )  # fmt: skip
    try:
        yield made
    finally:
        await close_world(made, engine)


async def test_the_answers_are_on_the_list_and_the_message_page(world: World) -> None:
    client = await world.login("admin@acme.example")
    listing = await (await client.get("/area/calls")).text()
    assert 'data-field="ref">Riferimento immobile: MI-1234' in listing
    assert 'data-field="want">Acquisto o affitto: Affitto' in listing
    page = await (await client.get("/area/calls/a.2")).text()
    assert '<dt>Riferimento immobile</dt><dd data-field="ref">MI-1234</dd>' in page
    await client.close()


async def test_the_search_finds_an_answer(world: World) -> None:
    client = await world.login("admin@acme.example")
    found = await (await client.get("/area/calls", params={"q": "MI-1234"})).text()
    assert 'data-linkedid="a.2"' in found and 'data-linkedid="a.1"' not in found
    found = await (await client.get("/area/calls", params={"q": "affitto"})).text()
    assert 'data-linkedid="a.2"' in found
    await client.close()


async def test_each_field_is_a_column_of_the_exports(world: World) -> None:
    client = await world.login("admin@acme.example")
    body = await (await client.get("/area/calls.csv")).read()
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    head = table[0]
    assert head[-3:] == ["Riferimento immobile", "Acquisto o affitto", "Note"]
    [line] = [row for row in table[1:] if row[2] == "0612000002"]
    assert line[-3:] == ["MI-1234", "Affitto", "'=HYPERLINK(1)"]  # never run as a formula
    others = [row for row in table[1:] if row[2] != "0612000002"]
    assert all(row[-3:] == ["", "", ""] for row in others)
    body = await (await client.get("/area/calls.xlsx")).read()
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    rows = [[c or "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert rows[0][-3:] == head[-3:]
    assert ["MI-1234", "Affitto", "'=HYPERLINK(1)"] in [r[-3:] for r in rows]
    await client.close()


async def test_the_email_carries_the_answers(world: World, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    sessions = world.services.sessions
    member = await users.by_email(sessions, "member@acme.example")
    assert member is not None
    await users.set_prefs(sessions, member.id, language="en", notify="each", digest_at="18:00")
    await world.area.notifier.step(NOW)
    mails = [m for m in box.messages if "acme" in str(m["To"])]
    assert mails
    texts = [
        m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        for m in mails
    ]
    wanted = "Riferimento immobile: MI-1234\nAcquisto o affitto: Affitto\nNote: =HYPERLINK(1)\n"
    assert sum(wanted in text for text in texts) == 2  # to both of Acme's users


async def test_the_dispatch_rules_keep_a_message_out_of_the_emails(
    world: World, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    sessions = world.services.sessions
    for email in ("admin@acme.example", "member@acme.example"):
        user = await users.by_email(sessions, email)
        assert user is not None
        await users.set_prefs(sessions, user.id, language="en", notify="each", digest_at="18:00")
    await store.save_outcome(  # a complaint: the client wants it in the daily report only
        sessions,
        store.Outcome("a.3", "op1", "acme", "Gino", "0612000003", "Rude plumber", "complaint",
                      False, None, NOW),
    )  # fmt: skip
    await world.area.notifier.step(NOW)
    told = {m["Subject"] and m.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
            for m in box.messages}  # fmt: skip
    assert any("/calls/a.2" in text for text in told)
    assert not any("/calls/a.3" in text for text in told)
