"""Console sessions through aiohttp's test client: expiry on the server (idle and absolute),
logout everywhere, throttled logins, CSRF on every form, Secure cookies over HTTPS, the
console's own body limit, and the pause of an operator whose console is gone."""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr import config
from ivr.ami.message import Message
from ivr.portal import Portal, access, portal_password
from ivr.records import db
from ivr.routing import RulesHolder
from ivr.services import Services

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[1] / "e2e" / "queues" / "rules"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class FakeAmi:
    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        self.sent = asyncio.Event()

    async def send_action(self, fields: Any, timeout: float | None = None) -> Message:
        self.actions.append(dict(fields))
        self.sent.set()
        return Message([("Response", "Success")])

    async def send_action_list(self, fields: Any, timeout: float | None = None) -> list[Message]:
        return [Message([("Event", "QueueMember"), ("Name", "op1"), ("Paused", "0")])]

    def pauses(self) -> list[tuple[str, str]]:
        return [
            (a["Paused"], a.get("Reason", "")) for a in self.actions if a["Action"] == "QueuePause"
        ]

    async def wait_pause(self, reason: str) -> None:
        async with asyncio.timeout(20):
            while ("true", reason) not in self.pauses():
                self.sent.clear()
                await self.sent.wait()


@dataclass
class Desk:
    portal: Portal
    ami: FakeAmi
    services: Services
    server: TestServer
    now: list[datetime]

    def client(self) -> TestClient[Any, Any]:
        # each client its own cookie jar: its own browser; the console's words are English
        return TestClient(self.server, headers={"Accept-Language": "en"})

    def advance(self, **delta: float) -> None:
        self.now[0] += timedelta(**delta)


async def login(client: TestClient[Any, Any], user: str, password: str) -> Any:
    form = await client.get("/console/login")
    found = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert found is not None
    return await client.post(
        "/console/login",
        data={"user": user, "password": password, "csrf": found.group(1)},
        allow_redirects=False,
    )


async def logged_in(desk: Desk, user: str = "op1") -> TestClient[Any, Any]:
    client = desk.client()
    await client.start_server()
    response = await login(client, user, portal_password(desk.services.settings, user))
    assert response.status == 303, await response.text()
    return client


async def csrf_of(client: TestClient[Any, Any]) -> str:
    page = await client.get("/console/")
    found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert found is not None
    return found.group(1)


async def make_desk(tmp_path: Path, **extra: Any) -> tuple[Desk, Any]:
    settings = config.load(
        environ={},
        instance="sessions",
        home=tmp_path,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}",
        rules=RULES,
        asterisk_root=tmp_path,
        ami_secret="x",
        **extra,
    )
    await db.upgrade(settings.db_url)
    engine = db.make_engine(settings.db_url)
    now = [T0]
    ami = FakeAmi()
    services = Services(
        settings=settings,
        rules=RulesHolder(RULES),
        sessions=db.session_factory(engine),
        clock=lambda: now[0],
        ami=ami,  # type: ignore[arg-type]
    )
    portal = Portal(services)
    app = web.Application()
    app.add_subapp("/console", portal.app())
    return Desk(portal, ami, services, TestServer(app), now), engine


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    made, engine = await make_desk(tmp_path, console_gone_seconds=0.3)
    await made.server.start_server()
    try:
        yield made
    finally:
        await made.portal.close()
        await made.server.close()
        await engine.dispose()


async def test_a_session_ends_on_the_server_when_left_idle(desk: Desk) -> None:
    client = await logged_in(desk)
    desk.advance(minutes=29)
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    desk.advance(minutes=29)  # 29 minutes since the last use: still alive
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    desk.advance(minutes=31)
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/console/login"
    await client.close()


async def test_a_session_ends_after_its_absolute_lifetime_however_used(desk: Desk) -> None:
    client = await logged_in(desk)
    for _ in range(35):  # 11 h 40 min of steady use
        desk.advance(minutes=20)
        assert (await client.get("/console/", allow_redirects=False)).status == 200
    desk.advance(minutes=21)  # 12 h 1 min after the login
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    await client.close()


async def test_log_out_everywhere_ends_every_browser_and_pauses(desk: Desk) -> None:
    desk_pc, laptop = await logged_in(desk), await logged_in(desk)
    assert (await laptop.get("/console/", allow_redirects=False)).status == 200
    response = await desk_pc.post(
        "/console/logout-all", data={"csrf": await csrf_of(desk_pc)}, allow_redirects=False
    )
    assert response.status == 303
    assert (await laptop.get("/console/", allow_redirects=False)).status == 303
    assert (await desk_pc.get("/console/", allow_redirects=False)).status == 303
    assert ("true", "logged out") in desk.ami.pauses()
    await desk_pc.close()
    await laptop.close()


async def test_logins_are_throttled_per_user_with_a_clear_message(desk: Desk) -> None:
    client = desk.client()
    await client.start_server()
    for _ in range(5):
        assert (await login(client, "op1", "wrong")).status == 401
    right = portal_password(desk.services.settings, "op1")
    refused = await login(client, "op1", right)  # the right password, too late
    assert refused.status == 429
    assert "Too many failed logins: try again in 15 minutes." in await refused.text()
    assert (await login(client, "op3", portal_password(desk.services.settings, "op3"))).status == (
        303
    )  # another user from the same address is not held back by op1's failures
    desk.advance(minutes=15, seconds=1)
    assert (await login(client, "op1", right)).status == 303
    await client.close()


async def test_a_sprayed_address_locks_out_nobody_else(desk: Desk) -> None:
    client = desk.client()
    await client.start_server()
    for n in range(20):  # a password sprayed over many names from one address
        assert (await login(client, f"guess{n}", "wrong")).status == 401
    right = portal_password(desk.services.settings, "op1")
    assert (await login(client, "op1", right)).status == 303  # op1 is not held back
    italian = desk.client()
    italian._session.headers["Accept-Language"] = "it-IT,it;q=0.9"
    await italian.start_server()
    for _ in range(5):
        await login(italian, "op3", "x")
    refused = await login(italian, "op3", "x")
    assert "Troppi accessi non riusciti: riprovare tra 15 minuti." in await refused.text()
    await italian.close()
    await client.close()


async def test_every_form_needs_its_csrf_token(desk: Desk) -> None:
    client = await logged_in(desk)
    posts = {
        route.resource.canonical
        for route in desk.portal.app().router.routes()
        if route.method == "POST" and route.resource is not None
    }
    assert posts >= {"/login", "/logout", "/logout-all", "/state", "/outcome"}
    for path in sorted(posts):
        response = await client.post(
            f"/console{path}", data={"state": "pause", "user": "op1"}, allow_redirects=False
        )
        assert response.status == 403, path
        assert "This form has expired" in await response.text()
        forged = await client.post(
            f"/console{path}", data={"csrf": "forged-token-of-another-page"}, allow_redirects=False
        )
        assert forged.status == 403, path
    assert desk.ami.pauses() == []  # nothing was done
    await client.close()


async def test_the_console_body_limit_is_its_own(desk: Desk) -> None:
    client = await logged_in(desk)
    big = "x" * (100 * 1024)  # under the engine's 1 MiB, over the console's 64 KiB
    response = await client.post("/console/outcome", data={"csrf": "x", "message": big})
    assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it is read
        for _ in range(100):
            yield b"message=" + b"x" * 1024 + b"&"

    response = await client.post(
        "/console/outcome",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413
    await client.close()


def self_signed(folder: Path) -> ssl.SSLContext:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def cookie_flags(response: Any, name: str) -> str:
    return next(v for v in response.headers.getall("Set-Cookie") if v.startswith(name + "="))


async def test_cookies_are_secure_over_https(tmp_path: Path) -> None:
    made, engine = await make_desk(tmp_path)
    server = TestServer(made.server.app, scheme="https")
    await server.start_server(ssl=self_signed(tmp_path))
    client = TestClient(server)
    try:
        no_check = ssl.create_default_context()
        no_check.check_hostname = False
        no_check.verify_mode = ssl.CERT_NONE
        form = await client.get("/console/login", ssl=no_check)
        assert form.url.scheme == "https"
        assert "Secure" in cookie_flags(form, "ivr_console_pre")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert csrf is not None
        password = portal_password(made.services.settings, "op1")
        response = await client.post(
            "/console/login",
            data={"user": "op1", "password": password, "csrf": csrf.group(1)},
            allow_redirects=False,
            ssl=no_check,
        )
        assert response.status == 303
        flags = cookie_flags(response, "ivr_console")
        assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Strict" in flags
    finally:
        await client.close()
        await made.portal.close()
        await engine.dispose()


async def test_cookies_over_plain_http_unless_set_always(tmp_path: Path) -> None:
    for setting, secure in (("auto", False), ("always", True)):
        made, engine = await make_desk(tmp_path / setting, web_secure_cookies=setting)
        client = TestClient(made.server)
        await client.start_server()
        try:
            form = await client.get("/console/login")
            assert ("Secure" in cookie_flags(form, "ivr_console_pre")) is secure
        finally:
            await client.close()
            await made.portal.close()
            await engine.dispose()


async def test_an_operator_whose_console_is_gone_is_paused(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "KEEPALIVE_SECONDS", 0.1)
    client = await logged_in(desk)
    stream = await client.get("/console/events")
    assert (await stream.content.readuntil(b"\n\n")).startswith(b"event: call")
    assert "op1" not in desk.portal._gone  # the console is open: no clock runs
    assert ("true", access.GONE_REASON) not in desk.ami.pauses()
    stream.close()  # the page is closed
    await desk.ami.wait_pause(access.GONE_REASON)
    assert desk.portal.board.live("op1").wants_available is False
    await client.close()


async def test_an_operator_who_never_opens_the_console_is_paused(desk: Desk) -> None:
    client = await logged_in(desk)  # a login by a script, say, and no page ever shown
    await desk.ami.wait_pause(access.GONE_REASON)
    await client.close()
