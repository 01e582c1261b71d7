"""An asyncio AMI client that keeps itself connected.

One run loop connects, reads the banner, logs in and then reads until the link ends; it
reconnects with a capped backoff, forever, until close(). Responses are matched to actions by
ActionID. Events go on one queue drained by one consumer task, which awaits on_event for each
in arrival order, so what handlers write happens in the order Asterisk said it. on_connect
runs on that same consumer after each login, so a resynchronisation never overlaps an event
handler; events that arrive meanwhile are handled after it, in order. The queue is bounded:
when the consumer falls that far behind, new events are dropped (and counted) and on_connect
runs again once the queue has drained, to resynchronise what the dropped events would have
said.

Why not panoramisk's Manager: it runs each event callback as a separate future (so they
overlap, can apply out of order and lose their exceptions), leaves actions pending forever
when the link drops, and its pinger writes to a closed protocol.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ivr.ami.message import Fields, Message, encode, parse

logger = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
_READ_LIMIT = 1 << 20  # one message; Asterisk's longest (a Command's Output) is far below
_CHUNK = 1 << 16
_BACKLOG_WARNING = 1000  # queued events not yet handled: on_event is falling behind
_BATCH_MAX = 500  # events handed to on_batch at once
QUEUE_MAX = 50_000  # events received and not yet handled; past this they are dropped

EventHandler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[list[Message]], Awaitable[None]]
ConnectHandler = Callable[[], Awaitable[None]]


class AmiError(Exception):
    """Base of this module's errors."""


class AmiDisconnected(AmiError):
    """Not logged in, or the link dropped before the action was answered."""


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error`; the whole answer is in `.message`."""

    def __init__(self, message: Message) -> None:
        self.message = message
        action_id = message.action_id or "-"
        super().__init__(f"{message.get('Message', 'error')} (ActionID {action_id})")


@dataclass
class _Pending:
    future: asyncio.Future[Message | list[Message]]
    is_list: bool
    items: list[Message] = field(default_factory=list)


class _Link:
    """One TCP connection and the actions waiting on it; it dies with the connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[str, _Pending] = {}
        self.closed = False

    def fail_pending(self, reason: str) -> None:
        self.closed = True
        for pending in self.pending.values():
            if not pending.future.done():
                pending.future.set_exception(AmiDisconnected(reason))
        self.pending.clear()

    def abort(self) -> None:
        self.writer.transport.abort()


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: EventHandler | None = None,
        on_batch: BatchHandler | None = None,
        on_connect: ConnectHandler | None = None,
        reconnect_delay: float = 1.0,
        reconnect_max_delay: float = 5.0,
        action_timeout: float = 10.0,
        events: str = "on",
        ping_interval: float = 20.0,
        queue_max: int = QUEUE_MAX,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self._on_event = on_event
        self._on_batch = on_batch
        self._on_connect = on_connect
        self._reconnect_delay = reconnect_delay
        self._reconnect_max_delay = max(reconnect_max_delay, reconnect_delay)
        self._action_timeout = action_timeout
        self._events = events
        self._ping_interval = ping_interval
        self._link: _Link | None = None
        self._logged_in = asyncio.Event()
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue()  # None: "just logged in"
        self._queue_max = queue_max
        self._backlog_warned = False
        self.dropped = 0  # events dropped because the queue was full
        self._lost = False  # events were dropped since the last resynchronisation
        self._id_prefix = secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._run_task: asyncio.Task[None] | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._closing = False

    # -- public API ------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Events received and not yet handled."""
        return self._queue.qsize()

    @property
    def connected(self) -> bool:
        """Logged in on a live link."""
        return self._logged_in.is_set()

    async def start(self) -> None:
        """Start connecting in the background; returns at once (see wait_connected)."""
        if self._run_task is not None:
            raise RuntimeError("AmiClient already started")
        self._consumer_task = asyncio.create_task(self._consume(), name="ami-events")
        self._run_task = asyncio.create_task(self._run(), name="ami-run")

    # A timeout parameter (ruff ASYNC109) is the agreed API: every action has a default
    # deadline, and the call sites read better with it than wrapped in asyncio.timeout().
    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return once logged in; TimeoutError if that takes longer than `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._logged_in.wait()

    async def close(self) -> None:
        """Log off if possible, stop every task, fail what is pending. Safe to call twice.

        Events received but not yet handled are dropped: on_connect resynchronises next time.
        """
        self._closing = True
        link = self._link
        if link is not None and self.connected:
            try:
                await self._request(link, {"Action": "Logoff"}, is_list=False, limit=1.0)
            except (AmiError, TimeoutError, OSError) as exc:
                logger.debug("AMI logoff not acknowledged: %s", exc)
        for task in (self._run_task, self._consumer_task):
            if task is not None and not task.done():
                task.cancel()
                # asyncio.wait does not raise the task's CancelledError, yet still raises ours.
                await asyncio.wait([task])

    async def send_action(
        self,
        fields: Fields,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Message:
        """Send one action and return its Response.

        Raises AmiActionError on `Response: Error`, AmiDisconnected if not logged in or if
        the link drops first, TimeoutError after `timeout` (default action_timeout), and
        ValueError (nothing sent) if a field holds CR/LF or already has an ActionID.
        """
        result = await self._request(self._live_link(), fields, is_list=False, limit=timeout)
        assert isinstance(result, Message)
        return result

    async def send_action_list(
        self,
        fields: Fields,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[Message]:
        """Send an action answered by an event list (QueueStatus, CoreShowChannels, ...).

        Returns the list's item events in order, without the initial Response and without
        the closing `EventList: Complete` event. `timeout` covers the whole list.
        """
        result = await self._request(self._live_link(), fields, is_list=True, limit=timeout)
        assert isinstance(result, list)
        return result

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout_ms: int = 30000,
        async_: bool = True,
        application: str | None = None,
        data: str | None = None,
    ) -> Message:
        """Originate a call to `channel`, then either a dialplan place or an application.

        With async_ (the default) Asterisk answers at once and reports the outcome later in
        an OriginateResponse event carrying the returned message's ActionID.
        """
        if (application is None) == (context is None or exten is None):
            raise ValueError("originate needs either context and exten, or application")
        fields: list[tuple[str, str]] = [("Action", "Originate"), ("Channel", channel)]
        if application is not None:
            fields.append(("Application", application))
            if data is not None:
                fields.append(("Data", data))
        else:
            assert context is not None and exten is not None
            fields += [("Context", context), ("Exten", exten), ("Priority", str(priority))]
        if caller_id is not None:
            fields.append(("CallerID", caller_id))
        fields += [("Timeout", str(timeout_ms)), ("Async", "true" if async_ else "false")]
        for name, value in (variables or {}).items():
            if "=" in name:
                raise ValueError(f"originate variable name {name!r} contains '='")
            fields.append(("Variable", f"{name}={value}"))
        # A synchronous Originate is answered only once the call is answered or has failed.
        timeout = None if async_ else timeout_ms / 1000 + self._action_timeout
        return await self.send_action(fields, timeout=timeout)

    # -- actions ---------------------------------------------------------------------------

    def _live_link(self) -> _Link:
        link = self._link
        if link is None or link.closed or not self.connected:
            raise AmiDisconnected(f"not logged in to AMI at {self.host}:{self.port}")
        return link

    async def _request(
        self, link: _Link, fields: Fields, *, is_list: bool, limit: float | None
    ) -> Message | list[Message]:
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        if any(key.lower() == "actionid" for key, _ in pairs):
            raise ValueError("ActionID is set by AmiClient; it matches responses with it")
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        payload = encode([*pairs, ("ActionID", action_id)])  # raises before anything is sent
        if link.closed:
            raise AmiDisconnected("AMI link closed")
        pending = _Pending(asyncio.get_running_loop().create_future(), is_list)
        link.pending[action_id] = pending
        try:
            async with asyncio.timeout(self._action_timeout if limit is None else limit):
                link.writer.write(payload)
                try:
                    await link.writer.drain()
                except OSError as exc:
                    raise AmiDisconnected(f"AMI link lost while sending: {exc}") from exc
                return await pending.future
        finally:
            link.pending.pop(action_id, None)

    # -- connection ------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._reconnect_delay
        while True:
            logged_in = False
            try:
                logged_in = await self._session()
            except AmiActionError as exc:
                logger.error(
                    "AMI login to %s:%d as %r refused: %s", self.host, self.port, self.username, exc
                )
            except (OSError, TimeoutError, AmiError, ValueError) as exc:
                logger.warning("AMI link to %s:%d failed: %r", self.host, self.port, exc)
            except Exception:
                logger.exception("AMI session to %s:%d crashed", self.host, self.port)
            if self._closing:
                return
            if logged_in:
                delay = self._reconnect_delay
            logger.info("AMI reconnecting to %s:%d in %.1fs", self.host, self.port, delay)
            await asyncio.sleep(delay)
            if not logged_in:
                delay = min(delay * 2, self._reconnect_max_delay)

    async def _session(self) -> bool:
        """One connection from connect to loss; True if it got as far as logging in."""
        async with asyncio.timeout(self._action_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=_READ_LIMIT)
        link = _Link(reader, writer)
        reader_task: asyncio.Task[None] | None = None
        ping_task: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self._action_timeout):
                banner = (await reader.readline()).decode("utf-8", "replace").strip()
            if not banner.startswith(BANNER_PREFIX):
                raise AmiError(f"not an AMI server, it greeted with {banner[:80]!r}")
            self._link = link
            reader_task = asyncio.create_task(self._read_loop(link), name="ami-reader")
            await self._request(
                link,
                {
                    "Action": "Login",
                    "Username": self.username,
                    "Secret": self._secret,
                    "Events": self._events,
                },
                is_list=False,
                limit=None,
            )
            if link.closed:  # the reader met EOF right behind the login response
                raise AmiDisconnected("AMI link lost just after login")
            logger.info("AMI logged in to %s:%d (%s)", self.host, self.port, banner)
            self._logged_in.set()
            self._queue.put_nowait(None)  # the consumer calls on_connect, in turn with events
            ping_task = asyncio.create_task(self._ping_loop(link), name="ami-ping")
            await reader_task
            if not self._closing:
                logger.warning("AMI link to %s:%d lost", self.host, self.port)
            return True
        finally:
            self._logged_in.clear()
            self._link = None
            link.fail_pending("AMI link lost")
            for task in (ping_task, reader_task):
                if task is not None and not task.done():
                    task.cancel()
                    await asyncio.wait([task])
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (OSError, TimeoutError):
                pass  # closed either way; only the goodbye was lost

    async def _ping_loop(self, link: _Link) -> None:
        """A silent dead link (no FIN, no RST) is only found by asking."""
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                await self._request(
                    link,
                    {"Action": "Ping"},
                    is_list=False,
                    limit=min(self._action_timeout, self._ping_interval),
                )
            except AmiDisconnected:
                return
            except (TimeoutError, AmiActionError) as exc:
                logger.warning("AMI ping to %s:%d failed: %r", self.host, self.port, exc)
                link.abort()
                return

    # -- reading ---------------------------------------------------------------------------

    async def _read_loop(self, link: _Link) -> None:
        """Read until EOF; lives exactly as long as the connection (the ping bounds it)."""
        try:
            async for message in _messages(link.reader):
                self._dispatch(link, message)
        except (OSError, ValueError) as exc:  # ValueError: a message over _READ_LIMIT
            logger.warning("AMI read from %s:%d failed: %r", self.host, self.port, exc)
        finally:
            # Not logged in any more by the time a waiting action hears of the loss.
            self._logged_in.clear()
            link.fail_pending("AMI link lost")

    def _dispatch(self, link: _Link, message: Message) -> None:
        action_id = message.action_id
        pending = link.pending.get(action_id) if action_id is not None else None
        # Event first: some events carry a Response header too (OriginateResponse does).
        if message.event is not None:
            if pending is not None and pending.is_list and not pending.future.done():
                if message.get("EventList", "").lower() in {"complete", "cancelled"}:
                    pending.future.set_result(pending.items)
                else:
                    pending.items.append(message)
            else:
                self._enqueue(message)
        elif message.response is not None:
            if pending is None or pending.future.done():
                logger.debug("AMI response to no waiting action: %r", message)
            elif message.response.lower() == "error":
                pending.future.set_exception(AmiActionError(message))
            elif not pending.is_list:
                pending.future.set_result(message)
        else:
            logger.debug("AMI message neither response nor event: %r", message)

    def _enqueue(self, message: Message) -> None:
        if self._queue.qsize() >= self._queue_max:
            if not self._lost:
                logger.error("AMI event queue full (%d): dropping events", self._queue_max)
            self.dropped += 1
            self._lost = True
            return
        self._queue.put_nowait(message)
        backlog = self._queue.qsize()
        if backlog >= _BACKLOG_WARNING and not self._backlog_warned:
            self._backlog_warned = True
            logger.warning("AMI event handler is %d events behind", backlog)
        elif backlog < _BACKLOG_WARNING // 2:
            self._backlog_warned = False

    def _backlog(self, first: Message) -> tuple[list[Message], bool]:
        """`first` and the events queued behind it; True if a login marker ended the batch."""
        batch = [first]
        while len(batch) < _BATCH_MAX:
            try:
                following = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if following is None:
                return batch, True
            batch.append(following)
        return batch, False

    async def _consume(self) -> None:
        while True:
            message = await self._queue.get()
            logged_in = message is None
            try:
                if message is not None and self._on_batch is not None:
                    batch, logged_in = self._backlog(message)
                    await self._on_batch(batch)
                elif message is not None and self._on_event is not None:
                    await self._on_event(message)
            except Exception:
                assert message is not None
                logger.exception("AMI event handler failed on %s", message.event)
            if self._lost and self._queue.empty():
                self._lost = False
                logged_in = True  # what the dropped events said is asked for again
            if logged_in and self._on_connect is not None:
                try:
                    await self._on_connect()
                except Exception:
                    logger.exception("AMI on_connect failed")


# A message ends with an empty line: CRLF CRLF from Asterisk, a bare LF tolerated.
_END = re.compile(rb"\r?\n\r?\n")


async def _messages(reader: asyncio.StreamReader) -> AsyncIterator[Message]:
    """Every message until EOF (a half message at EOF is dropped), read in large chunks: one
    read and one split for many messages, not one read per header line."""
    pending = b""
    while chunk := await reader.read(_CHUNK):
        pending += chunk
        *blocks, pending = _END.split(pending)
        for block in blocks:
            if block.strip():
                yield parse(block)
        if len(pending) > _READ_LIMIT:
            raise ValueError(f"an AMI message longer than {_READ_LIMIT} bytes")
