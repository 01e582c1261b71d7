"""The browser phones' SIP passwords: one per operator logged into the console, made at the
first request of the page and written into Asterisk's database (the sorcery auth object of
the operator's browser endpoint); replaced by one nobody knows when the operator has no
console login left (log out, log out everywhere, the login expired) and, for every operator,
when the engine starts (a previous run's passwords).

A password copied out of a page stops working with the login it was issued for.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from ivr.ami.client import AmiClient, AmiError
from ivr.asterisk.webrtc import AUTH_FAMILY, auth_value

log = logging.getLogger(__name__)


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

    async def revoke(self, operator: str) -> bool:
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
