"""Asterisk's own account, made on a host and a root folder of the test's own (useradd
--prefix): a uid and gid no other account has on either side, the root's files renumbered
(the instances' run folders left to their instances), every step idempotent, and the check
refusing a shared number."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ivr.asterisk import hostuser

HOST_USERS = [
    "root:x:0:0::/root:/bin/bash",
    "postgres:x:101:104::/var/lib/postgresql:/bin/sh",
    "polkitd:x:999:999::/:/usr/sbin/nologin",
    "nobody:x:65534:65534::/:/bin/sh",
]
HOST_GROUPS = ["root:x:0:", "_ssh:x:101:", "postgres:x:104:", "polkitd:x:999:",
               "nogroup:x:65534:"]  # fmt: skip
ROOT_USERS = ["root:x:0:0::/root:/bin/bash", "asterisk:x:101:101::/var/lib/asterisk:/bin/false",
              "helper:x:998:998::/:/bin/false"]  # fmt: skip
ROOT_GROUPS = ["root:x:0:", "audio:x:29:asterisk", "asterisk:x:101:", "helper:x:998:"]


def etc(folder: Path, users: list[str], groups: list[str]) -> Path:
    (folder / "etc").mkdir(parents=True)
    (folder / "etc/passwd").write_text("\n".join(users) + "\n")
    (folder / "etc/group").write_text("\n".join(groups) + "\n")
    (folder / "etc/shadow").write_text("".join(f"{u.split(':')[0]}:*:1::::::\n" for u in users))
    (folder / "etc/gshadow").write_text("".join(f"{g.split(':')[0]}:*::\n" for g in groups))
    for name in ("shadow", "gshadow"):
        (folder / "etc" / name).chmod(0o640)
    return folder / "etc"


def owned(path: Path, uid: int, gid: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.chown(path, uid, gid)
    return path


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path]:
    assert os.geteuid() == 0, "making accounts needs root, as the provision step does"
    host = etc(tmp_path / "host", HOST_USERS, HOST_GROUPS)
    root = tmp_path / "root"
    etc(root, ROOT_USERS, ROOT_GROUPS)
    owned(root / "var/lib/asterisk/astdb", 101, 101)
    owned(root / "etc/asterisk/asterisk.conf", 0, 101)
    owned(root / "srv/ivr/running/log/messages", 101, 101)  # a running instance's own
    return host, root


def test_the_account_is_made_once_and_the_root_follows(world: tuple[Path, Path]) -> None:
    host, root = world
    ids = hostuser.make_host_account(host, root / "etc")
    assert ids.uid == ids.gid == 997  # 999 is polkitd's on the host, 998 helper's in the root
    assert hostuser.renumber_root(root, ids) == 2
    assert (root / "var/lib/asterisk/astdb").stat().st_uid == 997
    assert (root / "etc/asterisk/asterisk.conf").stat().st_gid == 997
    assert (root / "etc/asterisk/asterisk.conf").stat().st_uid == 0
    assert (root / "srv/ivr/running/log/messages").stat().st_uid == 101  # left to its instance
    assert "asterisk:x:997:997:" in (root / "etc/passwd").read_text()
    assert "audio:x:29:asterisk" in (root / "etc/group").read_text()
    assert hostuser.check(root, host) == ids
    # Again: nothing to do.
    assert hostuser.make_host_account(host, root / "etc") == ids
    assert hostuser.renumber_root(root, ids) == 0
    assert (host / "passwd").read_text().count("ivr-asterisk:") == 1


def test_the_check_refuses_a_shared_number(world: tuple[Path, Path]) -> None:
    host, root = world
    with pytest.raises(hostuser.AccountError, match="no ivr-asterisk user"):
        hostuser.check(root, host)
    ids = hostuser.make_host_account(host, root / "etc")
    with pytest.raises(hostuser.AccountError, match="asterisk in"):
        hostuser.check(root, host)  # the root not renumbered yet: 101 is postgres's here
    hostuser.renumber_root(root, ids)
    with open(host / "passwd", "a") as handle:
        handle.write(f"intruder:x:{ids.uid}:100::/:/bin/false\n")
    with pytest.raises(hostuser.AccountError, match="also intruder's"):
        hostuser.check(root, host)


def test_a_number_taken_in_the_root_is_refused(world: tuple[Path, Path]) -> None:
    _, root = world
    with pytest.raises(hostuser.AccountError, match="helper's"):
        hostuser.renumber_root(root, hostuser.Ids(998, 998))
    assert (root / "var/lib/asterisk/astdb").stat().st_uid == 101  # nothing was changed
