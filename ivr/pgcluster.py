"""A PostgreSQL server of its own, from Debian's binaries, on loopback: started, stopped and
started again on the same port and data, for the fault tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ivr.ports import free_tcp_port


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresCluster:
    def __init__(self) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            raise RuntimeError("PostgreSQL is missing: apt-get install postgresql")
        self.bindir = binaries[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
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
            subprocess.run(
                _as_postgres(
                    [
                        str(self.bindir / "initdb"),
                        "-D",
                        str(self.data),
                        "-U",
                        "ivr",
                        "-A",
                        "trust",
                        "--no-sync",
                    ]
                ),  # fmt: skip
                check=True,
                capture_output=True,
            )
            self._made = True
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -F"
        self._ctl("-o", options, "-l", str(self.folder / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "stop"]),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    async def new_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(f"postgresql://ivr@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"{self.url}/{name}"
