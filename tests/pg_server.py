"""A real PostgreSQL server for the tests, started from Debian's binaries on loopback."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from ivr.harness.pgcluster import PostgresCluster

_databases = itertools.count(1)


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
    server = PostgresCluster()
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


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
