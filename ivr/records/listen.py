"""Wake-ups between engines that share one PostgreSQL: LISTEN/NOTIFY on one channel.

One connection of its own per engine (a pooled one cannot stay in LISTEN), made again with a
backoff when it is lost; each time it is made, every topic is woken once, since a NOTIFY sent
while it was away is gone. A notification's payload is "topic" + newline + payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

CHANNEL = "ivr_wake"
CONNECT_TIMEOUT = 10.0
BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def plain_dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL (postgresql+asyncpg://... -> postgresql://...).

    A multi-host URL (`?host=H1:P1&host=H2:P2&target_session_attrs=read-write`, a database
    that fails over) becomes libpq's form, `postgresql://USER@H1:P1,H2:P2/DB?...`: asyncpg
    reads its hosts there, not from repeated query arguments. SQLAlchemy's `ssl=` (asyncpg's
    keyword) is libpq's `sslmode=` there."""
    parsed = make_url(url).set(drivername="postgresql")
    if "ssl" in parsed.query:
        query = {k: v for k, v in parsed.query.items() if k != "ssl"}
        parsed = parsed.set(query={**query, "sslmode": parsed.query["ssl"]})
    hosts = parsed.query.get("host")
    if parsed.host or not hosts:
        return parsed.render_as_string(hide_password=False)
    listed = ",".join(hosts) if isinstance(hosts, tuple) else hosts
    query = {k: v for k, v in parsed.query.items() if k != "host"}
    rendered = parsed.set(query=query).render_as_string(hide_password=False)
    scheme, rest = rendered.split("://", 1)
    userinfo, _, path = rest.partition("@/") if "@/" in rest else ("", "", rest.lstrip("/"))
    return f"{scheme}://{userinfo + '@' if userinfo else ''}{listed}/{path}"


class PgRelay:
    """Sends wake-ups as NOTIFY and hands every notification to wakeups.deliver()."""

    def __init__(self, url: str, wakeups: Wakeups) -> None:
        self.dsn = plain_dsn(url)
        self.wakeups = wakeups
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self._sending = asyncio.Lock()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):  # not up yet: it keeps trying on its own
            await asyncio.wait_for(self.connected.wait(), CONNECT_TIMEOUT)
        self.wakeups.relay = self

    async def close(self) -> None:
        self.wakeups.relay = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    async def send(self, topic: str, payload: str) -> None:
        async with self._sending:  # one statement at a time on a connection
            conn = self._conn
            if conn is None or conn.is_closed():
                raise ConnectionError("not connected to PostgreSQL")
            await asyncio.wait_for(
                conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{topic}\n{payload}"),
                CONNECT_TIMEOUT,
            )

    def _notified(self, _conn: Any, _pid: int, _channel: str, message: str) -> None:
        topic, _, payload = message.partition("\n")
        self.wakeups.deliver(topic, payload)

    async def _run(self) -> None:
        import asyncpg

        failures = 0
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._notified)
                self._conn = conn
                self.connected.set()
                failures = 0
                log.info("listening for other engines' wake-ups")
                self.wakeups.deliver_all()  # whatever was sent while nobody listened
                await lost.wait()
                log.warning("the wake-up connection to PostgreSQL was lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot listen for wake-ups on PostgreSQL: %r", exc)
            self.connected.clear()
            await self._drop()
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
