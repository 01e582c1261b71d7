"""[cluster.database] run part by part, each in the foreground as a container or a host of its
own runs it (`ivr cluster database monitor|db1|db2`), started in the wrong order at once: each
part waits for what it needs, the formation ends with a primary and its standby, and the
engines' multi-host address reaches the primary. The parts are made with passwords and TLS:
a connection without the password, with a wrong one or without TLS is refused by the data
nodes and the monitor. `make docker-test` runs the same parts in containers and kills the
primary under calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from ivr.cluster.database import DatabaseSpec, FailoverDatabase
from ivr.cluster.dbauth import MONITOR_DB, MONITOR_USER
from ivr.cluster.spec import load
from ivr.harness.cluster import loopback_file
from ivr.records.db import make_engine, upgrade

pytestmark = [pytest.mark.e2e]

RULES = Path(__file__).resolve().parents[1] / "cluster" / "rules"
REFUSED = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def connect(
    port: int, user: str, database: str, password: str | None, ssl: str, nopass: Path
) -> str:
    """A real connection: "ok" when the server let it in, else why it was refused."""
    try:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user=user, database=database, password=password,
            ssl=ssl, passfile=str(nopass), timeout=10,
        )  # fmt: skip
    except REFUSED as exc:
        return f"refused: {exc}"
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return "ok"


async def who_gets_in(spec: DatabaseSpec, nopass: Path) -> dict[str, str]:
    """Each part asked with the right password, none, a wrong one, and the right one
    without TLS; and the data nodes' superuser without a password."""
    assert spec.passwords is not None
    found = {}
    parts = [("monitor", spec.monitor, MONITOR_USER, MONITOR_DB, spec.passwords.monitor)]
    parts += [(f"db{i + 1}", port, spec.user, spec.name, spec.passwords.engines)
              for i, port in enumerate(spec.ports)]  # fmt: skip
    for name, port, user, database, password in parts:
        found[f"{name} password"] = await connect(port, user, database, password, "require", nopass)
        found[f"{name} none"] = await connect(port, user, database, None, "require", nopass)
        found[f"{name} wrong"] = await connect(port, user, database, "wrong", "require", nopass)
        found[f"{name} no tls"] = await connect(port, user, database, password, "disable", nopass)
        if name != "monitor":
            found[f"{name} postgres"] = await connect(
                port, "postgres", database, None, "require", nopass
            )
    return found


def test_parts_started_apart_make_a_primary_and_its_standby(tmp_path: Path) -> None:
    path = loopback_file(
        tmp_path, f"p{os.getpid() % 100000}", None, RULES, "127.0.0.2:5999",
        44000 + (os.getpid() * 7 % 40) * 200, 100,
    )  # fmt: skip
    cluster = load(path)
    assert cluster.database is not None
    database = FailoverDatabase(cluster.database, cluster.run_dir / "database")
    parts: list[subprocess.Popen[bytes]] = []
    try:
        for part in ("db2", "db1", "monitor"):  # each waits for what it needs
            with open(tmp_path / f"{part}.log", "wb") as log:
                parts.append(
                    subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                        [
                            sys.executable,
                            "-m",
                            "ivr",
                            "--config",
                            str(path),
                            "cluster",
                            "database",
                            part,
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                )
        states = asyncio.run(
            database.wait_monitor(database.ready, 300, "a primary and its standby")
        )
        # db2 was made from db1's copy: db1 is the one that started as the primary
        assert states == {"db1": "primary", "db2": "secondary"}, states
        assert all(p.poll() is None for p in parts)  # each is pg_autoctl now, still running

        async def write_and_read() -> int:
            await upgrade(cluster.database.url)  # type: ignore[union-attr]
            engine = make_engine(cluster.database.url)  # type: ignore[union-attr]
            try:
                async with engine.connect() as conn:
                    return int(await conn.scalar(text("SELECT count(*) FROM calls")) or 0)
            finally:
                await engine.dispose()

        assert asyncio.run(write_and_read()) == 0

        # no one gets in without the password: not on loopback, not as the superuser
        found = asyncio.run(who_gets_in(cluster.database, tmp_path / "no-pgpass"))
        print(found)
        for name in ("monitor", "db1", "db2"):
            assert found[f"{name} password"] == "ok", found
            assert "password" in found[f"{name} none"], found
            assert "password authentication failed" in found[f"{name} wrong"], found
            assert "no encryption" in found[f"{name} no tls"], found
        for name in ("db1", "db2"):
            assert "pg_hba.conf" in found[f"{name} postgres"], found
    finally:
        for process in parts:  # pg_autoctl leads its session: its PostgreSQL goes too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in parts:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(cluster.run_dir, ignore_errors=True)
