"""The browser phones' SIP passwords: one per operator logged into the console, made at the
first request of the page and written into Asterisk's database (the sorcery auth object of
the operator's browser endpoint); replaced by one nobody knows when the operator has no
console login left (log out, log out everywhere, the login expired) and, for every operator,
when the engine starts (a previous run's passwords).

A password copied out of a page stops working with the login it was issued for.

In a cluster the browsers register with the cluster's proxy, which keeps their passwords
(ProxyCredentials): every node reaches the browser through it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import aiohttp

from ivr.ami.client import AmiClient, AmiError
from ivr.asterisk.webrtc import AUTH_FAMILY, auth_value

log = logging.getLogger(__name__)

PROXY_TIMEOUT = 5.0  # seconds for one request to the cluster's proxy


class ProxyError(Exception):
    """The cluster's proxy did not answer, or refused."""


@dataclass(frozen=True)
class Credential:
    user: str  # the browser endpoint, its auth's user name
    password: str


class Credentials:
    def __init__(self, ami: AmiClient) -> None:
        self.ami = ami
        self.issued: dict[str, Credential] = {}  # operator -> their browser's credential

    async def lock(self, user: str) -> None:
        """Give the browser endpoint a password nobody is told: its REGISTER and INVITE are
        challenged and refused (401), as for a wrong password (with no auth object at all
        Asterisk would answer 500)."""
        await self._put(user, secrets.token_urlsafe(32))

    async def _put(self, user: str, password: str) -> None:
        await self.ami.send_action(
            [
                ("Action", "DBPut"),
                ("Family", AUTH_FAMILY),
                ("Key", user),
                ("Val", auth_value(user, password)),
            ]
        )

    async def issue(self, operator: str, user: str) -> Credential:
        """The operator's credential, made (and written into Asterisk) if they have none."""
        found = self.issued.get(operator)
        if found is not None:
            return found
        credential = Credential(user, secrets.token_urlsafe(24))
        await self._put(user, credential.password)
        self.issued[operator] = credential
        log.info("browser phone credential issued to %s", operator)
        return credential

    async def revoke(self, operator: str, user: str | None = None) -> bool:
        """Delete the operator's credential; was there one?"""
        credential = self.issued.pop(operator, None)
        if credential is None:
            return False
        try:
            await self.lock(credential.user)
        except (AmiError, TimeoutError) as exc:
            log.warning("browser phone credential of %s not deleted: %s", operator, exc)
            self.issued[operator] = credential  # the sweep tries again
            return False
        log.info("browser phone credential of %s revoked", operator)
        return True


class ProxyCredentials:
    """The browser phones' passwords in a cluster: kept by the cluster's proxy (Kamailio),
    where the browsers register and through which every node reaches them. One password per
    operator for the whole cluster, whichever engine serves the console: an engine asks the
    proxy for the operator's before it makes one, sets it again while the login lives (the
    proxy forgets a password nobody sets again), and any engine deletes it at logout.

    The proxy takes these requests from the engines' addresses with the engines' token
    (plain HTTP on the proxy's WebSocket port: loopback or the center's private network).
    """

    def __init__(self, phone_proxy: str, token: str) -> None:
        self.base = f"http://{phone_proxy.removeprefix('ws://')}/phones/"
        self.token = token
        self.issued: dict[str, Credential] = {}  # operators whose password this engine keeps

    async def _ask(self, method: str, user: str, body: str = "") -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=PROXY_TIMEOUT)
        headers = {"X-Ivr-Token": self.token, "Content-Type": "text/plain"}
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.request(method, self.base + user, data=body, headers=headers) as reply,
            ):
                return reply.status, (await reply.text()).strip()
        except aiohttp.ClientError as exc:
            raise ProxyError(f"the cluster's proxy: {exc}") from exc

    async def _found(self, user: str) -> str | None:
        status, text = await self._ask("GET", user)
        if status == 404:
            return None
        if status != 200:
            raise ProxyError(f"the cluster's proxy answered {status} for {user}")
        return text

    async def _put(self, user: str, password: str) -> None:
        status, text = await self._ask("PUT", user, password)
        if status != 200:
            raise ProxyError(f"the cluster's proxy refused {user}'s password: {status} {text}")

    async def issue(self, operator: str, user: str) -> Credential:
        """The operator's password at the proxy (another engine's, for the same login's
        operator), or a new one."""
        found = await self._found(user)
        if found is None:
            found = secrets.token_urlsafe(24)
            await self._put(user, found)
            log.info("browser phone credential issued to %s at the cluster's proxy", operator)
        credential = Credential(user, found)
        self.issued[operator] = credential
        return credential

    async def adopt(self, operator: str, user: str) -> bool:
        """Does the proxy hold the operator's password? Kept alive by this engine from now
        on (the engine that issued it may be gone: its console moved here)."""
        found = await self._found(user)
        if found is None:
            self.issued.pop(operator, None)
            return False
        self.issued[operator] = Credential(user, found)
        return True

    async def renew(self) -> None:
        """Set each password kept here again, if the proxy still holds it unchanged (one
        deleted by another engine at logout stays deleted)."""
        for operator, credential in list(self.issued.items()):
            if await self._found(credential.user) == credential.password:
                await self._put(credential.user, credential.password)
            else:
                self.issued.pop(operator, None)

    async def revoke(self, operator: str, user: str | None = None) -> bool:
        """Delete the operator's password at the proxy (and their registration with it),
        whichever engine issued it."""
        credential = self.issued.pop(operator, None)
        user = user or (credential.user if credential else None)
        if user is None:
            return False
        try:
            status, text = await self._ask("DELETE", user)
        except (ProxyError, TimeoutError) as exc:
            log.warning("browser phone credential of %s not deleted: %s", operator, exc)
            if credential is not None:
                self.issued[operator] = credential  # the sweep tries again
            return False
        if status != 200:
            log.warning("browser phone credential of %s: the proxy answered %s", operator, status)
            return False
        log.info("browser phone credential of %s revoked at the cluster's proxy", operator)
        return True
