"""[cluster.database] run part by part, each in the foreground as a container or a host of its
own runs it (`ivr cluster database monitor|db1|db2`), started in the wrong order at once: each
part waits for what it needs, the formation ends with a primary and its standby, and the
engines' multi-host address reaches the primary. `make docker-test` runs the same parts in
containers and kills the primary under calls."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ivr.cluster.database import FailoverDatabase
from ivr.cluster.spec import load
from ivr.harness.cluster import loopback_file
from ivr.records.db import make_engine, upgrade

pytestmark = [pytest.mark.e2e]

RULES = Path(__file__).resolve().parents[1] / "cluster" / "rules"


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
