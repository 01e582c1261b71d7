"""The client area over HTTP: logins (TOTP, throttling, reset links), the list and its filters,
a message with its recording (Range), read/handled, exports, self-service applied on the next
call, the audit log, the team, and the emails of new messages and the daily digest."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, timedelta
from pathlib import Path

import pyotp
import pytest
from area_world import NOW, PASSWORD, World, make_world, post_form

from ivr.area import query, users
from ivr.area.notify import next_digest
from ivr.escalation.store import runs_for_call, start_escalation
from ivr.records import outbox
from ivr.routing import evaluate
from ivr.routing.decision import CallInfo
from ivr.selfservice import store as edits

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates


async def test_login_with_a_second_factor(world: World) -> None:
    sessions = world.services.sessions
    user = await users.by_email(sessions, "admin@acme.example")
    assert user is not None
    secret = await users.totp_secret(sessions, user.id)
    await users.totp_enable(sessions, user.id, True)
    client = await world.browser()
    response = await post_form(
        client, "/area/login", {"email": "admin@acme.example", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/area/totp"
    assert (await client.get("/area/calls", allow_redirects=False)).status == 303  # not yet
    wrong = await post_form(client, "/area/totp", {"code": "000000"})
    assert wrong.status == 401
    code = pyotp.TOTP(secret).at(NOW)
    right = await post_form(client, "/area/totp", {"code": code})
    assert right.status == 303 and right.headers["Location"] == "/area/calls"
    assert (await client.get("/area/calls", allow_redirects=False)).status == 200
    # The same code again, from another browser within its 30 seconds: refused.
    other = await world.browser()
    again = await post_form(
        other, "/area/login", {"email": "admin@acme.example", "password": PASSWORD}
    )
    assert again.headers["Location"] == "/area/totp"
    assert (await post_form(other, "/area/totp", {"code": code})).status == 401
    world.advance(seconds=30)
    later = pyotp.TOTP(secret).at(NOW + timedelta(seconds=30))
    fresh = await post_form(other, "/area/totp", {"code": later})
    assert fresh.status == 303
    await other.close()
    await client.close()


async def test_area_logins_are_throttled_with_a_message(world: World) -> None:
    client = await world.browser()
    for _ in range(5):
        failed = await post_form(
            client, "/area/login", {"email": "admin@acme.example", "password": "x"}
        )
        assert failed.status == 401
        assert "Email sconosciuta o password errata." in await failed.text()  # Italian first
    held = await post_form(
        client, "/area/login", {"email": "admin@acme.example", "password": PASSWORD}
    )
    assert held.status == 429
    assert "Troppi accessi non riusciti: riprovare tra 15 minuti." in await held.text()
    await client.close()


async def test_a_reset_link_is_single_use_and_expires(world: World, mailbox: tuple) -> None:
    box, port = mailbox
    made, engine = await make_world(
        Path(world.services.settings.home) / "mail",
        run=False,
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    try:
        client = await made.browser()
        sent = await post_form(client, "/area/forgot", {"email": "member@acme.example"})
        assert "è in arrivo un link" in await sent.text()
        unknown = await post_form(client, "/area/forgot", {"email": "nobody@acme.example"})
        assert "è in arrivo un link" in await unknown.text()  # the same answer
        assert len(box.messages) == 1
        link = re.search(r"http://\S+/area(/reset/\S+)", box.messages[0].get_content())
        assert link is not None
        path = "/area" + link.group(1)
        new = {"password": "a new long password", "again": "a new long password"}
        done = await post_form(client, path, new)
        assert done.status == 303
        again = await post_form(client, path, new, form_page="/area/forgot")
        assert again.status == 404  # used
        assert await users.check_password(
            made.services.sessions, "member@acme.example", new["password"]
        )
        sent = await post_form(client, "/area/forgot", {"email": "member@acme.example"})
        link = re.search(r"http://\S+/area(/reset/\S+)", box.messages[-1].get_content())
        assert link is not None
        made.advance(hours=1, seconds=1)
        assert (await client.get("/area" + link.group(1))).status == 404  # expired
        await client.close()
    finally:
        await made.area.close()
        await made.server.close()
        await engine.dispose()


async def test_the_list_filters_and_pages(world: World) -> None:
    client = await world.login("admin@acme.example")
    page = await (await client.get("/area/calls")).text()
    assert page.index("Evil") < page.index("Luca Verdi") < page.index("Said Name")  # newest first
    urgent = await (await client.get("/area/calls?urgent=1")).text()
    assert "Said Name" in urgent and "Luca Verdi" not in urgent
    found = await (await client.get("/area/calls?q=kitchen")).text()
    assert "Said Name" in found and "Luca Verdi" not in found
    old = await (await client.get("/area/calls?from=2026-11-25&to=2026-11-25")).text()
    assert "Said Name" not in old and "withheld" not in old  # 26 hours ago, shown in Rome
    assert "anonimo" in old  # the withheld caller of the day before, in Italian
    rows, cursor = await query.page(
        world.services.sessions, "acme", query.Filters(), "Europe/Rome", size=2
    )
    assert [r.linkedid for r in rows] == ["a.evil", "a.2"] and cursor
    older = await (await client.get("/area/calls", params={"before": cursor})).text()
    assert "Said Name" in older and "Luca Verdi" not in older
    await client.close()


async def test_a_message_its_recording_and_its_state(world: World) -> None:
    client = await world.login("member@acme.example")
    assert "Luca Verdi" in await (await client.get("/area/calls?unread=1")).text()
    page = await (await client.get("/area/calls/a.2")).text()
    assert 'src="/area/calls/a.2/recording"' in page
    unread = await (await client.get("/area/calls?unread=1")).text()
    assert "Luca Verdi" in unread  # shown, not changed: a GET marks nothing
    read = await post_form(client, "/area/calls/a.2/read", {"read": "1"}, "/area/calls/a.2")
    assert read.status == 303  # what the page's script posts when it is open
    assert "Luca Verdi" not in await (await client.get("/area/calls?unread=1")).text()  # read
    whole = await client.get("/area/calls/a.2/recording")
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
    part = await client.get("/area/calls/a.2/recording", headers={"Range": "bytes=100-199"})
    assert part.status == 206 and len(await part.read()) == 100
    assert part.headers["Content-Range"].startswith("bytes 100-199/")
    done = await post_form(
        client,
        "/area/calls/a.2/handled",
        {"note": "Called back <b>", "handled": "1"},
        "/area/calls/a.2",
    )
    assert done.status == 303
    page = await (await client.get("/area/calls/a.2")).text()
    assert "Gestito da member@acme.example." in page and "Called back &lt;b&gt;" in page
    await client.close()


async def test_exports_are_the_filtered_list_and_cannot_run_formulas(world: World) -> None:
    client = await world.login("admin@acme.example")
    response = await client.get("/area/calls.csv?urgent=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="calls.csv"'
    table = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert table[0][0] == "Quando" and len(table) == 2
    assert table[1][1] == "Said Name" and table[1][5] == "sì"
    assert "Leak in the kitchen = urgent" in table[1]
    await client.close()


async def test_an_override_applies_to_the_next_call(world: World) -> None:
    client = await world.login("member@acme.example")
    refused = await post_form(
        client, "/area/settings/override",
        {"kind": "forward", "number": "899123456", "until": "2026-11-27T08:00"}, "/area/settings",
    )  # fmt: skip
    assert refused.status == 422 and "non può essere chiamato" in await refused.text()
    done = await post_form(
        client, "/area/settings/override",
        {"kind": "forward", "number": "+39 333 765 4321", "until": "2026-11-27T08:00"},
        "/area/settings",
    )  # fmt: skip
    assert done.status == 303
    rules = world.services.rules.current
    decision = evaluate(
        rules, CallInfo("0611000100", "0612000001"), NOW, world.services.overrides.current()
    )
    assert decision.chain[0].kind == "forward" and decision.chain[0].number == "3337654321"
    away = await post_form(client, "/area/settings/override", {"kind": "away"}, "/area/settings")
    assert away.status == 303
    decision = evaluate(
        rules, CallInfo("0611000100", "0612000001"), NOW, world.services.overrides.current()
    )
    assert not decision.open and [s.kind for s in decision.chain] == ["message"]
    tomorrow = evaluate(
        rules,
        CallInfo("0611000100", "0612000001"),
        NOW.replace(hour=23, minute=30),  # 00:30 in Rome: "away today" is over
        world.services.overrides.current(),
    )
    assert tomorrow.open
    await client.close()


async def test_card_and_ladder_edits_are_versioned_audited_and_used(world: World) -> None:
    member = await world.login("member@acme.example")
    denied = await post_form(member, "/area/settings/card", {"instructions": "x"}, "/area/settings")
    assert denied.status == 404  # members read; admins edit
    assert (await member.get("/area/audit")).status == 404
    admin = await world.login("admin@acme.example")
    for text in ("Ask for the address.", "Ask for the address and the floor."):
        saved = await post_form(
            admin, "/area/settings/card", {"instructions": text}, "/area/settings"
        )
        assert saved.status == 303
    card = await edits.card_for(
        world.services.sessions, world.services.rules.current.clients["acme"].card
    )
    assert card.instructions == "Ask for the address and the floor."
    bad = await post_form(
        admin, "/area/settings/ladders/acme-urgent",
        {"name0": "Night", "number0": "00441234567", "wait0": "30"}, "/area/settings",
    )  # fmt: skip
    assert bad.status == 422 and "international numbers are refused" in await bad.text()
    good = await post_form(
        admin, "/area/settings/ladders/acme-urgent",
        {"name0": "Night Desk", "number0": "+39 06 1234 5678", "wait0": "20",
         "hours0": "20:00-08:00"},
        "/area/settings",
    )  # fmt: skip
    assert good.status == 303
    run = await start_escalation(
        world.services, linkedid="a.2", client_id="acme", ladder="acme-urgent",
        message_path=None, caller_name=None, callback=None, caller_number="0612345679",
        now=NOW,
    )  # fmt: skip
    runs = await runs_for_call(world.services.sessions, "a.2")
    plan = next(r.plan for r in runs if r.id == run)
    assert plan is not None and [c.name for c in plan.contacts] == ["Night Desk"]
    assert [c.number for c in plan.contacts] == ["0612345678"]  # the dial policy makes it E.164
    assert plan.contacts[0].ranges == ((1200, 1440), (0, 480))
    log = await (await admin.get("/area/audit")).text()
    assert log.count("card.edit") == 2 and "ladder.edit" in log and "Night Desk" in log
    await member.close()
    await admin.close()


async def test_new_messages_are_emailed_as_each_user_chose(world: World, mailbox: tuple) -> None:
    box, port = mailbox
    made, engine = await make_world(
        Path(world.services.settings.home) / "notify",
        run=False,
        smtp_host="127.0.0.1",
        smtp_port=port,
    )
    try:
        sessions = made.services.sessions
        notifier = made.area.notifier
        admin = await users.by_email(sessions, "admin@acme.example")
        member = await users.by_email(sessions, "member@acme.example")
        assert admin and member
        await users.set_prefs(sessions, admin.id, language="en", notify="urgent", digest_at="18:00")
        await users.set_prefs(
            sessions, member.id, language="it", notify="digest", digest_at="18:00"
        )
        # Seeded: an urgent outcome for a.1 (saved with its outbox row); a recording: a.2.
        async with sessions.begin() as session:
            assert await outbox.add_message(session, "a.2", "acme", False, NOW)
            assert not await outbox.add_message(session, "a.2", "acme", False, NOW)  # once
        assert await notifier.tell_pending(NOW) is None  # nothing left to do
        bravo = [m for m in box.messages if m["To"] == "admin@bravosecret.example"]
        assert [m["Subject"] for m in bravo] == ["Nuovo messaggio per Bravo Legal"]  # its own
        acme = [m for m in box.messages if m not in bravo]
        assert len(acme) == 1  # a.2 is not urgent: the admin wants urgent ones only
        assert acme[0]["Subject"] == "URGENT message for Acme Idraulica"
        assert acme[0]["To"] == "admin@acme.example"
        assert "Leak in the kitchen" in acme[0].get_content()
        async with sessions.begin() as session:  # a correction saved as urgent: not again
            assert await outbox.add_message(session, "a.1", "acme", True, NOW) is False
            assert await outbox.add_message(session, "a.2", "acme", True, NOW)
        await notifier.tell_pending(NOW)
        assert [m["Subject"] for m in box.messages[2:]] == ["URGENT message for Acme Idraulica"]
        assert "Luca Verdi" in box.messages[2].get_content()
        # The digest: first the member's start, then 18:00 in Rome.
        due = await notifier.step(NOW)
        assert due == next_digest(NOW, "18:00", "Europe/Rome")
        assert due is not None and due.utcoffset() is not None
        assert due.astimezone(UTC).hour == 17  # 18:00 in Rome in November
        assert await notifier.step(due - timedelta(seconds=1)) == due  # not yet
        assert len(box.messages) == 3
        made.advance(hours=7)
        await notifier.step(due)
        digest = box.messages[-1]
        assert digest["Subject"] == "Messaggi del giorno per Acme Idraulica"
        assert digest["To"] == "member@acme.example"
        assert "Luca Verdi" in digest.get_content() and "Said Name" in digest.get_content()
        nxt = await notifier.step(due)
        assert nxt is not None and (nxt - due).total_seconds() == 86400
    finally:
        await made.area.close()
        await made.server.close()
        await engine.dispose()


async def test_the_team_invites_and_removes(world: World, mailbox: tuple) -> None:
    client = await world.login("admin@acme.example")
    invited = await post_form(
        client, "/area/team/invite", {"email": "new@acme.example", "role": "member"}, "/area/team"
    )
    assert invited.status == 303
    new = await users.by_email(world.services.sessions, "new@acme.example")
    assert new is not None and new.client_id == "acme"
    removed = await post_form(client, f"/area/team/{new.id}/remove", {}, "/area/team")
    assert removed.status == 303
    assert await users.by_email(world.services.sessions, "new@acme.example") is None
    await client.close()


async def test_pages_speak_the_users_language_and_allow_no_inline_script(world: World) -> None:
    client = await world.login("admin@acme.example")
    page = await client.get("/area/dashboard")
    text = await page.text()
    assert "Cruscotto" in text and "<svg" in text and "<script>" not in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    sessions = world.services.sessions
    admin = await users.by_email(sessions, "admin@acme.example")
    assert admin is not None
    await users.set_prefs(sessions, admin.id, language="en", notify="each", digest_at="18:00")
    text = await (await client.get("/area/calls")).text()
    assert "Calls and messages" in text and "today 10:30" in text  # 09:30 UTC, shown in Rome
    await client.close()


async def test_the_area_body_limit_is_its_own(world: World) -> None:
    client = await world.login("admin@acme.example")
    response = await client.post("/area/calls/a.2/handled", data={"note": "x" * 100_000})
    assert response.status == 413
    await client.close()


async def test_the_digest_clock_crosses_days_and_zones() -> None:
    at = NOW.replace(hour=20)  # 21:00 in Rome: today's 18:00 is past
    assert next_digest(at, "18:00", "Europe/Rome").isoformat() == "2026-11-27T18:00:00+01:00"
    assert next_digest(NOW, "08:00", "Europe/London").isoformat() == "2026-11-27T08:00:00+00:00"
    await asyncio.sleep(0)
