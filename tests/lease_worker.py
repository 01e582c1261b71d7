"""An engine's scheduler, alone in its process, for the lease tests: it holds the lease
"ticks" through ivr.lease.Leases and, while it holds it, numbers one row after the other in
the table lease_work (each number read from the table, so two writers at once would write
one number twice).

    python tests/lease_worker.py DB_URL NAME TTL
"""

from __future__ import annotations

import asyncio
import signal
import sys

from sqlalchemy import text

from ivr.lease import Leases
from ivr.records.db import make_engine, session_factory


async def main(url: str, name: str, ttl: float) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    leases = Leases(sessions, name, ttl=ttl)

    async def ticks() -> None:
        while True:
            async with sessions.begin() as session:
                n = await session.scalar(text("SELECT coalesce(max(n), 0) + 1 FROM lease_work"))
                await session.execute(
                    text("INSERT INTO lease_work (n, holder) VALUES (:n, :holder)"),
                    {"n": n, "holder": name},
                )
            await asyncio.sleep(0.05)  # the job's own pace: one row every 50 ms

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await leases.start()
    leases.run("ticks", ticks)
    print("ready", flush=True)
    await stop.wait()
    await leases.close()  # released: another engine takes it at once
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
