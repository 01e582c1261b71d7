"""A real PostgreSQL server for the tests, started from Debian's binaries on loopback."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.ports import free_tcp_port

_databases = itertools.count(1)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server (Debian's package) on loopback, for this test session.

    IVR_TEST_POSTGRES_URL points at an existing server instead. No skip: the multi-node
    store is tested whenever the suite runs.
    """
    given = os.environ.get("IVR_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        raise RuntimeError("PostgreSQL is missing: apt-get install postgresql (make test does)")
    bindir = binaries[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_tcp_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", "ivr", "-A", "trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder} -F"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),  # fmt: skip
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+asyncpg://ivr@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


async def new_database(postgres_server: str) -> str:
    """A new, empty database on the test server; its SQLAlchemy URL."""
    import asyncpg

    name = f"t{os.getpid()}_{next(_databases)}"
    plain = postgres_server.replace("postgresql+asyncpg://", "postgresql://")
    base = plain.rsplit("/", 1)[0] if plain.count("/") > 2 else plain
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
