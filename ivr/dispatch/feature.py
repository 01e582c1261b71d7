"""The dispatcher: takes each message's dispatch row from the outbox (written with the
message), decides by the client's dispatch rules whether it goes to the client's webhook,
and posts it; a failure is tried again later, backing off (the outbox's own retry), and a
success is never posted again (the outbox row is taken by one engine at a time and done
once). One engine runs it (the lease "dispatch"); every engine's wake-up reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ivr.dispatch import store, webhook
from ivr.dispatch.guard import allowed_addresses, own_addresses
from ivr.feature import Feature
from ivr.portal.models import CallOutcome
from ivr.records import outbox
from ivr.records.fields import fields_for
from ivr.records.repo import get_call
from ivr.routing.dispatch import choose

if TYPE_CHECKING:
    from ivr.lease import Job
    from ivr.services import Services

log = logging.getLogger(__name__)
LEASE = "dispatch"


class Dispatcher(Feature):
    name = "dispatch"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._job: Job | None = None
        settings = services.settings
        self.allowed = allowed_addresses(settings.webhook_allow_addresses)
        self.own = own_addresses(settings.bind, getattr(settings, "sip_address", "") or "")
        self.context = webhook.ssl_context(settings.webhook_ca_file)

    async def start(self) -> None:
        self.services.wake.on(outbox.WAKE, lambda _payload: self._wake.set())
        self._job = self.services.leases.run(LEASE, self._run)

    async def close(self) -> None:
        if self._job is not None:
            await self._job.close()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                due = await self.step(self.services.clock())
            except Exception:
                log.exception("dispatch: a step failed")
                due = self.services.clock() + timedelta(minutes=1)
            delay = None if due is None else max(0.0, (due - self.services.clock()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def step(self, now: datetime) -> datetime | None:
        """Dispatch what is due at `now`; when something is due next (None: a wake-up)."""
        sessions = self.services.sessions
        for work in await outbox.take(sessions, outbox.DISPATCH, self.me, now):
            try:
                problem, final = await self._dispatch(work, now)
            except Exception as exc:
                log.exception("dispatch of %s failed", work.key)
                problem, final = repr(exc), False
            if problem is None or final:
                await outbox.done(sessions, work, now, problem)
            else:
                await outbox.retry(sessions, work, now, problem)
        return await outbox.next_due(sessions, outbox.DISPATCH)

    async def _dispatch(self, work: outbox.Work, now: datetime) -> tuple[str | None, bool]:
        """(what failed or None, whether trying again is pointless)."""
        sessions = self.services.sessions
        client = self.services.rules.current.clients.get(work.client_id or "")
        linkedid, urgent = str(work.data["linkedid"]), bool(work.data.get("urgent"))
        if client is None:
            return None, True
        hook = await store.hook_of(sessions, client.id)
        if hook is None:
            return None, True  # nowhere to post: the emails are the notifier's
        payload = await self.payload(client.id, client.card.timezone, linkedid, urgent, now)
        if payload is None:
            return None, True  # the call is gone (erased)
        answers = {k: v["value"] for k, v in payload["fields"].items()}
        if "webhook" not in choose(client.dispatch, payload["category"], urgent, answers):
            return None, True
        key = f"{client.id}:{work.key}"
        result = await webhook.post(
            hook.url, hook.secret, key, payload, now, allowed=self.allowed, own=self.own,
            timeout=self.services.settings.webhook_timeout, context=self.context,
        )  # fmt: skip
        await store.add_delivery(
            sessions,
            client.id,
            store.Delivery(key, linkedid, work.tries, now, hook.url, result.status,
                           result.answer, result.error),
        )  # fmt: skip
        if result.error is None:
            log.info("webhook of %s delivered (%s)", key, result.status)
            return None, True
        log.warning("webhook of %s: %s", key, result.error)
        return result.error, result.error.startswith("refused")

    async def payload(
        self, client_id: str, zone: str, linkedid: str, urgent: bool, now: datetime
    ) -> dict[str, Any] | None:
        """What the client's system receives: the message and its fields."""
        sessions = self.services.sessions
        call = await get_call(sessions, linkedid)
        if call is None or call.client_id != client_id:
            return None
        async with sessions() as session:
            outcome = await session.scalar(
                select(CallOutcome).where(CallOutcome.linkedid == linkedid)
            )
        answers = (await fields_for(sessions, [linkedid])).get(linkedid, [])
        return {
            "client": client_id,
            "call": linkedid,
            "arrived_at": call.arrived_at.isoformat() if call.arrived_at else None,
            "timezone": zone,
            "caller": {"number": call.caller_number or "", "name": call.caller_name or ""},
            "caller_name": outcome.caller_name if outcome else "",
            "callback": outcome.callback if outcome else "",
            "category": outcome.category if outcome else "message",
            "urgent": urgent,
            "message": outcome.message if outcome else "",
            "recording": bool(call.message_path),
            "fields": {
                a.field: {"label": a.label, "value": a.value, "shown": a.shown} for a in answers
            },
            "sent_at": now.isoformat(),
        }
