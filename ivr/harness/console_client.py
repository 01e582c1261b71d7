"""An operator at the console over HTTP, as a browser is: the login form with its CSRF
token, then forms posted with the session's. Used by the campaign demo, the dialer
benchmark and the tests."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aiohttp

from ivr.portal.auth import portal_password

if TYPE_CHECKING:
    from ivr.config import Settings

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    def __init__(self, settings: Settings, operator: str, http_port: int | None = None) -> None:
        self.settings = settings
        self.operator = operator
        self.base = f"http://{settings.bind}:{http_port or settings.ports.http}/console"
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def sign_in(self, password: str | None = None) -> tuple[int, str]:
        """The login form as a browser sends it; the answer's status and page."""
        async with self.http.get(f"{self.base}/login") as response:
            form = _CSRF.search(await response.text())
        if form is None:
            raise RuntimeError(f"no login form at {self.base}/login")
        if password is None:
            password = portal_password(self.settings, self.operator)
        data = {"user": self.operator, "csrf": form.group(1), "password": password}
        async with self.http.post(f"{self.base}/login", data=data) as response:
            return response.status, await response.text()

    async def login(self) -> str:
        """Logged in (the console's page), or RuntimeError."""
        status, page = await self.sign_in()
        found = _CSRF.search(page)
        async with self.http.get(f"{self.base}/panel", allow_redirects=False) as response:
            panel = response.status
        if status != 200 or found is None or panel != 200:
            raise RuntimeError(f"console login of {self.operator} failed: {status}/{panel}")
        self.csrf = found.group(1)
        return page

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(f"{self.base}{path}") as response:
            return response.status, await response.text()

    async def panel(self) -> str:
        status, page = await self.get("/panel")
        if status != 200:
            raise RuntimeError(f"the console's panel answered {status}")
        return page

    async def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        async with self.http.post(f"{self.base}{path}", data={"csrf": self.csrf, **data}) as r:
            return r.status, await r.text()

    async def state(self, wanted: str) -> None:
        status, page = await self.post("/state", {"state": wanted})
        if status != 200:
            raise RuntimeError(f"state {wanted}: {status} {page[-300:]}")

    async def logout(self) -> None:
        await self.post("/logout", {})

    async def close(self) -> None:
        await self.http.close()
