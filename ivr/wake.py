"""Wake-ups by topic: a part that wrote work for another part (an outbox row, a stored call)
wakes it, so nothing polls the database.

In one engine a wake-up is a function call. With several engines on one PostgreSQL each
engine LISTENs on one channel (ivr.records.listen.PgRelay) and a wake-up is a NOTIFY: it
reaches every engine, the sender included, and nothing is delivered twice. When the relay's
connection is lost and made again, every topic is woken once (something may have been missed
meanwhile), and the consumers read what is pending from the database: a wake-up only says
"look", the rows say what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

Listener = Callable[[str], None]  # called with the payload; must not block
ANY = ""  # the payload of a wake-up that only says "look again"


class Relay(Protocol):
    """Carries wake-ups to every engine (PostgreSQL NOTIFY): send() returns once sent."""

    async def send(self, topic: str, payload: str) -> None: ...


class Wakeups:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}
        self.relay: Relay | None = None

    def on(self, topic: str, listener: Listener) -> None:
        self._listeners.setdefault(topic, []).append(listener)

    async def send(self, topic: str, payload: str = ANY) -> None:
        """Wake the listeners of topic in every engine (call it after the commit)."""
        if self.relay is not None:
            try:
                await self.relay.send(topic, payload)
                return  # it comes back to this engine too, through LISTEN
            except Exception as exc:  # the database is away: at least this engine looks
                log.warning("wake-up %s not sent to the other engines: %r", topic, exc)
        self.deliver(topic, payload)

    def deliver(self, topic: str, payload: str = ANY) -> None:
        for listener in list(self._listeners.get(topic, ())):
            try:
                listener(payload)
            except Exception:
                log.exception("a listener of wake-up %r failed", topic)

    def deliver_all(self) -> None:
        """Every topic once: the relay was away, a wake-up may have been missed."""
        for topic in list(self._listeners):
            self.deliver(topic, ANY)
