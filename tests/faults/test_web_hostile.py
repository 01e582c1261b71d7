"""Every route of the engine's web apps walked with hostile parameters, through the real
engine: oversized and negative numbers, far and impossible dates, odd encodings, missing and
repeated fields. Nothing answers 500, and nothing changes without a form token: not a page
shown (GET), not a form posted without its token. With the token, nothing answers 500 either.

Hypothesis draws the requests (in a thread of its own); each is sent on the test's loop."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_rig import ADMIN, RULES, Browser, fingerprint, web_stack

from ivr import config
from ivr.control import control_app
from ivr.engine import Engine
from ivr.features import build
from ivr.harness.stack import Stack
from ivr.records import db
from ivr.routing import RulesHolder
from ivr.services import Services

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["web_stack"]
Rig = tuple[Stack, dict[str, int]]
# Ending the session would only make the next requests anonymous: left to their own tests.
ENDS_SESSION = ("/logout", "/logout-all")
SAMPLES = 200

HOSTILE = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(
        [
            "99999999999999999999",
            "9" * 400,
            "-1",
            "0",
            "1_0",
            "١٢",
            "0x10",
            "1e999",
            "NaN",
            "0001-01",
            "9999-12",
            "0000-00",
            "2026-13",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-11-26T25:61",
            "10000-01-01",
            "-2026-01-01",
            "%00",
            "%zz",
            "%ff%fe",
            "..%2f..%2f",
            "../../etc/passwd",
            "\u202e",
            "\x00",
            "A99999999999999999999",
            "P1",
            "|",
            "a|b|c",
            "2026-01-01T00:00|99999999999999999999",
            '=HYPERLINK("x")',
            "<script>",
            "' OR 1=1--",
            "",
            " ",
            "\r\nX-Injected: 1",
        ]
    ),  # fmt: skip
    st.text(max_size=40),
)
FIELDS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "month",
                "from",
                "to",
                "before",
                "id",
                "attempt",
                "user",
                "email",
                "password",
                "again",
                "current",
                "code",
                "lang",
                "state",
                "reason",
                "note",
                "read",
                "handled",
                "kind",
                "until",
                "language",
                "notify",
                "digest_at",
                "role",
                "presence",
                "outcome",
                "text",
                "urgent",
                "linkedid",
                "part",
                "unread",
                "q",
                "outcome_id",
                "paid",
                "amount",
            ]
        ),  # fmt: skip
        HOSTILE,
    ),
    max_size=8,
)  # repeated and missing fields alike


def served(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route of an app and of its sub-apps, at any depth (a sub-app's
    resources carry its prefix once it is added)."""
    found: set[tuple[str, str]] = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            found |= served(resource._app)  # noqa: SLF001
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS"):
                found.add((route.method, resource.canonical))
    return found


def routes() -> list[tuple[str, str]]:
    """(method, path) of every route the engine serves: its control app, as the engine
    builds it, walked with every feature's sub-app in it."""
    with tempfile.TemporaryDirectory(prefix="ivr-routes-") as folder:
        tmp = Path(folder)
        settings = config.load(
            environ={}, instance="routes", home=tmp, db_url=f"sqlite+aiosqlite:///{tmp}/r.db",
            rules=RULES, asterisk_root=tmp, ami_secret="x",
        )  # fmt: skip
        engine = Engine(settings)
        db_engine = db.make_engine(settings.db_url)
        engine.services = Services(
            settings=settings, rules=RulesHolder(RULES), sessions=db.session_factory(db_engine)
        )
        engine.features = build(engine.services)
        found = served(control_app(engine))
        asyncio.run(db_engine.dispose())
    unknown = {method for method, _ in found} - {"GET", "POST"}
    assert not unknown, f"the walk sends GET and POST only: {unknown}"
    return sorted(found)


def fill(path: str, values: list[str]) -> str:
    """The path with each {parameter} replaced by a hostile value (percent-encoded, so an
    odd encoding like %zz arrives as sent)."""
    out, rest = "", path
    for value in values:
        if "{" not in rest:
            break
        head, _, tail = rest.partition("{")
        _, _, rest = tail.partition("}")
        out += head + (quote(value, safe="%") or "x")
    return out + rest.split("{")[0]


ROUTES = routes()


async def test_the_walk_covers_the_apps() -> None:
    paths = {path for _, path in ROUTES}
    assert {"/area/calls/{linkedid}", "/area/billing", "/area/team/{user_id}/remove",
            "/console/state", "/campaigns/wake", "/api/reload", "/api/wake/{name}",
            "/console/putthrough", "/console/hold", "/console/search", "/console/phone",
            "/console/static"} <= paths  # fmt: skip
    assert len(ROUTES) > 60


async def test_hostile_requests_never_answer_500_nor_change_anything_without_a_token(
    web_stack: Rig,
) -> None:
    stack, _ = web_stack
    loop = asyncio.get_running_loop()
    admin, operator = Browser(stack), Browser(stack)
    assert await admin.area_login(ADMIN) == 303
    assert await operator.console_login(stack, "op1") == 303
    tokens = {
        "/area": await admin.token("/area/account"),
        "/console": await operator.token("/console/"),
    }
    seen: list[tuple[str, str, int]] = []

    async def send(method: str, path: str, query: list[tuple[str, str]],
                   form: list[tuple[str, str]], with_token: bool) -> int:  # fmt: skip
        browser = operator if path.startswith("/console") else admin
        prefix = "/console" if path.startswith("/console") else "/area"
        url = browser.base + path
        if method == "GET":
            async with browser.http.get(url, params=query, allow_redirects=False) as answer:
                return answer.status
        data = list(form) + ([("csrf", tokens[prefix])] if with_token else [])
        async with browser.http.post(url, params=query, data=data, allow_redirects=False) as answer:
            return answer.status

    @settings(max_examples=SAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(
        route=st.sampled_from(ROUTES),
        values=st.lists(HOSTILE, min_size=3, max_size=3),
        query=FIELDS,
        form=FIELDS,
    )
    def walk(route: tuple[str, str], values: list[str], query: Any, form: Any) -> None:
        method, template = route
        path = fill(template, values)
        before = fingerprint(stack)
        status = asyncio.run_coroutine_threadsafe(
            send(method, path, query, form, False), loop
        ).result(60)
        seen.append((method, path, status))
        assert status < 500, (method, path, query, form, status)
        assert fingerprint(stack) == before, (method, path, query, form)  # no token: no change
        if method == "POST" and not template.endswith(ENDS_SESSION):
            status = asyncio.run_coroutine_threadsafe(
                send(method, path, query, form, True), loop
            ).result(60)
            assert status < 500, ("with token", method, path, query, form, status)

    await asyncio.to_thread(walk)
    assert len(seen) >= SAMPLES
    assert any(status == 403 for method, _, status in seen if method == "POST")
    await admin.close()
    await operator.close()


# Pages served before a login: every other route shows an outsider nothing.
PUBLIC = ("/area/login", "/area/forgot", "/area/reset/{token}", "/area/totp", "/console/login",
          "/area/static", "/console/static")  # fmt: skip


async def test_every_route_as_an_outsider_a_forged_session_and_without_a_token(
    web_stack: Rig,
) -> None:
    """Each route once (the sampled walk may miss one): an outsider and a browser with forged
    session cookies get nothing but the login pages and change nothing; a logged-in browser's
    form without its token is refused."""
    stack, _ = web_stack
    outsider, forged = Browser(stack), Browser(stack)
    for name in ("ivr_area", "ivr_console"):
        forged.plant(name, "f" * 43)
    admin, operator = Browser(stack), Browser(stack)
    assert await admin.area_login(ADMIN) == 303
    assert await operator.console_login(stack, "op1") == 303
    before = fingerprint(stack)
    wrong = []
    for method, template in ROUTES:
        path = fill(template, ["1", "1", "1"])
        own = operator if path.startswith("/console") else admin
        for who, browser in (("outsider", outsider), ("forged", forged), ("no token", own)):
            if method == "GET" and who == "no token":
                continue  # a page shown to its own user: the sampled walk's part
            if method == "GET":
                status, _, _ = await browser.get(path)
            else:
                status, _, _ = await browser.post(path, {}, None)
            shown = status == 200 and template not in PUBLIC
            if status >= 500 or shown or (method == "POST" and status < 400):
                wrong.append((who, method, path, status))
    assert not wrong, wrong
    assert fingerprint(stack) == before
    for browser in (outsider, forged, admin, operator):
        await browser.close()
