"""Detached processes of a cluster (Kamailio, the nodes' engines): started in their own
session so that they outlive the command that started them, found again by pid file."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def spawn(
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    user: str | None = None,
    group: str | None = None,
) -> int:
    """Start argv detached (own session, output appended to log), as `user` if given; its
    pid, which leads the session (a signal to its group reaches its children)."""
    with open(log, "ab") as out:
        process = subprocess.Popen(  # noqa: S603  (our own binaries and interpreter)
            list(argv),
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=group,
        )
    return process.pid


# A process is written into its pid file after it starts; one that started later than the
# file was last written holds a reused pid (pids wrap at /proc/sys/kernel/pid_max, 32768 on
# many machines, within a long day of tests). The start time is read to the clock tick, the
# boot time to the second: the slack covers that rounding.
_REUSED_AFTER = 2.0


def _started_at(pid: int) -> float | None:
    """When the process started (seconds since the epoch), from /proc; None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def live_pid(path: Path) -> int | None:
    """The pid in a pid file while that process runs (a zombie is gone), else None; None
    too when the pid now belongs to a process started after the file was written (the
    process it named is gone and the pid was given again): signalling it would stop a
    stranger (a database server, another test's engine)."""
    try:
        pid = int(path.read_text().strip())
        written = path.stat().st_mtime
    except (OSError, ValueError):
        return None
    started = _started_at(pid)
    if started is not None and started > written + _REUSED_AFTER:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:  # a zombie (our own child not reaped yet) is gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    return None if state == "Z" else pid


async def gone(pid: Callable[[], int | None], timeout: float) -> bool:
    """Wait until pid() says None; False if it still runs after timeout seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pid() is not None:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)  # polling a process that is ending
    return True


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""
