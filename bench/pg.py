"""A throw-away PostgreSQL server for a benchmark: Debian's binaries, on loopback, in a
temporary folder, stopped and removed afterwards (as tests/pg_server.py does for the tests)."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator

from ivr.harness.pgcluster import PostgresCluster


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """The SQLAlchemy URL of the new server's database `ivr`."""
    server = PostgresCluster(
        prefix="ivr-bench-pg-", durable=True, options="-c shared_buffers=256MB"
    )
    try:
        server.start()
        yield server.createdb("ivr")
    finally:
        server.remove()


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
