"""The HA database's passwords and TLS: a floor, not a setting.

Every part of [cluster.database] is made with `--auth scram-sha-256` and TLS
(`--ssl-self-signed`); `trust` is left only to a formation whose every address is loopback,
and only when asked for (check_auth, run where the parts are made). Three users have
passwords (Passwords): the engines' own, pg_autoctl's on the monitor, the standby's on the
primary. None is ever on a command line: pg_autoctl, pg_basebackup and the walreceiver read
them from libpq's password file (pgpass_text), the roles are given SCRAM verifiers
(scram_verifier) through PostgreSQL's single-user mode, and initdb's `trust` lines leave
pg_hba.conf (harden_hba).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from pathlib import Path

from ivr import config
from ivr.config import ConfigError

MONITOR_DB = "pg_auto_failover"
MONITOR_USER = "autoctl_node"  # pg_autoctl's user on the monitor
REPLICATION_USER = "pgautofailover_replicator"  # the standby's user on the primary
# How the parts authenticate. "scram-sha-256" (passwords, and TLS) is the default and the only
# choice once an address is not loopback; "trust" is a developer's single host, asked for.
AUTH = ("scram-sha-256", "trust")
# Where each password comes from when the environment gives it (else a generated secret).
PASSWORD_ENV = {
    "engines": "IVR_DB_PASSWORD",
    "monitor": "IVR_DB_MONITOR_PASSWORD",
    "replication": "IVR_DB_REPLICATION_PASSWORD",
}


class Passwords:
    """The formation's three passwords: the engines' user, pg_autoctl's on the monitor
    (autoctl_node), the standby's on the primary (pgautofailover_replicator). Each is read
    when first needed: from the environment (PASSWORD_ENV), or generated once into `folder`
    (`NAME.secret`, mode 0600), as the center's other shared secrets are; so a host that runs
    only engines (or Kamailio) neither needs nor makes the database parts' own two."""

    def __init__(
        self,
        folder: Path | None = None,
        environ: Mapping[str, str] | None = None,
        given: Mapping[str, str] | None = None,
    ) -> None:
        self._folder = folder
        self._environ = dict(environ or {})
        self._found = dict(given or {})

    @classmethod
    def new(cls) -> Passwords:
        """Three fresh passwords, kept nowhere (a formation that lives for one test)."""
        return cls(given={kind: secrets.token_urlsafe(24) for kind in PASSWORD_ENV})

    def __repr__(self) -> str:
        return "Passwords(***)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Passwords):
            return NotImplemented
        return all(self.get(kind) == other.get(kind) for kind in PASSWORD_ENV)

    __hash__ = None  # type: ignore[assignment]

    def get(self, kind: str) -> str:
        if kind not in self._found:
            variable = PASSWORD_ENV[kind]
            value = self._environ.get(variable, "")
            if not value:
                if self._folder is None:
                    raise ConfigError(f"{variable}: no password given")
                path = self._folder / f"{kind}.secret"
                try:
                    value = config._secret(path)
                except FileExistsError:  # made by a part started at the same moment
                    value = path.read_text().strip()
            if not value or "\n" in value:
                raise ConfigError(f"{variable}: a password of one line")
            self._found[kind] = value
        return self._found[kind]

    @property
    def engines(self) -> str:
        return self.get("engines")

    @property
    def monitor(self) -> str:
        return self.get("monitor")

    @property
    def replication(self) -> str:
        return self.get("replication")


def loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def check_auth(auth: str, addresses: list[str]) -> None:
    """The floor: passwords unless every part listens on loopback alone (trust there is a
    developer's machine; anywhere else any host could write the records)."""
    if auth not in AUTH:
        raise ConfigError(f"setting 'cluster.database.auth': {auth!r} is not one of {AUTH}")
    if auth == "trust" and not all(loopback(a) for a in addresses):
        raise ConfigError(
            "setting 'cluster.database.auth': trust is for loopback alone; "
            f"{', '.join(a for a in addresses if not loopback(a))} is not: leave auth out "
            "(scram-sha-256, the default)"
        )


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """What PostgreSQL keeps of a SCRAM-SHA-256 password (RFC 5802/7677, as libpq's
    PQencryptPasswordConn makes it): the role is given this, never the password itself."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def pgpass_text(monitor: int, user: str, pw: Passwords | None) -> str:
    """libpq's password file for pg_autoctl, pg_basebackup and the standby's walreceiver:
    the monitor's user on the monitor (its port), the replication and engines' users
    anywhere."""
    if pw is None:
        return ""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(":", "\\:")

    return (
        f"*:{monitor}:{MONITOR_DB}:{MONITOR_USER}:{esc(pw.monitor)}\n"
        f"*:*:*:{REPLICATION_USER}:{esc(pw.replication)}\n"
        f"*:*:*:{esc(user)}:{esc(pw.engines)}\n"
    )


def harden_hba(text: str) -> str:
    """pg_hba.conf without initdb's `trust` lines (pg_autoctl runs initdb with --auth=trust:
    any local user, or any process on 127.0.0.1, could connect as a superuser). pg_autoctl's
    own lines stay; on the socket the postgres user keeps peer, every other user gives its
    password."""
    out = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if "Auto-generated by pg_auto_failover" in line or not fields or fields[-1] != "trust":
            out.append(line)
        elif fields[0] == "local" and fields[1] == "replication":
            out.append("local   replication     postgres                                peer")
        elif fields[0] == "local":
            out.append("local   all             postgres                                peer")
            out.append(
                "local   all             all                                     scram-sha-256"
            )
        # initdb's `host ... trust` lines go: pg_autoctl added what the formation needs
    return "\n".join(out) + "\n"
