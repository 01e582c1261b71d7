"""The client area's test world: the area of two clients, Acme (A) and Bravo (B), with calls,
messages, recordings, users and ladders of their own, served by aiohttp's test server; and a
local SMTP server's mailbox. A module of its own name (not conftest): pytest imports every
conftest.py as "conftest", so `from conftest import` would find another folder's."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr import config
from ivr.area import Area, users
from ivr.campaigns.load import load_campaigns
from ivr.portal import store
from ivr.records import db
from ivr.records.listen import PgRelay, is_postgresql
from ivr.records.models import Call
from ivr.routing import RulesHolder
from ivr.services import Services

RULES = Path(__file__).resolve().parent / "rules"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 11:00 in Rome
PASSWORD = "correct horse battery"
B_MARK = "Bravosecret"  # in every one of B's values a page could show


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(BytesParser(policy=default).parsebytes(envelope.content))
        return "250 OK"


@dataclass
class World:
    area: Area
    services: Services
    server: TestServer
    now: list[datetime]
    ids: dict[str, Any] = field(default_factory=dict)
    relay: PgRelay | None = None

    def advance(self, **delta: float) -> None:
        self.now[0] += timedelta(**delta)

    async def browser(self) -> TestClient[Any, Any]:
        client = TestClient(self.server)
        await client.start_server()
        return client

    async def login(self, email: str, password: str = PASSWORD) -> TestClient[Any, Any]:
        client = await self.browser()
        response = await post_form(client, "/area/login", {"email": email, "password": password})
        assert response.status == 303, await response.text()
        return client


async def csrf(client: TestClient[Any, Any], path: str) -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None, path
    return found.group(1)


async def post_form(
    client: TestClient[Any, Any], path: str, data: dict[str, str], form_page: str = ""
) -> Any:
    """Post as a browser does: the CSRF token of the page the form is on."""
    token = await csrf(client, form_page or path)
    return await client.post(path, data={**data, "csrf": token}, allow_redirects=False)


def recording(settings: config.Settings, name: str) -> str:
    """A small WAV in the instance's messages folder; the path as Asterisk writes it."""
    as_path = settings.run_dir / "messages" / "acme" / f"{name}.wav"
    host = settings.host_path(as_path)
    host.parent.mkdir(parents=True, exist_ok=True)
    rate, samples = 8000, 8000
    data = b"\x00\x00" * samples
    header = (
        b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt "
        + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
        + rate.to_bytes(4, "little") + (rate * 2).to_bytes(4, "little")
        + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
        + b"data" + len(data).to_bytes(4, "little")
    )  # fmt: skip
    host.write_bytes(header + data)
    return str(as_path)


async def seed(world: World) -> None:
    s = world.services
    sessions = s.sessions
    rows = [
        # linkedid, client, caller, name, minutes ago, outcome, message path
        ("a.1", "acme", "0612000001", "Maria Rossi", 30, "answered", None),
        ("a.2", "acme", "0612000002", "Luca Verdi", 20, "message-left", "a2"),
        ("a.3", "acme", "", "", 60 * 26, "abandoned", None),
        ("a.evil", "acme", "0612000009", "Evil", 10, "message-left", "../../../etc/passwd"),
        ("b.1", "bravo", "0799000001", f"{B_MARK} Caller", 15, "message-left", "b1"),
        ("b.2", "bravo", "0799000002", f"{B_MARK} Two", 25, "answered", None),
    ]
    async with sessions.begin() as session:
        for linkedid, client, number, name, ago, outcome, path in rows:
            at = NOW - timedelta(minutes=ago)
            if path and "/" not in path:
                path = recording(s.settings, path)
            session.add(
                Call(
                    linkedid=linkedid,
                    client_id=client,
                    client_name=client,
                    caller_number=number,
                    caller_name=name,
                    arrived_at=at,
                    ended_at=at + timedelta(minutes=1),
                    answered_at=at if outcome == "answered" else None,
                    outcome=outcome,
                    message_path=path,
                    message_at=at if path else None,
                    updated_at=at,
                )
            )
    for linkedid, client, urgent, text in (
        ("a.1", "acme", True, "Leak in the kitchen = urgent"),
        ("b.2", "bravo", False, f"{B_MARK} message text"),
    ):
        await store.save_outcome(
            sessions,
            store.Outcome(
                linkedid, "op1", client, "Said Name" if client == "acme" else f"{B_MARK} Said",
                "0612000001", text, "callback", urgent, None, NOW,
            ),
        )  # fmt: skip
    for key, client, email, role in (
        ("a_admin", "acme", "admin@acme.example", "admin"),
        ("a_member", "acme", "member@acme.example", "member"),
        ("b_admin", "bravo", "admin@bravosecret.example", "admin"),
    ):
        user = await users.add_user(sessions, client, email, PASSWORD, NOW, role=role)
        world.ids[key] = user.id


async def make_world(
    tmp_path: Path,
    *,
    run: bool = True,
    db_url: str = "",
    seeded: bool = True,
    **extra: Any,
) -> tuple[World, Any]:
    """The area on a database of its own (or on db_url, shared with another world: a second
    engine). run=False: its notifier does not run by itself (a test calls its step() at the
    moments it chooses). On PostgreSQL the world hears the others' wake-ups (LISTEN)."""
    settings = config.load(
        environ={},
        instance="areatest",
        home=tmp_path,
        db_url=db_url or f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}",
        rules=RULES,
        asterisk_root=tmp_path,
        ami_secret="x",
        **extra,
    )
    await db.upgrade(settings.db_url)
    engine = db.make_engine(settings.db_url)
    now = [NOW]
    services = Services(
        settings=settings,
        rules=RulesHolder(RULES),
        sessions=db.session_factory(engine),
        clock=lambda: now[0],
    )
    relay = None
    if is_postgresql(settings.db_url):
        relay = PgRelay(settings.db_url, services.wake)
        await relay.start()
    area = Area(services)
    if run:
        await area.start()
    app = web.Application()
    app.add_subapp("/area", area.app())
    server = TestServer(app)
    await server.start_server()
    made = World(area, services, server, now, relay=relay)
    campaigns = load_campaigns(RULES, services.rules.current, settings)
    services.campaigns = lambda: campaigns  # as the engine's dialer gives them
    if seeded:
        await seed(made)
        from campaign_world import seed_campaigns

        await seed_campaigns(made)
    return made, engine


async def close_world(made: World, engine: Any) -> None:
    await made.area.close()
    if made.relay is not None:
        await made.relay.close()
    await made.server.close()
    await engine.dispose()
