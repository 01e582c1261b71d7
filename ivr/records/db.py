"""Engine, sessions and migrations for the call records database.

SQLite is the default (one file the engine and the classic AGI script processes share);
any SQLAlchemy async URL works, so several engines can share one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Milliseconds a SQLite writer waits for another process's write to finish.
SQLITE_BUSY_TIMEOUT_MS = 10_000
_NEW_FILE_RETRIES = 10
# Any constant will do: it only has to be the same in every engine sharing the database.
_PG_MIGRATION_LOCK = 0x1F0CA11
# A PostgreSQL that does not answer must not hold anything up for long: seconds to connect,
# and the longest any statement may run (the server cancels it).
PG_CONNECT_TIMEOUT = 3.0
PG_STATEMENT_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching a new database to WAL waits for another
        # connection's lock too (engines starting together), instead of failing at once.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers (the portal, `ivr calls`) run while an AGI process writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> AsyncEngine:
    """An async engine; for a SQLite file, its folder is made and WAL is on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if parsed.get_driver_name() == "asyncpg":
            connect_args = {
                "timeout": PG_CONNECT_TIMEOUT,
                "command_timeout": PG_STATEMENT_TIMEOUT_MS / 1000 + 1,
                "server_settings": {"statement_timeout": str(PG_STATEMENT_TIMEOUT_MS)},
            }
        return create_async_engine(
            parsed, pool_pre_ping=True, pool_timeout=PG_CONNECT_TIMEOUT, connect_args=connect_args
        )
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    # Records are handed out as snapshots after commit: nothing should reload lazily.
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """An alembic Config built in code (no alembic.ini), for upgrade() and for developers."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _lock_for_migration(connection: Connection) -> None:
    """Serialise engines that start together, so only one of them creates the tables."""
    name = connection.dialect.name
    if name == "sqlite":
        # Takes the write lock now; the driver would otherwise begin only at the first DML.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _upgrade(connection: Connection, url: str) -> None:
    _lock_for_migration(connection)
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(url: str) -> None:
    """Bring the database to the newest schema; safe to run at every start, by every engine."""
    for attempt in range(_NEW_FILE_RETRIES):
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_upgrade, url)
                await connection.commit()
            break
        except OperationalError as exc:
            # A new SQLite file switched to WAL by one engine while another migrates it:
            # SQLite answers "locked" at once, without its busy timeout. Try again.
            if "database is locked" not in str(exc) or attempt == _NEW_FILE_RETRIES - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
        finally:
            await engine.dispose()
    log.debug("records database %s is at the newest schema", make_url(url).render_as_string())
