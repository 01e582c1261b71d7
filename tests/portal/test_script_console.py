"""A client's script on the console through aiohttp's test client: the steps shown in turn,
answers checked when a step is sent, the branch taken, going back, and the message kept with
its fields (not folded into its text)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_console import FakeAmi

from ivr import config
from ivr.ami.message import Message
from ivr.oncall.console import OnCallDesk
from ivr.portal import Portal, portal_password, store
from ivr.records import db, fields, repo
from ivr.routing import RulesHolder
from ivr.routing.oncall import on_duty
from ivr.scripts.feature import ScriptDesk
from ivr.services import Services

RULES = Path(__file__).resolve().parents[1] / "e2e" / "scripts" / "rules"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LINKEDID = "1700000000.0001"


@dataclass
class Desk:
    client: TestClient[Any, Any]
    portal: Portal
    services: Services
    put_throughs: list[tuple[str, str, str]]

    async def page(self, path: str = "/console/") -> str:
        response = await self.client.get(path)
        assert response.status == 200
        return await response.text()

    async def send(self, step: str, go: str = "next", **answers: str) -> str:
        page = await self.page()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        data = {"csrf": csrf[1], "linkedid": LINKEDID, "step": step, "go": go}
        data.update({f"f-{k}": v for k, v in answers.items()})
        response = await self.client.post("/console/script", data=data)
        assert response.status == 200, await response.text()
        return html.unescape(await response.text())

    @staticmethod
    def step(page: str) -> str:
        found = re.search(r'id="script" data-step="([^"]+)"', page)
        return found[1] if found else ""


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    settings = config.load(
        environ={}, instance="scripttest", home=tmp_path,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}", rules=RULES,
        asterisk_root=tmp_path, ami_secret="x",
    )  # fmt: skip
    await db.upgrade(settings.db_url)
    engine = db.make_engine(settings.db_url)
    services = Services(
        settings=settings,
        rules=RulesHolder(RULES),
        sessions=db.session_factory(engine),
        clock=lambda: T0,
        ami=FakeAmi(),  # type: ignore[arg-type]
    )
    portal = Portal(services)
    asked: list[tuple[str, str, str]] = []

    async def put_through(operator: str, person: str, mode: str, **_: str) -> str | None:
        asked.append((operator, person, mode))
        return None

    ScriptDesk(services, portal, put_through)
    OnCallDesk(services, portal)
    app = web.Application()
    app.add_subapp("/console", portal.app())
    client = TestClient(TestServer(app), headers={"Accept-Language": "en"})
    await client.start_server()
    try:
        desk = Desk(client, portal, services, asked)
        form = await client.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert csrf is not None
        secret = portal_password(settings, "op1")
        login = {"user": "op1", "password": secret, "csrf": csrf[1]}
        response = await client.post("/console/login", data=login, allow_redirects=False)
        assert response.status == 303
        await repo.open_call(
            services.sessions, linkedid=LINKEDID, channel="PJSIP/trunk-1", client_id="agenzia",
            client_name="Agenzia Casa", called="0611000041", caller_number="0612000100",
            caller_name="", arrived_at=T0, route="operators",
        )  # fmt: skip
        channel = "PJSIP/op1-00000001"
        for event in ("DialBegin", "DialEnd"):
            await portal.on_event(
                Message([("Event", event), ("Linkedid", LINKEDID), ("DestChannel", channel),
                         ("DialStatus", "ANSWER")])
            )  # fmt: skip
        yield desk
    finally:
        await client.close()
        await engine.dispose()


async def test_the_card_runs_the_script_in_place_of_the_message_form(desk: Desk) -> None:
    page = html.unescape(await desk.page())
    assert desk.step(page) == "who" and 'id="outcome"' not in page
    assert "Agenzia Casa, buongiorno, sono Anna. Con chi parlo?" in page
    assert 'value="0612000100"' in page  # the caller's number, to start from

    page = await desk.send("who", caller_name="", callback="06-abc")
    assert desk.step(page) == "who"
    assert 'data-field="caller_name">Nome is required.' in page
    assert 'data-field="callback">Numero da richiamare: digits only' in page

    page = await desk.send("who", caller_name="Mario Verdi", callback="06 1200 0100")
    assert desk.step(page) == "property"
    assert "Quale immobile le interessa, Mario Verdi?" in page
    assert 'pattern="^MI-[0-9]{4}$"' in page

    page = await desk.send("property", ref="MI-12", want="buy")
    assert "Riferimento immobile is not in the expected form. MI- e quattro cifre" in page
    page = await desk.send("property", ref="MI-1234", want="buy")
    assert desk.step(page) == "buy" and "Che budget ha per MI-1234?" in page

    page = await desk.send("buy", go="back", budget="", email="")  # the other way after all
    assert desk.step(page) == "property"
    page = await desk.send("property", ref="MI-1234", want="rent")
    assert desk.step(page) == "rent"
    page = await desk.send("rent", visit="no")
    assert 'id="saved"' in page

    kept = await fields.fields_for(desk.services.sessions, [LINKEDID])
    assert [(a.field, a.value, a.shown) for a in kept[LINKEDID]] == [
        ("caller_name", "Mario Verdi", "Mario Verdi"),
        ("callback", "06 1200 0100", "06 1200 0100"),
        ("ref", "MI-1234", "MI-1234"),
        ("want", "rent", "Affitto"),
        ("visit", "no", "no"),
    ]  # the budget of the way left is not kept
    outcome = await store.get_outcome(desk.services.sessions, LINKEDID)
    assert outcome is not None
    assert (outcome.caller_name, outcome.callback, outcome.urgent) == (
        "Mario Verdi",
        "0612000100",
        False,
    )
    assert desk.put_throughs == []
    page = html.unescape(await desk.page())  # still on the call: the answers are shown
    assert 'data-done="yes"' in page and 'data-field="want">Affitto' in page


async def test_an_end_puts_the_caller_through(desk: Desk) -> None:
    await desk.send("who", caller_name="Mario Verdi", callback="0612000100")
    await desk.send("property", ref="MI-1234", want="rent")
    page = await desk.send("rent", visit="yes")
    assert 'id="saved"' in page
    assert desk.put_throughs == [("op1", "gina", "announced")]


async def test_the_card_says_who_is_on_call_and_an_end_puts_the_caller_through_to_them(
    desk: Desk,
) -> None:
    client = desk.services.rules.current.clients["agenzia"]
    assert client.on_call is not None
    duty = on_duty(client.on_call, T0)  # the moment the test's clock says, from the rules
    assert duty is not None and duty.until is not None
    page = html.unescape(await desk.page())
    name = client.people[duty.person].name
    until = duty.until.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M")
    assert f'id="on-call" data-person="{duty.person}">On call now: <strong>{name}</strong>' in page
    assert until in page.split('id="on-call"', 1)[1].split("</p>", 1)[0]
    await desk.send("who", caller_name="Mario Verdi", callback="0612000100")
    await desk.send("property", ref="MI-1234", want="buy")
    page = await desk.send("buy", budget="250000", email="", agent_now="yes")
    assert 'id="saved"' in page
    assert desk.put_throughs == [("op1", duty.person, "announced")]


async def test_the_console_is_italian_by_default(desk: Desk) -> None:
    desk.client.session.headers.pop("Accept-Language", None)
    page = html.unescape(await desk.send("who", caller_name="", callback="0612000100"))
    assert "Copione, passo 1" in page and "Nome è obbligatorio" in page.replace("*", "")


async def test_the_card_says_what_the_clients_admin_last_wrote(desk: Desk) -> None:
    from ivr.selfservice.store import save

    text = "Agenzia Casa, sono {operator}: come la posso aiutare?"
    await save(desk.services.sessions, "agenzia", "script", "", {"say": {"who": text}},
               "admin@agenzia.example", T0)  # fmt: skip
    page = html.unescape(await desk.page())
    assert "Agenzia Casa, sono Anna: come la posso aiutare?" in page
