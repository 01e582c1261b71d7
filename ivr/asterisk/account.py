"""The unprivileged account Asterisk runs as, and the files it may write.

Started by root, Asterisk drops to the setting `asterisk_user` (-U/-G; Debian's package makes
an `asterisk` user and group). It may then write only its own folders of the instance's run
folder (logs, spool, database, control socket, recorded messages), and read its config; the
files with secrets are root's, readable by its group alone. Started by anyone else, Asterisk
already runs unprivileged, as that user, and nothing changes owner.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ivr.config import Settings

log = logging.getLogger(__name__)

# Folders of the run folder Asterisk writes into (the rest it only reads).
WRITABLE = ("db", "spool", "run", "log", "cache", "messages")


@dataclass(frozen=True)
class Account:
    user: str
    group: str
    uid: int
    gid: int


def _entries(path: Path) -> list[list[str]]:
    try:
        return [line.split(":") for line in path.read_text().splitlines()]
    except OSError:
        return []


def account(settings: Settings) -> Account | None:
    """Asterisk's account when it is to drop root; None when it runs as whoever starts it."""
    name = settings.asterisk_user
    if not name or os.geteuid() != 0:
        return None
    # Asterisk looks its account up where it runs: in its root folder when it has one.
    etc = settings.host_path(Path("/etc"))
    user = next((e for e in _entries(etc / "passwd") if len(e) > 3 and e[0] == name), None)
    if user is None:
        raise LookupError(f"no user {name!r} in {etc / 'passwd'} (setting asterisk_user)")
    uid, gid = int(user[2]), int(user[3])
    group = next((e[0] for e in _entries(etc / "group") if len(e) > 2 and e[2] == str(gid)), name)
    return Account(name, group, uid, gid)


def hand_over(settings: Settings, run: Path, etc: Path, secret_files: set[str]) -> None:
    """Give Asterisk's account its folders, and its group read access to the config."""
    try:
        owner = account(settings)
    except LookupError as exc:  # a config rendered for a root without Asterisk (unit tests)
        log.warning("config stays root's: %s", exc)
        return
    if owner is None:
        return
    for name in WRITABLE:
        folder = run / name
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
    # Recordings and prompts are read by both: new files in messages/ keep the group.
    os.chmod(run / "messages", 0o2775)
    for path in etc.iterdir():
        os.chown(path, 0, owner.gid)
        os.chmod(path, 0o640 if path.name in secret_files else 0o644)
    log.debug("run folder %s handed to %s (%d:%d)", run, owner.user, owner.uid, owner.gid)
