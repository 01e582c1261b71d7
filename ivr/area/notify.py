"""Telling a client's users of new messages: the live pages (server-sent events with the
unread count), an email per message or per urgent message, and a daily digest at the time
each user chose, in the client's time zone.

The digest scheduler sleeps until the next digest is due (or until a user changes their
choice): no polling. Each message is told to each user once (area_notices), whichever engine
or digest tells it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ivr.area import query, users
from ivr.area.models import Notice
from ivr.i18n import Templates, tr
from ivr.portal.models import CallOutcome
from ivr.records.models import Call

if TYPE_CHECKING:
    from ivr.area.app import Area

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0


class Hub:
    """The open area pages of each client, told when a call of that client is stored."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}

    def listen(self, client_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=20)
        self._queues.setdefault(client_id, set()).add(queue)
        return queue

    def unlisten(self, client_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queues.get(client_id, set()).discard(queue)

    def listeners(self, client_id: str) -> int:
        return len(self._queues.get(client_id, ()))

    def tell(self, client_id: str, news: dict[str, Any]) -> None:
        for queue in list(self._queues.get(client_id, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(news)

    def close(self) -> None:
        for queues in self._queues.values():
            for queue in queues:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)


def next_digest(after: datetime, at: str, zone: str) -> datetime:
    """The first moment strictly after `after` when the clock in `zone` reads `at` (HH:MM)."""
    tz = ZoneInfo(zone)
    hour, minute = (int(x) for x in at.split(":"))
    local = after.astimezone(tz)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, time(hour, minute), tz)
        # A time that does not exist on a DST day is read in the zone's later offset.
        if candidate > after:
            return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable")


class Notifier:
    def __init__(self, area: Area, templates: Templates) -> None:
        self.area = area
        self.templates = templates
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    # -- a new message ------------------------------------------------------------------------

    async def new_message(self, linkedid: str, client_id: str, urgent: bool) -> None:
        """A message was stored: live pages, and the users who want an email for it."""
        await self.area.tell_client(client_id)
        for user in await users.of_client(self.sessions, client_id):
            wanted = user.notify == "each" or (user.notify == "urgent" and urgent)
            if wanted and await self._first_notice(user.id, linkedid):
                row = await query.one(self.sessions, client_id, linkedid)
                if row is not None:
                    await self._send(self._message_email(user, row))

    async def _first_notice(self, user_id: int, linkedid: str) -> bool:
        try:
            async with self.sessions.begin() as session:
                session.add(
                    Notice(user_id=user_id, linkedid=linkedid, at=self.area.services.clock())
                )
            return True
        except IntegrityError:
            return False

    def _message_email(self, user: users.User, row: query.Row) -> EmailMessage:
        client = self.area.client_name(user.client_id)
        lang = user.language
        subject = (
            tr(lang, "URGENT message for %(client)s", client=client)
            if row.urgent
            else tr(lang, "New message for %(client)s", client=client)
        )
        body = self.templates.render(
            "message.txt",
            lang,
            row=row,
            client=client,
            zone=self.area.zone(user.client_id),
            link=f"{self.area.public_url}/calls/{row.linkedid}",
        )
        return self._mail(user.email, subject, body)

    def _mail(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.area.services.settings.mail_from
        message["To"] = to
        message["Subject"] = " ".join(subject.split())  # a caller's words: no header breaks
        message.set_content(body)
        return message

    async def send_mail(self, to: str, subject: str, body: str) -> None:
        await self._send(self._mail(to, subject, body))

    async def _send(self, message: EmailMessage) -> bool:
        settings = self.area.services.settings
        if not settings.smtp_host:
            log.info("area: no smtp_host: not sent %r to %s", message["Subject"], message["To"])
            return False

        def send() -> None:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as s:
                s.send_message(message)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("area: mail to %s failed: %r", message["To"], exc)
            return False
        log.info("area: mail %r sent to %s", message["Subject"], message["To"])
        return True

    # -- the daily digest -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """A user changed their choice: the next due time is computed again."""
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                due = await self.step(self.area.services.clock())
            except Exception:
                log.exception("area: the digest step failed")
                due = None
            now = self.area.services.clock()
            delay = 3600.0 if due is None else max(0.0, (due - now).total_seconds())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(delay, 3600.0) + 0.01)

    async def step(self, now: datetime) -> datetime | None:
        """Send the digests due at `now`; when the next one is due (None: no digest users)."""
        due_next: datetime | None = None
        for user in await users.all_users(self.sessions):
            if user.notify != "digest" or self.area.rules.clients.get(user.client_id) is None:
                continue
            zone = self.area.zone(user.client_id)
            last = user.digest_sent_at
            if last is None:  # just chose the digest: the first one covers from now on
                await users.digest_sent(self.sessions, user.id, now)
                last = now
            due = next_digest(last, user.digest_at, zone)
            if due <= now:
                await self._digest(user, last, now)
                due = next_digest(now, user.digest_at, zone)
            due_next = due if due_next is None else min(due_next, due)
        return due_next

    async def _digest(self, user: users.User, last: datetime, now: datetime) -> None:
        """The messages of the day this user has not been told of yet."""
        since = min(last, now - timedelta(days=1))
        told = select(Notice.linkedid).where(Notice.user_id == user.id)
        async with self.sessions() as session:
            found = (
                await session.execute(
                    select(Call.linkedid)
                    .outerjoin(CallOutcome, CallOutcome.linkedid == Call.linkedid)
                    .where(Call.client_id == user.client_id, Call.linkedid.not_in(told))
                    .where(Call.arrived_at > since, Call.arrived_at <= now)
                    .where((CallOutcome.id.is_not(None)) | (Call.message_path.is_not(None)))
                    .order_by(Call.arrived_at)
                )
            ).scalars()
            linkedids = list(found)
        rows = [
            row
            for linkedid in linkedids
            if (row := await query.one(self.sessions, user.client_id, linkedid)) is not None
        ]
        await users.digest_sent(self.sessions, user.id, now)
        if not rows:
            return
        client = self.area.client_name(user.client_id)
        body = self.templates.render(
            "digest.txt",
            user.language,
            rows=rows,
            client=client,
            zone=self.area.zone(user.client_id),
            link=f"{self.area.public_url}/calls",
        )
        subject = tr(user.language, "Messages of the day for %(client)s", client=client)
        await self._send(self._mail(user.email, subject, body))
        for row in rows:
            await self._first_notice(user.id, row.linkedid)
