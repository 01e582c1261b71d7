"""Console passwords: one per operator (and one for the supervisor), generated into the
instance's state folder with mode 0600 or read from IVR_PORTAL_PASSWORD_<ID>; never committed.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from ivr.config import Settings

SUPERVISOR = "supervisor"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def portal_password(settings: Settings, user: str) -> str:
    if not _SAFE.match(user):
        raise ValueError(f"not a console user name: {user!r}")
    env = os.environ.get(f"IVR_PORTAL_PASSWORD_{user.upper().replace('-', '_')}")
    if env:
        return env
    path = settings.shared_state / "portal" / f"{user}.secret"
    return _generated(path)


def _generated(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(12)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def check_password(settings: Settings, user: str, given: str) -> bool:
    try:
        expected = portal_password(settings, user)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
