"""The web apps driven from outside, through the real engine (`ivr serve` beside its Asterisk,
behind a trusted proxy at 127.0.0.1): forms take only their session's token and only from our
own origin, logins are throttled per user and address, a change of credentials ends the other
sessions, every answer carries the security headers, and showing a page changes nothing."""

from __future__ import annotations

import pyotp
import pytest
from web_rig import ADMIN, MEMBER, MESSAGE, OTHER, PASSWORD, Browser, fingerprint, web_stack

from ivr.area import users
from ivr.control import bearer
from ivr.harness.stack import Stack
from ivr.records import db

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["web_stack"]  # the module's stack (a fixture of web_rig)
Rig = tuple[Stack, dict[str, int]]


async def unread(stack: Stack) -> bool:
    browser = Browser(stack)
    assert await browser.area_login(ADMIN) == 303
    _, page, _ = await browser.get("/area/calls?unread=1")
    await browser.close()
    return f'data-linkedid="{MESSAGE}"' in page or f"/calls/{MESSAGE}" in page


# -- form tokens ---------------------------------------------------------------------------


async def test_a_planted_pre_login_cookie_opens_no_form(web_stack: Rig) -> None:
    stack, _ = web_stack
    victim = Browser(stack)
    assert await victim.area_login(MEMBER) == 303
    operator = Browser(stack)
    assert await operator.console_login(stack, "op1") == 303
    before = fingerprint(stack)
    for name in ("ivr_area_pre", "ivr_console_pre"):
        victim.plant(name, "x" * 32)
    status, _, _ = await victim.post(f"/area/calls/{MESSAGE}/read", {"read": "0"}, "x" * 32)
    assert status == 403
    status, _, _ = await victim.post(
        "/area/settings/override", {"kind": "away", "until": "2030-01-01T10:00"}, "x" * 32
    )
    assert status in (403, 404)  # a member has no settings page; an admin would get 403
    operator.plant("ivr_console_pre", "x" * 32)
    status, _, _ = await operator.post("/console/state", {"state": "pause"}, "x" * 32)
    assert status == 403
    assert fingerprint(stack) == before
    await victim.close()
    await operator.close()


async def test_the_login_forms_token_serves_the_login_form_only(web_stack: Rig) -> None:
    stack, _ = web_stack
    browser = Browser(stack)
    pre = await browser.token("/area/login")
    assert browser.cookie("ivr_area_pre") and browser.cookie("ivr_area_pre") != pre  # signed
    status, _, headers = await browser.post(
        "/area/login", {"email": MEMBER, "password": PASSWORD}, pre
    )
    assert status == 303
    assert "ivr_area_pre=;" in headers.get("Set-Cookie", "") or not browser.cookie("ivr_area_pre")
    session = await browser.token("/area/account")
    assert session != pre  # a new token at login
    assert (await browser.post("/area/logout-all", {}, pre))[0] == 403
    # Another browser's login token is no good here either: it is signed over its own cookie.
    other = Browser(stack)
    foreign = await other.token("/area/login")
    fresh = Browser(stack)
    await fresh.token("/area/login")
    status, _, _ = await fresh.post("/area/login", {"email": MEMBER, "password": PASSWORD}, foreign)
    assert status == 403
    for b in (browser, other, fresh):
        await b.close()


async def test_a_post_from_another_origin_is_refused_even_with_the_token(web_stack: Rig) -> None:
    stack, _ = web_stack
    browser = Browser(stack)
    assert await browser.area_login(MEMBER) == 303
    token = await browser.token(f"/area/calls/{MESSAGE}")
    before = fingerprint(stack)
    own = browser.base
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": own.replace("127.0.0.1", "localhost")},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": own},
    ):
        path = f"/area/calls/{MESSAGE}/handled"
        status, _, _ = await browser.post(path, {"handled": "1"}, token, headers=headers)
        assert status == 403, headers
    assert fingerprint(stack) == before
    status, _, _ = await browser.post(
        f"/area/calls/{MESSAGE}/handled",
        {"handled": "0", "note": ""},
        token,
        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
    )
    assert status == 303  # our own page's form
    await browser.close()


# -- throttling ----------------------------------------------------------------------------


async def test_logins_are_throttled_per_user_and_address(web_stack: Rig) -> None:
    stack, _ = web_stack
    sprayer = Browser(stack, client="203.0.113.9")
    for n in range(25):  # a password sprayed over many names from one address
        status, _, _ = await sprayer.post(
            "/area/login",
            {"email": f"guess{n}@acme.example", "password": "x"},
            form_page="/area/login",
        )
        assert status == 401
    colleague = Browser(stack, client="203.0.113.9")  # behind the same address
    assert await colleague.area_login(OTHER) == 303

    guesser = Browser(stack, client="203.0.113.7")
    for _ in range(5):
        assert await guesser.area_login(ADMIN, "wrong") == 401
    assert await guesser.area_login(ADMIN) == 429  # the right password, from there: held
    office = Browser(stack, client="203.0.113.8")
    assert await office.area_login(ADMIN) == 303  # the admin from elsewhere: not locked out

    # A peer that is not the trusted proxy does not choose its address by a header.
    outsider = Browser(stack, client="198.51.100.1", local="127.0.0.5")
    for n in range(5):
        outsider.headers["X-Forwarded-For"] = f"198.51.100.{n + 10}"
        assert await outsider.area_login(MEMBER, "wrong") == 401
    assert await outsider.area_login(MEMBER) == 429
    for b in (sprayer, colleague, guesser, office, outsider):
        await b.close()


async def test_forgot_password_is_limited_on_its_own_and_locks_nobody(web_stack: Rig) -> None:
    stack, _ = web_stack
    browser = Browser(stack, client="203.0.113.20")
    for _ in range(4):
        assert await browser.area_login(OTHER, "wrong") == 401
    for _ in range(3):
        status, _, _ = await browser.post("/area/forgot", {"email": OTHER})
        assert status == 200
    status, page, _ = await browser.post("/area/forgot", {"email": OTHER})
    assert status == 429 and ("Too many" in page or "Troppi" in page)
    assert await browser.area_login(OTHER) == 303  # asking for links counted as no failure
    await browser.close()


# -- a change of credentials ends the other sessions ---------------------------------------


async def test_a_password_change_ends_the_other_sessions_and_renews_this_one(
    web_stack: Rig,
) -> None:
    stack, _ = web_stack
    laptop, phone = Browser(stack), Browser(stack)
    assert await laptop.area_login(OTHER) == 303 and await phone.area_login(OTHER) == 303
    old_cookie, old_token = laptop.cookie("ivr_area"), await laptop.token("/area/account")
    status, _, _ = await laptop.post(
        "/area/account/password", {"current": PASSWORD, "password": PASSWORD + "!"}, old_token
    )
    assert status == 303
    assert (await phone.get("/area/calls"))[0] == 303  # the other browser is out
    assert laptop.cookie("ivr_area") not in ("", old_cookie)  # this one has a new session
    assert (await laptop.get("/area/calls"))[0] == 200
    assert (await laptop.post("/area/logout-all", {}, old_token))[0] == 403  # old token spent
    # And back, from the renewed session (the next test logs in with PASSWORD).
    status, _, _ = await laptop.post(
        "/area/account/password", {"current": PASSWORD + "!", "password": PASSWORD},
        form_page="/area/account",
    )  # fmt: skip
    assert status == 303
    await laptop.close()
    await phone.close()


async def test_a_second_factor_change_ends_the_other_sessions(web_stack: Rig) -> None:
    stack, ids = web_stack
    laptop, phone = Browser(stack), Browser(stack)
    assert await laptop.area_login(MEMBER) == 303 and await phone.area_login(MEMBER) == 303
    _, page, _ = await laptop.get("/area/account")
    engine = db.make_engine(stack.settings.db_url)
    secret = await users.totp_secret(db.session_factory(engine), ids[MEMBER])
    await engine.dispose()
    assert secret in page
    old = laptop.cookie("ivr_area")
    status, _, _ = await laptop.post(
        "/area/account/totp", {"code": pyotp.TOTP(secret).now()}, form_page="/area/account"
    )
    assert status == 303
    assert (await phone.get("/area/calls"))[0] == 303
    assert laptop.cookie("ivr_area") not in ("", old)
    status, _, _ = await laptop.post(
        "/area/account/totp/off", {"current": PASSWORD}, form_page="/area/account"
    )
    assert status == 303
    await laptop.close()
    await phone.close()


# -- headers -------------------------------------------------------------------------------


def assert_secure_headers(path: str, headers: object, *, static: bool = False) -> None:
    h = headers  # a CIMultiDictProxy
    assert h["X-Content-Type-Options"] == "nosniff", path  # type: ignore[index]
    csp = h["Content-Security-Policy"]  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp, path
    if not static:
        assert h["Cache-Control"] == "no-store", path  # type: ignore[index]


async def test_every_answer_carries_the_security_headers(web_stack: Rig) -> None:
    stack, _ = web_stack
    admin, operator = Browser(stack), Browser(stack)
    assert await admin.area_login(ADMIN) == 303
    assert await operator.console_login(stack, "op1") == 303
    for browser, path in (
        (admin, "/area/login"), (admin, "/area/calls"), (admin, f"/area/calls/{MESSAGE}"),
        (admin, "/area/calls.csv"), (admin, "/area/calls.xlsx"), (admin, "/area/billing"),
        (admin, "/area/billing/statement.csv"), (admin, "/area/billing/statement/print"),
        (admin, "/area/calls/nothing"), (admin, "/area/"), (operator, "/console/"),
        (operator, "/console/login"), (operator, "/console/panel"),
        (operator, "/console/supervisor"), (operator, "/console/campaigns"), (admin, "/metrics"),
        (admin, "/api/status"),
        (admin, "/nothing/here"),
    ):  # fmt: skip
        status, _, headers = await browser.get(path)
        assert status < 500, path
        assert_secure_headers(path, headers)
        assert "Strict-Transport-Security" not in headers  # plain HTTP: no HSTS
    status, _, headers = await admin.get("/area/static/area.css")
    assert status == 200
    assert_secure_headers("static", headers, static=True)
    await admin.close()
    await operator.close()


async def test_over_https_at_the_proxy_cookies_are_secure_and_hsts_is_sent(web_stack: Rig) -> None:
    stack, _ = web_stack
    tls = Browser(stack, client="203.0.113.30")
    tls.headers["X-Forwarded-Proto"] = "https"
    _, _, headers = await tls.get("/area/login")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in headers["Set-Cookie"]
    # The same headers from a peer that is not the proxy are not believed.
    forged = Browser(stack, local="127.0.0.5")
    forged.headers["X-Forwarded-Proto"] = "https"
    _, _, headers = await forged.get("/area/login")
    assert "Strict-Transport-Security" not in headers and "Secure" not in headers["Set-Cookie"]
    await tls.close()
    await forged.close()


# -- GET changes nothing -------------------------------------------------------------------


async def test_showing_a_message_does_not_mark_it_read(web_stack: Rig) -> None:
    stack, _ = web_stack
    assert await unread(stack)
    browser = Browser(stack)
    assert await browser.area_login(ADMIN) == 303
    before = fingerprint(stack)
    for _ in range(2):
        status, page, _ = await browser.get(f"/area/calls/{MESSAGE}")
        assert status == 200 and 'data-unread="yes"' in page
    assert fingerprint(stack) == before and await unread(stack)
    await browser.close()


# -- ids and dates -------------------------------------------------------------------------


async def test_odd_ids_and_months_are_not_found_never_a_500(web_stack: Rig) -> None:
    stack, _ = web_stack
    admin = Browser(stack)
    assert await admin.area_login(ADMIN) == 303
    huge = "99999999999999999999"
    for path in (
        "/area/billing?month=0001-01", "/area/billing/statement.csv?month=0001-01",
        "/area/billing?month=9999-12", f"/area/billing/recordings/{huge}",
        "/area/billing/results/A999999999999", f"/area/calls?before=2026-01-01T00:00|{huge}",
        "/area/calls?from=0001-01-01&to=9999-12-31", "/area/calls.csv?from=0001-01-01",
        f"/area/calls/{huge}", "/area/billing/recordings/-1", "/area/billing/recordings/1_0",
    ):  # fmt: skip
        status, _, _ = await admin.get(path)
        assert status in (200, 404), (path, status)
    status, _, _ = await admin.post(f"/area/team/{huge}/remove", {}, form_page="/area/team")
    assert status == 404
    await admin.close()


async def test_the_control_token_is_not_a_web_login(web_stack: Rig) -> None:
    stack, _ = web_stack
    browser = Browser(stack)
    browser.headers.update(bearer(stack.settings.control_token))
    status, _, _ = await browser.get("/area/calls")
    assert status == 303  # to the login page: the token opens the control API alone
    await browser.close()
