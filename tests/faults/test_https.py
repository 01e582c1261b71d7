"""HTTPS for real: Debian's nginx terminates TLS (certificates made by the test) in front of
the real engine, which trusts it as its proxy. Cookies are Secure, HSTS is sent, the control
API is not reachable through it, and Chromium logs in to the client area and opens a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect
from tls_rig import Certs, make_certs, nginx
from web_rig import ADMIN, MESSAGE, PASSWORD, seed, started

from ivr.harness.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
CHROMIUM = "/usr/bin/chromium"
HOST = "127.0.0.1"  # the certificate names it (and localhost)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Stack, Certs, str]]:
    folder = tmp_path_factory.mktemp("faults-https")
    stack = await started(folder)
    try:
        await seed(stack)
        certs = make_certs(folder / "certs", HOST)
        async with nginx(certs, stack.settings.ports.http, HOST) as port:
            yield stack, certs, f"https://{HOST}:{port}"
    finally:
        await stack.close()


async def test_over_https_cookies_are_secure_and_hsts_is_sent(
    tls: tuple[Stack, Certs, str],
) -> None:
    _, certs, base = tls
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(ssl=certs.context())
    async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
        for path in ("/area/login", "/console/login"):
            async with http.get(base + path) as answer:
                assert answer.status == 200
                assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
                assert "Secure" in answer.headers["Set-Cookie"], path
        async with http.get(base + "/area/login") as answer:
            token = (await answer.text()).split('name="csrf" value="', 1)[1].split('"', 1)[0]
        async with http.post(
            base + "/area/login",
            data={"email": ADMIN, "password": PASSWORD, "csrf": token},
            headers={"Origin": base},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303
            assert all("Secure" in c for c in answer.headers.getall("Set-Cookie"))
        for path in ("/api/status", "/metrics", "/campaigns/wake"):
            async with http.get(base + path) as answer:
                assert answer.status == 404, path  # not through the proxy


async def test_chromium_logs_in_and_opens_a_page_over_https(
    tls: tuple[Stack, Certs, str],
) -> None:
    _, certs, base = tls
    assert Path(CHROMIUM).exists(), "Debian chromium is required: apt-get install -y chromium"  # noqa: ASYNC240
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
            f"--ignore-certificate-errors-spki-list={certs.spki()}"]  # fmt: skip
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = await browser.new_context(locale="en-GB")
            context.set_default_timeout(30_000)
            page = await context.new_page()
            await page.goto(f"{base}/area/login")
            await page.fill("#email", ADMIN)
            await page.fill("#password", PASSWORD)
            await page.click("#login")
            await expect(page).to_have_url(f"{base}/area/calls", timeout=30_000)
            await page.goto(f"{base}/area/calls/{MESSAGE}")
            await expect(page.locator("#call")).to_be_visible()
            assert await page.evaluate("location.protocol") == "https:"
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["ivr_area"]["secure"] and cookies["ivr_area"]["httpOnly"]
        finally:
            await browser.close()
