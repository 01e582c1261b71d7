"""A PostgreSQL server of its own, from Debian's binaries, on loopback: started, stopped and
started again on the same port and data, for the fault tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ivr.harness.ports import free_tcp_port


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresCluster:
    """durable=False (tests): no fsync, a data folder made without syncing; durable=True
    (benchmarks): as a real server writes, with `options` (e.g. `-c shared_buffers=256MB`)."""

    def __init__(self, prefix: str = "ivr-pg-", durable: bool = False, options: str = "") -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            raise RuntimeError("PostgreSQL is missing: apt-get install postgresql (make does)")
        self.bindir = binaries[-1].parent
        self.durable = durable
        self.options = options
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = free_tcp_port()
        self._made = False

    @property
    def url(self) -> str:
        """The server's SQLAlchemy URL (user ivr, no database: add /NAME)."""
        return f"postgresql+asyncpg://ivr@127.0.0.1:{self.port}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        if not self._made:
            initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "ivr", "-A", "trust"]
            subprocess.run(
                _as_postgres(initdb if self.durable else [*initdb, "--no-sync"]),
                check=True,
                capture_output=True,
            )
            self._made = True
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} {self.options}"
        if not self.durable:
            options += " -F"
        self._ctl("-o", options.strip(), "-l", str(self.folder / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "stop"]),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def createdb(self, name: str) -> str:
        """A new, empty database (from synchronous code); its SQLAlchemy URL."""
        subprocess.run(
            _as_postgres([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                          "-U", "ivr", name]),
            check=True,
            capture_output=True,
        )  # fmt: skip
        return f"{self.url}/{name}"

    async def new_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(f"postgresql://ivr@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"{self.url}/{name}"
