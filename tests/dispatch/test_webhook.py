"""A message posted to the client's own system: to a local HTTPS receiver on 127.0.0.5 (the
one address the center's webhook_allow_addresses setting lets through), signed, with its
fields and an idempotency key; tried again after the receiver answers 500, never posted again
after a success, with two engines taking the same outbox; and refused, before any connection,
for 127.0.0.1, a private address and a name that resolves to one."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pg_server import new_database

from ivr import config
from ivr.dispatch import store, webhook
from ivr.dispatch.feature import Dispatcher
from ivr.dispatch.guard import GuardedResolver, Refused, allowed_addresses, check_url
from ivr.harness.ports import free_tcp_port
from ivr.portal import store as outcomes
from ivr.records import db, fields, repo
from ivr.routing import RulesHolder
from ivr.services import Services

RULES = Path(__file__).resolve().parents[1] / "e2e" / "scripts" / "rules"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
RECEIVER = "127.0.0.5"
SECRET = "s3cret-of-the-agency"
LINKEDID = "1700000000.0001"


@dataclass
class Receiver:
    """The client's system: answers each POST with the next status of `answers` (then 200)."""

    port: int
    cert: Path
    answers: list[int] = field(default_factory=list)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"https://{RECEIVER}:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((dict(request.headers), await request.read()))
        self.arrived.set()
        status = self.answers.pop(0) if self.answers else 200
        if status == 302:
            raise web.HTTPFound("/elsewhere")
        if request.path == "/big":
            return web.Response(text="x" * 1_000_000)
        return web.Response(status=status, text=f"answered {status}")


async def _certificate(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.5 (the receiver's), made by openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    proc = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={RECEIVER}", "-addext", f"subjectAltName=IP:{RECEIVER}",
        "-keyout", str(key), "-out", str(cert),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return cert


@pytest_asyncio.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[Receiver]:
    cert = await _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, tmp_path / "key.pem")
    found = Receiver(free_tcp_port(RECEIVER), cert)
    app = web.Application()
    app.router.add_post("/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, RECEIVER, found.port, ssl_context=context)
    await site.start()
    try:
        yield found
    finally:
        await runner.cleanup()


async def engines(
    tmp_path: Path, receiver: Receiver, allow: str, n: int = 2, url: str = ""
) -> list[Dispatcher]:
    """n engines' dispatchers on one database, driven by the test (not started)."""
    url = url or f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await db.upgrade(url)
    made = []
    for i in range(n):
        settings = config.load(
            environ={}, instance=f"hook{i}", home=tmp_path / f"e{i}", db_url=url, rules=RULES,
            asterisk_root=tmp_path, ami_secret="x", webhook_allow_addresses=allow,
            webhook_ca_file=str(receiver.cert), webhook_timeout=3.0,
        )  # fmt: skip
        services = Services(
            settings=settings,
            rules=RulesHolder(RULES),
            sessions=db.session_factory(db.make_engine(url)),
            clock=lambda: T0,
        )
        made.append(Dispatcher(services))
    return made


async def message(sessions: Any, url: str) -> None:
    """What the console leaves when a script's message is kept; the admin's webhook set."""
    await repo.open_call(
        sessions, linkedid=LINKEDID, channel="PJSIP/trunk-1", client_id="agenzia",
        client_name="Agenzia Casa", called="0611000041", caller_number="0612000100",
        caller_name="Mario", arrived_at=T0, route="operators",
    )  # fmt: skip
    answers = [
        fields.Answer("ref", "Riferimento immobile", "MI-1234", "MI-1234"),
        fields.Answer("want", "Acquisto o affitto", "rent", "Affitto"),
    ]
    async with sessions.begin() as session:
        await fields.replace_fields(session, LINKEDID, "agenzia", answers, T0)
    await outcomes.save_outcome(
        sessions,
        outcomes.Outcome(LINKEDID, "op1", "agenzia", "Mario Verdi", "0612000100", "",
                         "message", False, None, T0),
    )  # fmt: skip
    await store.set_hook(sessions, "agenzia", url, SECRET, "admin@agenzia.example", T0)


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    return await new_database(request.getfixturevalue("postgres_server"))


async def test_posted_signed_retried_after_a_500_and_never_twice(
    tmp_path: Path, receiver: Receiver, db_url: str
) -> None:
    a, b = await engines(tmp_path, receiver, allow=RECEIVER, url=db_url)
    sessions = a.services.sessions
    await message(sessions, receiver.url)
    receiver.answers = [500]
    await asyncio.gather(a.step(T0), b.step(T0))  # both engines at once
    assert len(receiver.seen) == 1  # one of them took the row
    later = T0 + timedelta(seconds=31)  # the outbox's first back-off is 30 s
    assert await a.step(T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=30)
    assert len(receiver.seen) == 1  # not due yet
    for moment in (later, later + timedelta(hours=2), later + timedelta(days=1)):
        await asyncio.gather(a.step(moment), b.step(moment))
    assert len(receiver.seen) == 2  # the retry, once; nothing after the success

    keys = {headers["Idempotency-Key"] for headers, _ in receiver.seen}
    assert keys == {f"agenzia:{LINKEDID}|message"}
    for headers, body in receiver.seen:
        assert webhook.verify(SECRET, headers["X-Ivr-Signature"], body)
        assert not webhook.verify("another secret", headers["X-Ivr-Signature"], body)
        assert headers["Content-Type"] == "application/json"
    sent = json.loads(receiver.seen[-1][1])
    assert sent["client"] == "agenzia" and sent["call"] == LINKEDID
    assert sent["caller_name"] == "Mario Verdi" and sent["urgent"] is False
    assert sent["fields"] == {
        "ref": {"label": "Riferimento immobile", "value": "MI-1234", "shown": "MI-1234"},
        "want": {"label": "Acquisto o affitto", "value": "rent", "shown": "Affitto"},
    }
    shown = await store.deliveries(sessions, "agenzia")  # what the admin sees, newest first
    assert [(d.attempt, d.status, d.error) for d in shown] == [
        (2, 200, None),
        (1, 500, "the receiver answered 500"),
    ]
    assert shown[0].answer == "answered 200"


async def test_a_redirect_is_not_followed_and_a_long_answer_is_cut(
    tmp_path: Path, receiver: Receiver
) -> None:
    [a] = await engines(tmp_path, receiver, allow=RECEIVER, n=1)
    await message(a.services.sessions, receiver.url)
    receiver.answers = [302]
    await a.step(T0)
    assert [h for h, _ in receiver.seen] and len(receiver.seen) == 1  # /elsewhere never asked
    [shown] = await store.deliveries(a.services.sessions, "agenzia")
    assert (shown.status, shown.error) == (302, "a redirect: not followed")
    await store.set_hook(a.services.sessions, "agenzia", receiver.url.replace("/hook", "/big"),
                         None, "admin", T0)  # fmt: skip
    await a.step(T0 + timedelta(seconds=31))
    newest = (await store.deliveries(a.services.sessions, "agenzia"))[0]
    assert newest.error is None and len(newest.answer) == store.ANSWER_KEPT


@pytest.mark.parametrize(
    "url, why",
    [
        ("https://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
        ("https://127.0.0.5:{port}/hook", "127.0.0.5 is a loopback address"),
        ("https://10.20.30.40/hook", "10.20.30.40 is a private address"),
        ("https://[::ffff:192.168.1.9]/hook", "192.168.1.9 is a private address"),
        ("https://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
        ("https://localhost:{port}/hook", "localhost resolves to"),
        ("http://127.0.0.5:{port}/hook", "127.0.0.5 is a loopback address"),
    ],
)
async def test_refused_without_the_center_allowing_it(
    tmp_path: Path, receiver: Receiver, url: str, why: str
) -> None:
    [a] = await engines(tmp_path, receiver, allow="", n=1)  # no address allowed
    await message(a.services.sessions, url.format(port=receiver.port))
    await a.step(T0)
    [shown] = await store.deliveries(a.services.sessions, "agenzia")
    assert shown.error is not None and shown.error.startswith("refused: ")
    assert why in shown.error
    assert receiver.seen == []  # nothing reached the receiver
    await a.step(T0 + timedelta(days=1))  # a refusal is final: not tried again
    assert len(await store.deliveries(a.services.sessions, "agenzia")) == 1


async def test_the_allowed_address_is_that_one_only() -> None:
    allowed = allowed_addresses(RECEIVER)
    own: frozenset[Any] = frozenset()
    assert check_url(f"https://{RECEIVER}:8443/x", allowed, own) == RECEIVER
    assert check_url(f"http://{RECEIVER}:8080/x", allowed, own) == RECEIVER  # allowed: http too
    for url, why in [
        ("https://127.0.0.1/x", "loopback"),
        ("http://93.184.216.34/x", "plain http only"),
        ("ftp://example.org/x", "https://"),
        ("https://user:pw@example.org/x", "no user name"),
    ]:
        with pytest.raises(Refused, match=why):
            check_url(url, allowed, own)
    with pytest.raises(Refused, match="93.184.216.34 is the center's own"):
        check_url("https://93.184.216.34/x", allowed, {*own, *allowed_addresses("93.184.216.34")})
    resolver = GuardedResolver(allowed, own, plain=False)
    with pytest.raises(Refused, match="localhost resolves to"):
        await resolver.resolve("localhost", 443)


def test_the_setting_takes_single_addresses_only() -> None:
    with pytest.raises(config.ConfigError, match="webhook_allow_addresses"):
        config.load(environ={}, webhook_allow_addresses="127.0.0.0/8")
    assert dataclasses.replace(config.Settings(), webhook_allow_addresses=RECEIVER)
