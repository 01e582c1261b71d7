"""Asterisk runs as an account that exists only for it: the real Asterisk of a stack, seen
from the host, is `ivr-asterisk`, whose uid and gid no other host account has (in its root
folder, Debian's `asterisk` would be 101, which on a host is often `postgres`)."""

from __future__ import annotations

import asyncio
import grp
import pwd
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fault_rig import running_stack

from ivr.asterisk import hostuser
from ivr.harness.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("faults-account")) as running:
        yield running


def ids_of(pid: int) -> tuple[int, int]:
    """The process's real uid and gid, as the kernel has them."""
    lines = dict(
        line.split(":", 1)
        for line in open(f"/proc/{pid}/status").read().splitlines()  # noqa: SIM115
    )
    return int(lines["Uid"].split()[0]), int(lines["Gid"].split()[0])


async def test_asterisk_runs_as_its_own_host_account(stack: Stack) -> None:
    root = stack.settings.asterisk_root
    assert root is not None
    own = hostuser.check(root)  # what the provision step made, checked
    pid = int((stack.settings.host_run_dir / "run" / "asterisk.pid").read_text())
    uid, gid = ids_of(pid)
    assert (uid, gid) == (own.uid, own.gid)
    assert pwd.getpwuid(uid).pw_name == hostuser.HOST_USER
    assert grp.getgrgid(gid).gr_name == hostuser.HOST_USER
    assert [u.pw_name for u in pwd.getpwall() if u.pw_uid == uid] == [hostuser.HOST_USER]
    assert [g.gr_name for g in grp.getgrall() if g.gr_gid == gid] == [hostuser.HOST_USER]
    ps = await asyncio.create_subprocess_exec(
        "ps", "-o", "user=", "-p", str(pid), stdout=asyncio.subprocess.PIPE
    )
    shown, _ = await ps.communicate()
    assert shown.decode().strip() == hostuser.HOST_USER  # what an administrator sees
