"""A throw-away PostgreSQL server for a benchmark: Debian's binaries, on loopback, in a
temporary folder, stopped and removed afterwards (as tests/pg_server.py does for the tests)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ivr.ports import free_tcp_port


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: its tools run as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """The SQLAlchemy URL of the new server's database `ivr`."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        raise RuntimeError("PostgreSQL is missing: apt-get install postgresql (make bench does)")
    bindir = binaries[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_tcp_port()
    run = {"check": True, "capture_output": True}
    subprocess.run(  # noqa: S603
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "ivr", "-A", "trust"]), **run
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c shared_buffers=256MB"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(  # noqa: S603
        _as_postgres([*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"]), **run
    )
    try:
        subprocess.run(  # noqa: S603
            _as_postgres([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                          "-U", "ivr", "ivr"]),
            **run,
        )  # fmt: skip
        yield f"postgresql+asyncpg://ivr@127.0.0.1:{port}/ivr"
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), capture_output=True)  # noqa: S603
        shutil.rmtree(folder, ignore_errors=True)


_names = itertools.count(1)


async def new_database(url: str) -> str:
    """A new, empty database on the server of url; its SQLAlchemy URL."""
    import asyncpg

    from ivr.records.listen import plain_dsn

    name = f"scratch{os.getpid()}_{next(_names)}"
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name
