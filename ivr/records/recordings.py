"""Recorded messages in the shared database, so that every node and every node's area can
play a message after the node that recorded it is gone.

Why PostgreSQL and not a shared folder: every engine already reaches it (and it fails over,
ivr/cluster/database.py); a message is small (8 kHz, 16 bits: about 1 MB a minute); it is
erased and purged in the same transaction as the call record that names it. The node that
recorded keeps its file too (its Asterisk wrote it; its own area and ladders read it there).

A node that plays another node's message copies it to a temporary file of its own messages
folder for the length of the call, and removes it after (no copy outlives the call: the
retention purge need not know every node's disk).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import LargeBinary, Text, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from ivr.records.models import Base, UTCDateTime

if TYPE_CHECKING:
    from ivr.config import Settings

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
MAX_BYTES = 64 << 20  # a message longer than an hour is no message
COPIES = "from-other-nodes"  # in the messages folder: copies for the call that plays them


class Recording(Base):
    __tablename__ = "recordings"

    path: Mapped[str] = mapped_column(Text, primary_key=True)  # as on the call's record
    data: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def keep(sessions: Sessions, path: str, data: bytes, at: datetime) -> None:
    """Store the message recorded at `path` (again: the later recording replaces it)."""
    async with sessions.begin() as session:
        await session.execute(delete(Recording).where(Recording.path == path))
        session.add(Recording(path=path, data=data, recorded_at=at))


async def fetch(sessions: Sessions, path: str) -> bytes | None:
    async with sessions() as session:
        found: bytes | None = await session.scalar(
            select(Recording.data).where(Recording.path == path)
        )
    return found


async def forget(session: AsyncSession, paths: list[str]) -> int:
    """Delete these messages (in the caller's transaction: an erasure, the purge)."""
    if not paths:
        return 0
    result = await session.execute(delete(Recording).where(Recording.path.in_(paths)))
    return int(getattr(result, "rowcount", 0) or 0)


def read_local(settings: Settings, path: str) -> bytes | None:
    """The message's bytes if this host has its file under the messages folder."""
    host = settings.host_path(Path(path))
    try:
        root = settings.host_path(settings.run_dir / "messages").resolve()
        resolved = host.resolve()
    except (OSError, ValueError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    if resolved.stat().st_size > MAX_BYTES:
        return None
    return resolved.read_bytes()


@contextlib.asynccontextmanager
async def playable(settings: Settings, sessions: Sessions, path: str) -> AsyncIterator[str | None]:
    """The message as this node's Asterisk can play it (its path without .wav): its own
    file, or a copy from the database for as long as the block runs; None if neither."""
    if not path:
        yield None
        return
    if settings.host_path(Path(path)).is_file():
        yield path.removesuffix(".wav")
        return
    data = await fetch(sessions, path)
    if data is None:
        yield None
        return
    name = f"{secrets.token_hex(8)}.wav"
    as_asterisk = settings.run_dir / "messages" / COPIES / name
    host = settings.host_path(as_asterisk)
    host.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # Asterisk reads it
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    log.info("message %s played from the shared database", path)
    try:
        yield str(as_asterisk).removesuffix(".wav")
    finally:
        host.unlink(missing_ok=True)
