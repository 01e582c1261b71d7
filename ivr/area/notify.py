"""Telling a client's users of new messages: the live pages (server-sent events with the
unread count), an email per message or per urgent message, and a daily digest at the time
each user chose, in the client's time zone.

Messages come as outbox rows (ivr.records.outbox), written where the message is saved (the
console's outcome, the AMI event of a recording): whichever engine takes a row tells the
users, so with several engines each message is told once. The notifier sleeps until it is
woken (a new row, a user's new choice: ivr.wake, across engines on PostgreSQL) or until the
next thing is due (a digest, a retry, the lease of a row whose engine died): no polling.
Each message is told to each user once (area_notices, unique per user and message); a
digest is sent by the engine that moves its user's digest_sent_at (compare-and-set). An
email whose engine died between the mail server's answer and the commit is sent again
with the same Message-ID, which mail programs show once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import os
import secrets
import smtplib
import socket
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ivr.area import query, users
from ivr.area.models import Notice
from ivr.i18n import Templates, tr
from ivr.portal.models import CallOutcome
from ivr.records import outbox
from ivr.records.models import Call
from ivr.routing.dispatch import choose

if TYPE_CHECKING:
    from ivr.area.app import Area
    from ivr.lease import Job

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0
LEASE = "notices"  # the engine holding it tells new messages and sends the digests
WAKE_CALLS = "area.calls"  # a call of a client was stored (payload: the client's id)
WAKE_PREFS = "area.prefs"  # a user changed how to be told: digests are due at new times
DIGEST_RETRY = timedelta(minutes=10)  # a digest the mail server refused, tried again
KEEP_DONE = timedelta(days=30)  # outbox rows done are forgotten after this


class Sent(enum.Enum):
    YES = "sent"
    FAILED = "failed"  # the mail server is away or refused it: try again later
    OFF = "off"  # no mail server is configured: nothing is sent, nothing is retried


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
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()
        self._job: Job | None = None
        self._digest_retry: dict[int, datetime] = {}
        self._forgotten: datetime | None = None

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    def _now(self) -> datetime:
        return self.area.services.clock()

    # -- the loop ------------------------------------------------------------------------

    def start(self) -> None:
        # One engine tells and sends the digests (the lease holder); the outbox's own row
        # leases keep each message told once even while a lease changes hands.
        self._job = self.area.services.leases.run(LEASE, self._run)

    def wake(self) -> None:
        """Something may be due now (a new outbox row, a user's new choice)."""
        self._wake.set()

    async def close(self) -> None:
        if self._job is not None:
            await self._job.close()

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before the step: a wake-up during it is not lost
            try:
                due = await self.step(self._now())
            except Exception:
                log.exception("area: the notifier's step failed")
                due = self._now() + timedelta(minutes=1)
            delay = None if due is None else max(0.0, (due - self._now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def step(self, now: datetime) -> datetime | None:
        """Tell what is due at `now`; when something is due next (None: only a wake-up)."""
        dues = [await self.tell_pending(now), await self.digests(now)]
        if self._forgotten is None or now - self._forgotten > timedelta(days=1):
            await outbox.forget(self.sessions, now - KEEP_DONE)
            self._forgotten = now
        return min((d for d in dues if d is not None), default=None)

    # -- new messages --------------------------------------------------------------------

    async def tell_pending(self, now: datetime) -> datetime | None:
        """The outbox's messages due now, each taken by this engine alone; the next due."""
        for work in await outbox.take(self.sessions, outbox.MESSAGE, self.me, now):
            try:
                problem = await self._tell(work, now)
            except Exception as exc:
                log.exception("area: telling of message %s failed", work.key)
                problem = repr(exc)
            if problem is None:
                await outbox.done(self.sessions, work, now)
            else:
                await outbox.retry(self.sessions, work, now, problem)
        return await outbox.next_due(self.sessions, outbox.MESSAGE)

    async def _tell(self, work: outbox.Work, now: datetime) -> str | None:
        """Email the users of the message's client who want it; what failed, or None."""
        linkedid, urgent = str(work.data["linkedid"]), bool(work.data.get("urgent"))
        client_id = work.client_id or ""
        row = await query.one(self.sessions, client_id, linkedid)
        if row is None:
            return None  # the call is gone (erased): nothing to tell
        client = self.area.rules.clients.get(client_id)
        answers = {a.field: a.value for a in row.answers}
        if client and "email" not in choose(client.dispatch, row.category, urgent, answers):
            return None  # the client's dispatch rules: not at once (the daily report has it)
        failed = []
        for user in await users.of_client(self.sessions, client_id):
            wanted = user.notify == "each" or (user.notify == "urgent" and urgent)
            if not wanted or not await self._take_notice(user.id, linkedid, now):
                continue
            sent = await self._send(self._message_email(user, row, urgent))
            if sent is Sent.YES:
                await self._notice_sent(user.id, linkedid, now)
            else:
                await self._notice_dropped(user.id, linkedid)
                if sent is Sent.FAILED:
                    failed.append(user.email)
        return f"mail to {', '.join(failed)} failed" if failed else None

    async def _take_notice(self, user_id: int, linkedid: str, now: datetime) -> bool:
        """This engine tells this user of this message: True once, until it is dropped; a
        notice taken by an engine that died is taken again after the outbox's lease."""
        try:
            async with self.sessions.begin() as session:
                session.add(Notice(user_id=user_id, linkedid=linkedid, at=now))
            return True
        except IntegrityError:
            pass
        async with self.sessions.begin() as session:
            result: Any = await session.execute(
                update(Notice)
                .where(Notice.user_id == user_id, Notice.linkedid == linkedid)
                .where(Notice.sent_at.is_(None), Notice.at <= now - outbox.LEASE)
                .values(at=now)
            )
        return bool(result.rowcount == 1)

    async def _notice_sent(self, user_id: int, linkedid: str, now: datetime) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(Notice)
                .where(Notice.user_id == user_id, Notice.linkedid == linkedid)
                .values(sent_at=now)
            )

    async def _notice_dropped(self, user_id: int, linkedid: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                delete(Notice).where(
                    Notice.user_id == user_id,
                    Notice.linkedid == linkedid,
                    Notice.sent_at.is_(None),
                )
            )

    def _message_email(self, user: users.User, row: query.Row, urgent: bool) -> EmailMessage:
        client = self.area.client_name(user.client_id)
        lang = user.language
        subject = (
            tr(lang, "URGENT message for %(client)s", client=client)
            if urgent or row.urgent
            else tr(lang, "New message for %(client)s", client=client)
        )
        body = self.templates.render(
            "message.txt",
            lang,
            row=row,
            urgent=urgent or row.urgent,
            client=client,
            zone=self.area.zone(user.client_id),
            link=f"{self.area.public_url}/calls/{row.linkedid}",
        )
        return self._mail(user.email, subject, body, f"message|{user.id}|{row.linkedid}")

    def _mail(self, to: str, subject: str, body: str, ident: str = "") -> EmailMessage:
        message = EmailMessage()
        sender = self.area.services.settings.mail_from
        message["From"] = sender
        message["To"] = to
        message["Subject"] = " ".join(subject.split())  # a caller's words: no header breaks
        if ident:  # the same email sent again is the same Message-ID
            digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
            domain = sender.rpartition("@")[2].strip(" >") or "ivr.invalid"
            message["Message-ID"] = f"<{digest}@{domain}>"
        message.set_content(body)
        return message

    async def send_mail(self, to: str, subject: str, body: str) -> None:
        await self._send(self._mail(to, subject, body))

    async def _send(self, message: EmailMessage) -> Sent:
        settings = self.area.services.settings
        if not settings.smtp_host:
            log.info("area: no smtp_host: not sent %r to %s", message["Subject"], message["To"])
            return Sent.OFF

        def send() -> None:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as s:
                s.send_message(message)

        try:
            await asyncio.to_thread(send)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("area: mail to %s failed: %r", message["To"], exc)
            return Sent.FAILED
        log.info("area: mail %r sent to %s", message["Subject"], message["To"])
        return Sent.YES

    # -- the daily digest ----------------------------------------------------------------

    async def digests(self, now: datetime) -> datetime | None:
        """Send the digests due at `now`; when the next one is due (None: no digest users)."""
        due_next: datetime | None = None
        for user in await users.all_users(self.sessions):
            if user.notify != "digest" or self.area.rules.clients.get(user.client_id) is None:
                continue
            zone = self.area.zone(user.client_id)
            last = user.digest_sent_at
            if last is None:  # just chose the digest: the first one covers from now on
                await users.digest_moved(self.sessions, user.id, None, now)
                last = now
            due = next_digest(last, user.digest_at, zone)
            retry = self._digest_retry.get(user.id)
            if due <= now and (retry is None or retry <= now):
                # Of several engines, the one that moves digest_sent_at sends this digest.
                if await users.digest_moved(self.sessions, user.id, last, now):
                    if await self._digest(user, last, now) is Sent.FAILED:
                        await users.digest_moved(self.sessions, user.id, now, last)
                        self._digest_retry[user.id] = now + DIGEST_RETRY
                        due = now + DIGEST_RETRY
                    else:
                        self._digest_retry.pop(user.id, None)
                        due = next_digest(now, user.digest_at, zone)
                else:
                    due = next_digest(now, user.digest_at, zone)
            elif retry is not None and retry > now:
                due = retry
            due_next = due if due_next is None else min(due_next, due)
        return due_next

    async def _digest(self, user: users.User, last: datetime, now: datetime) -> Sent:
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
        if not rows:
            return Sent.YES
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
        sent = await self._send(
            self._mail(user.email, subject, body, f"digest|{user.id}|{now.isoformat()}")
        )
        if sent is Sent.YES:
            for row in rows:
                if await self._take_notice(user.id, row.linkedid, now):
                    await self._notice_sent(user.id, row.linkedid, now)
        return sent
