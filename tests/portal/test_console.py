"""The operator console through aiohttp's test client: logins, the card, the outcome form
(validation, escaping), pauses sent to AMI, wrap-up, and the supervisor's figures."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr import config
from ivr.ami.message import Message
from ivr.escalation.store import runs_for_call
from ivr.portal import Portal, portal_password, store
from ivr.records import db, repo
from ivr.routing import RulesHolder
from ivr.services import Services

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[1] / "e2e" / "queues" / "rules"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
STAMP = "1795683600.000000"  # T0 as an AMI Timestamp


class FakeAmi:
    """Records the actions the console sends; answers them all with Success."""

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        self.sent = asyncio.Event()
        self.op1: list[tuple[str, str]] = [("Paused", "0")]

    async def send_action(self, fields: Any, timeout: float | None = None) -> Message:
        self.actions.append(dict(fields))
        self.sent.set()
        return Message([("Response", "Success")])

    async def send_action_list(self, fields: Any, timeout: float | None = None) -> list[Message]:
        self.actions.append(dict(fields))
        return [
            Message([("Event", "QueueParams"), ("Queue", "desk")]),
            Message([("Event", "QueueMember"), ("Queue", "desk"), ("Name", "op1")] + self.op1),
        ]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.pauses()) < count:
                self.sent.clear()
                await self.sent.wait()

    def pauses(self, phone: str = "desk") -> list[tuple[str, str]]:
        """The QueuePause actions sent for the operators' desk phones (or their browser phones:
        a pause holds both members of the operator in the queues)."""
        return [
            (a["Interface"], a["Paused"])
            for a in self.actions
            if a["Action"] == "QueuePause" and a["Interface"].endswith("-web") == (phone == "web")
        ]


@dataclass
class Console:
    client: TestClient[Any, Any]
    portal: Portal
    ami: FakeAmi
    services: Services

    async def login(self, user: str = "op1", password: str | None = None) -> None:
        secret = password if password is not None else portal_password(self.services.settings, user)
        response = await self.post_login(user, secret)
        assert response.status == 303, await response.text()

    async def post_login(self, user: str, password: str) -> Any:
        """The login form, as a browser fills it in (with the form's CSRF token)."""
        form = await self.client.get("/console/login")
        found = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert found is not None
        return await self.client.post(
            "/console/login",
            data={"user": user, "password": password, "csrf": found.group(1)},
            allow_redirects=False,
        )

    async def page(self, path: str = "/console/") -> str:
        response = await self.client.get(path)
        assert response.status == 200
        return await response.text()

    async def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', await self.page())
        assert found is not None
        return found.group(1)

    async def event(self, **fields: str) -> None:
        await self.portal.on_event(Message([(k, v) for k, v in fields.items()]))

    async def call_answered(self, linkedid: str, caller: str = "0612000002") -> None:
        """A call of the shop's arrives and op1 answers it (the events Asterisk sends)."""
        await repo.open_call(
            self.services.sessions,
            linkedid=linkedid,
            channel=f"PJSIP/trunk-{linkedid}",
            client_id="shop",
            client_name="Corner Shop",
            called="0611000009",
            caller_number=caller,
            caller_name="Maria",
            arrived_at=T0,
            route="operators",
        )
        channel = f"PJSIP/op1-0000{linkedid[-4:]}"
        await self.event(Event="DialBegin", Linkedid=linkedid, DestChannel=channel)
        await self.event(
            Event="DialEnd", Linkedid=linkedid, DestChannel=channel, DialStatus="ANSWER"
        )

    async def call_ends(self, linkedid: str) -> None:
        channel = f"PJSIP/op1-0000{linkedid[-4:]}"
        await self.event(Event="Hangup", Linkedid=linkedid, Channel=channel)


@pytest_asyncio.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    settings = config.load(
        environ={},
        instance="portaltest",
        home=tmp_path,  # the generated passwords go to tmp_path/var/portaltest/portal
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}",
        rules=RULES,
        asterisk_root=tmp_path,
        ami_secret="x",
        wrapup_seconds=30,
    )
    await db.upgrade(settings.db_url)
    engine = db.make_engine(settings.db_url)
    ami = FakeAmi()
    services = Services(
        settings=settings,
        rules=RulesHolder(RULES),
        sessions=db.session_factory(engine),
        clock=lambda: T0,
        ami=ami,  # type: ignore[arg-type]
    )
    portal = Portal(services)
    app = web.Application()
    app.add_subapp("/console", portal.app())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Console(client, portal, ami, services)
    finally:
        await client.close()
        await engine.dispose()


async def test_the_console_needs_a_login(console: Console) -> None:
    for path in ("/console/", "/console/panel", "/console/events", "/console/supervisor"):
        response = await console.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/console/login"


async def test_a_wrong_password_is_refused_with_a_message(console: Console) -> None:
    response = await console.post_login("op1", "guess")
    assert response.status == 401
    # Italian by default: the browser asked for no language.
    assert "Operatore sconosciuto o password errata." in await response.text()
    response = await console.post_login("../etc", "")
    assert response.status == 401


async def test_passwords_are_generated_once_and_private(console: Console) -> None:
    settings = console.services.settings
    first = portal_password(settings, "op1")
    assert first == portal_password(settings, "op1")
    path = settings.state_dir / "portal" / "op1.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    await console.login("op1", first)
    assert "Corner Shop" not in await console.page()  # no call yet: no card


async def test_available_and_pause_go_to_the_queues(console: Console) -> None:
    await console.login()
    csrf = await console.csrf()
    for state in ("pause", "available"):
        response = await console.client.post(
            "/console/state", data={"state": state, "csrf": csrf}, allow_redirects=False
        )
        assert response.status == 303
    assert console.ami.pauses() == [("PJSIP/op1", "true"), ("PJSIP/op1", "false")]
    assert console.ami.pauses("web") == [("PJSIP/op1-web", "true"), ("PJSIP/op1-web", "false")]
    forged = await console.client.post("/console/state", data={"state": "pause"})
    assert forged.status == 403


async def test_the_card_shows_the_client_and_the_callers_earlier_calls(console: Console) -> None:
    await console.login()
    await console.call_answered("1700000000.0001")
    await console.call_ends("1700000000.0001")
    csrf = await console.csrf()
    await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0001",
            "caller_name": "Maria Rossi",
            "callback": "0612000002",
            "message": "Wants the blue one.",
            "category": "order",
        },
    )
    await console.call_answered("1700000000.0002")

    panel = await console.page("/console/panel")

    assert 'id="client">Corner Shop<' in panel
    assert "Corner Shop, good morning, Anna speaking" in panel  # {operator} filled in
    assert "Ask for the order number." in panel
    assert "ordine: Wants the blue one." in panel  # the earlier call, in Italian (default)
    assert 'name="linkedid" value="1700000000.0002"' in panel


async def test_wrong_input_gets_clear_messages_and_nothing_is_saved(console: Console) -> None:
    await console.login()
    await console.call_answered("1700000000.0003")
    csrf = await console.csrf()
    response = await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0003",
            "caller_name": "",
            "callback": "call me maybe",
            "message": "x" * 5000,
            "category": "nonsense",
        },
    )
    text = await response.text()
    assert response.status == 422
    # (in Italian, the console's default language)
    assert "Nome di chi chiama è obbligatorio." in text
    assert "Numero da richiamare: solo cifre" in text
    assert "Messaggio è troppo lungo: 5000 caratteri, al massimo 2000." in text
    assert "La categoria deve essere una tra" in text
    assert await store.get_outcome(console.services.sessions, "1700000000.0003") is None


async def test_html_in_the_message_is_stored_as_text_and_shown_escaped(console: Console) -> None:
    await console.login()
    await console.call_answered("1700000000.0004")
    hostile = '<script>alert("x")</script> call <b>now</b>'
    csrf = await console.csrf()
    response = await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0004",
            "caller_name": "<img src=x onerror=alert(1)>",
            "callback": "+39 06 1234-5678",
            "message": hostile,
            "category": "message",
            "urgent": "1",
        },
    )
    text = await response.text()
    assert response.status == 200
    assert "mostrato come testo semplice" in text
    saved = await store.get_outcome(console.services.sessions, "1700000000.0004")
    assert saved is not None
    assert saved.message == hostile  # stored exactly as typed
    assert saved.callback == "+390612345678"
    assert saved.urgent and saved.escalation is not None
    # Urgent: the shop's ladder started for this call, with what the operator wrote.
    assert saved.escalation.startswith("urgent: escalation shop-owner started (run ")
    runs = await runs_for_call(console.services.sessions, "1700000000.0004")
    assert [(r.ladder, r.callback) for r in runs] == [("shop-owner", "+390612345678")]
    page = await console.page()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_wrap_up_holds_the_operator_until_the_outcome_is_saved(console: Console) -> None:
    await console.login()
    await console.call_answered("1700000000.0005")
    assert console.ami.pauses() == [("PJSIP/op1", "true")]  # paused as the call connects
    await console.call_ends("1700000000.0005")
    live = console.portal.board.live("op1")
    assert live.state == "wrap-up"

    csrf = await console.csrf()
    response = await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0005",
            "caller_name": "Maria",
            "callback": "0612000002",
            "message": "Call back.",
            "category": "callback",
        },
        allow_redirects=False,
    )

    assert response.status == 303
    assert console.ami.pauses() == [("PJSIP/op1", "true"), ("PJSIP/op1", "false")]
    assert live.state == "available"


async def test_an_operator_cannot_write_about_someone_elses_call(console: Console) -> None:
    await repo.open_call(
        console.services.sessions,
        linkedid="1700000000.0009",
        channel="PJSIP/trunk-1",
        client_id="shop",
        client_name="Corner Shop",
        called="0611000009",
        caller_number="0612000003",
        caller_name="",
        arrived_at=T0,
        route="operators",
    )
    await console.login()
    csrf = await console.csrf()
    response = await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0009",
            "caller_name": "X",
            "callback": "0612000003",
            "message": "m",
            "category": "message",
        },
    )
    assert response.status == 422
    assert "non ha risposto lei" in await response.text()


async def test_supervisor_figures_come_from_the_stored_queue_events(console: Console) -> None:
    def queue_event(name: str, linkedid: str, **more: str) -> dict[str, str]:
        return {"Event": name, "Queue": "desk", "Linkedid": linkedid, "Timestamp": STAMP, **more}

    for e in (
        queue_event("QueueCallerJoin", "a", CallerIDNum="1"),
        queue_event("AgentConnect", "a", MemberName="op1", HoldTime="5"),
        queue_event("QueueCallerLeave", "a"),
        queue_event("QueueCallerJoin", "b", CallerIDNum="2"),
        queue_event("AgentConnect", "b", MemberName="op1", HoldTime="35"),
        queue_event("QueueCallerLeave", "b"),
        queue_event("QueueCallerJoin", "c", CallerIDNum="3"),
        queue_event("QueueCallerAbandon", "c", HoldTime="8"),
        queue_event("QueueCallerLeave", "c"),
        queue_event("QueueCallerJoin", "d", CallerIDNum="4"),  # still waiting
    ):
        await console.event(**e)
        await console.event(**e)  # delivered twice: counted once
    await console.login("supervisor")

    page = await console.page("/console/supervisor")

    assert re.search(r'data-queue="desk"><td>desk</td><td>1</td>', page)
    assert 'id="offered">4<' in page
    assert 'id="answered">2<' in page
    assert 'id="within">1 (50 %)<' in page
    assert 'id="abandoned">1<' in page
    assert 'id="average-wait">16.0 s<' in page  # (5 + 35 + 8) / 3
    assert 'data-operator="op1"' in page


async def test_wrap_up_ends_by_itself_when_its_time_is_up(console: Console) -> None:
    settings = console.services.settings
    console.services.settings = dataclasses.replace(settings, wrapup_seconds=0)
    await console.login()
    await console.call_answered("1700000000.0006")
    await console.call_ends("1700000000.0006")

    await console.ami.wait_for(2)  # the pause as the call connected, then the unpause

    assert console.ami.pauses() == [("PJSIP/op1", "true"), ("PJSIP/op1", "false")]
    assert console.portal.board.live("op1").state == "available"
    assert await store.get_outcome(console.services.sessions, "1700000000.0006") is None


async def test_an_operator_on_a_break_stays_paused_after_wrap_up(console: Console) -> None:
    await console.login()
    csrf = await console.csrf()
    await console.call_answered("1700000000.0007")
    await console.client.post("/console/state", data={"state": "pause", "csrf": csrf})
    await console.call_ends("1700000000.0007")
    await console.client.post(
        "/console/outcome",
        data={
            "csrf": csrf,
            "linkedid": "1700000000.0007",
            "caller_name": "Maria",
            "callback": "0612000002",
            "message": "Thanks.",
            "category": "other",
        },
    )
    # Paused as the call connected; the break chosen meanwhile holds after the outcome.
    assert console.ami.pauses() == [("PJSIP/op1", "true")]


async def test_the_pause_asterisk_knows_is_shown_after_a_restart(console: Console) -> None:
    console.ami.op1 = [("Paused", "1"), ("PausedReason", "break")]

    await console.login()

    assert console.portal.board.live("op1").state == "paused"
    page = await console.page()
    assert 'data-state="paused"' in page and ">in pausa<" in page


async def test_urgent_without_a_ladder_records_the_flag_only(console: Console) -> None:
    await repo.open_call(
        console.services.sessions,
        linkedid="1700000000.0010",
        channel="PJSIP/trunk-1",
        client_id=None,
        client_name=None,
        called="0699999999",
        caller_number="0612000004",
        caller_name="",
        arrived_at=T0,
        route="operators",
    )
    call = await repo.get_call(console.services.sessions, "1700000000.0010")
    assert call is not None
    outcome = store.Outcome(
        call.linkedid, "op1", None, "X", "0612000004", "m", "other", True, None, T0
    )

    note = await console.portal.escalate(call, outcome)

    assert note == "urgent: no escalation ladder in this client's rules (flag recorded only)"


async def test_pages_forbid_inline_scripts(console: Console) -> None:
    await console.login()
    response = await console.client.get("/console/")
    policy = response.headers["Content-Security-Policy"]
    scripts = next(part for part in policy.split(";") if "script-src" in part)
    assert scripts.strip() == "script-src 'self'"  # no inline script may run
    assert "<script>" not in await response.text()  # the page's one script is a file
    script = await console.client.get("/console/static/console.js")
    assert script.status == 200 and "EventSource" in await script.text()
