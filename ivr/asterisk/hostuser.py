"""Asterisk's own user and group on the host: an account that exists only for it.

Asterisk in its root folder (chroot) runs as the root's `asterisk` user, and the kernel knows
only its number. Debian's package gives it the first free system number of the root, 101, which
on a host is often someone else's (`postgres` here): `ps` shows Asterisk as that user, and
processes of one uid can signal and trace each other. So the provision step makes a system
account `ivr-asterisk` on the host with a uid and gid that no other host account uses and that
are free in the root, and gives the root's `asterisk` those numbers: its passwd and group
entries, and the files of the root it owned (outside /srv, where the instances' run folders
are: a running instance keeps its own until it is started again, when it is handed over anew).

Each step is idempotent, so an existing root (shared by everyone who runs the tests on this
machine) is changed in place, once, under a lock; `check()` runs at every provision.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HOST_USER = "ivr-asterisk"
ROOT_USER = "asterisk"  # Debian's package's account inside the root
SYSTEM_IDS = range(999, 99, -1)  # system accounts' numbers, from the top as useradd does
# Folders of the root whose owners are not the package's: the kernel's views and the
# instances' run folders (each handed over when its instance starts).
SKIP = ("proc", "sys", "dev", "srv", "tmp")


class AccountError(Exception):
    pass


@dataclass(frozen=True)
class Ids:
    uid: int
    gid: int


def _table(path: Path) -> list[list[str]]:
    try:
        return [line.split(":") for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def _write(path: Path, rows: list[list[str]]) -> None:
    """Replace a passwd-style file whole (a reader sees the old or the new, never half)."""
    mode = path.stat().st_mode & 0o7777
    spare = path.with_name(path.name + ".ivr-new")
    spare.write_text("".join(":".join(r) + "\n" for r in rows))
    os.chmod(spare, mode)
    os.replace(spare, path)


def _used(etc: Path) -> tuple[set[int], set[int]]:
    uids = {int(r[2]) for r in _table(etc / "passwd") if len(r) > 3 and r[2].isdigit()}
    gids = {int(r[2]) for r in _table(etc / "group") if len(r) > 2 and r[2].isdigit()}
    return uids, gids


def host_ids(host_etc: Path = Path("/etc")) -> Ids | None:
    for row in _table(host_etc / "passwd"):
        if len(row) > 3 and row[0] == HOST_USER:
            return Ids(int(row[2]), int(row[3]))
    return None


def _free_number(host_etc: Path, root_etc: Path) -> int:
    host_uids, host_gids = _used(host_etc)
    root_uids, root_gids = _used(root_etc)
    root_user = root_ids(root_etc)
    own = {root_user.uid, root_user.gid} if root_user else set()
    for n in SYSTEM_IDS:
        if n not in host_uids | host_gids and (n in own or n not in root_uids | root_gids):
            return n
    raise AccountError("no system uid and gid free on both the host and Asterisk's root")


def make_host_account(host_etc: Path, root_etc: Path) -> Ids:
    """The host's `ivr-asterisk` user and group (made if missing, with groupadd/useradd)."""
    found = host_ids(host_etc)
    if found is not None:
        return found
    number = _free_number(host_etc, root_etc)
    prefix = [] if host_etc == Path("/etc") else ["--prefix", str(host_etc.parent)]
    for command in (
        ["groupadd", *prefix, "--system", "--gid", str(number), HOST_USER],
        ["useradd", *prefix, "--system", "--uid", str(number), "--gid", str(number),
         "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
         "--comment", "Asterisk of ivr (its root folder's asterisk)", HOST_USER],
    ):  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise AccountError(f"{' '.join(command)}: {done.stderr.strip()}")
    log.info("host account %s made: uid and gid %d", HOST_USER, number)
    made = host_ids(host_etc)
    assert made is not None
    return made


def root_ids(root_etc: Path) -> Ids | None:
    for row in _table(root_etc / "passwd"):
        if len(row) > 3 and row[0] == ROOT_USER:
            return Ids(int(row[2]), int(row[3]))
    return None


def _files(root: Path) -> Iterator[Path]:
    for entry in os.scandir(root):
        if entry.name in SKIP:
            continue
        yield Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            for folder, dirs, files in os.walk(entry.path):
                for name in dirs + files:
                    yield Path(folder) / name


def renumber_root(root: Path, ids: Ids) -> int:
    """Give the root's asterisk user and group the numbers ids; its files follow. Returns how
    many files changed owner (0 when the root has the numbers already)."""
    etc = root / "etc"
    old = root_ids(etc)
    if old is None:
        raise AccountError(f"no {ROOT_USER} user in {etc / 'passwd'}")
    if old == ids:
        return 0
    users, groups = _table(etc / "passwd"), _table(etc / "group")
    for row in users:
        if len(row) > 3 and row[0] != ROOT_USER and row[2] == str(ids.uid):
            raise AccountError(f"uid {ids.uid} is {row[0]}'s in {etc / 'passwd'}")
    for row in groups:
        if len(row) > 2 and row[0] != ROOT_USER and row[2] == str(ids.gid):
            raise AccountError(f"gid {ids.gid} is {row[0]}'s in {etc / 'group'}")
    changed = 0
    for path in _files(root):  # files first: a run cut short is redone from the entries
        st = path.lstat()
        uid = ids.uid if st.st_uid == old.uid else -1
        gid = ids.gid if st.st_gid == old.gid else -1
        if uid != -1 or gid != -1:
            os.lchown(path, uid, gid)
            changed += 1
    for row in users:
        if len(row) > 3 and row[0] == ROOT_USER:
            row[2], row[3] = str(ids.uid), str(ids.gid)
    for row in groups:
        if len(row) > 2 and row[0] == ROOT_USER:
            row[2] = str(ids.gid)
    _write(etc / "group", groups)
    _write(etc / "passwd", users)
    log.info("Asterisk's root: %s is now %d:%d (%d files)", ROOT_USER, ids.uid, ids.gid, changed)
    return changed


def check(root: Path, host_etc: Path = Path("/etc")) -> Ids:
    """The root's asterisk is the host's ivr-asterisk, and no other account has its numbers."""
    ids = host_ids(host_etc)
    if ids is None:
        raise AccountError(f"no {HOST_USER} user on the host: run `ivr asterisk provision`")
    inside = root_ids(root / "etc")
    if inside != ids:
        raise AccountError(f"{ROOT_USER} in {root} is {inside}, the host's {HOST_USER} {ids}")
    for etc, own in ((host_etc, HOST_USER), (root / "etc", ROOT_USER)):
        for row in _table(etc / "passwd"):
            if len(row) > 3 and row[0] != own and row[2] == str(ids.uid):
                raise AccountError(f"uid {ids.uid} is also {row[0]}'s in {etc / 'passwd'}")
        for row in _table(etc / "group"):
            if len(row) > 2 and row[0] != own and row[2] == str(ids.gid):
                raise AccountError(f"gid {ids.gid} is also {row[0]}'s in {etc / 'group'}")
    return ids


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure(root: Path, host_etc: Path = Path("/etc")) -> Ids | None:
    """Make and check Asterisk's own account for root (as root; None when not root, as
    Asterisk then runs as whoever starts it)."""
    if os.geteuid() != 0:
        return None
    with _locked(root.with_name(root.name + ".account.lock")):
        ids = make_host_account(host_etc, root / "etc")
        renumber_root(root, ids)
        return check(root, host_etc)
