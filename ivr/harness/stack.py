"""One isolated stack: a real Asterisk 22, the engine as a real `ivr serve`
process, sipp phones and callers; for the end-to-end tests and the benchmark. Callers wait
on rows and status, never on fixed sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import signal
import sqlite3
import sys
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ivr import config
from ivr.ami.client import AmiClient
from ivr.ami.message import Message
from ivr.asterisk.instance import Asterisk
from ivr.asterisk.render import Trunk, render_instance
from ivr.control import bearer
from ivr.harness.ports import free_tcp_port, free_udp_port
from ivr.harness.sipp import Phone, SippResult, place_calls
from ivr.records import db, repo

_counter = itertools.count(1)
T = TypeVar("T")


POLL_INTERVAL = 0.1  # seconds between two reads of state only a query shows


async def poll(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout: float = 30.0,
    what: str = "a condition",
) -> T:
    """Read again until done(value) holds: for state only a query shows (database rows)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value = await read()
    while not done(value):
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {value!r}")
        await asyncio.sleep(POLL_INTERVAL)
        value = await read()
    return value


async def until(read: Callable[[], Awaitable[T]], timeout: float) -> T | None:
    """What `read` gives once it is something, or None when time is up: `poll` for the demos,
    which say what did not happen instead of failing."""
    try:
        return await poll(read, bool, timeout)
    except AssertionError:
        return None


def stack_settings(tmp: Path, rules: Path, rtp_ports: int = 200, **extra: Any) -> config.Settings:
    """Settings for one isolated instance: its own name, database and ports.

    Each call up at once takes two RTP ports per leg (RTP and RTCP), two legs when answered.
    """
    n = next(_counter)
    slots = 28000 // rtp_ports
    rtp = 30000 + ((os.getpid() * 7 + n * 13) % slots) * rtp_ports
    extra.setdefault("db_url", f"sqlite+aiosqlite:///{tmp / 'ivr.db'}")
    settings = config.load(environ={}, instance=f"t{os.getpid()}n{n}", rules=rules, **extra)
    ports = config.Ports(
        agi=free_tcp_port(),
        ami=free_tcp_port(),
        sip=free_udp_port(),
        http=free_tcp_port(),
        asterisk_http=free_tcp_port(),
        rtp_start=rtp,
        rtp_end=rtp + rtp_ports - 1,
    )
    return dataclasses.replace(settings, ports=ports)


class Stack:
    def __init__(
        self, settings: config.Settings, workdir: Path, trunk: Trunk | None = None
    ) -> None:
        self.settings = settings
        self.workdir = workdir
        self.trunk = trunk  # where the trunk's outgoing calls go (sipp contacts' phones)
        self.extra_env: dict[str, str] = {}  # more IVR_* settings for the engine process
        self.asterisk = Asterisk(settings)
        self.engine: asyncio.subprocess.Process | None = None
        self.engine_log = workdir / "engine.log"
        self.phones: list[Phone] = []
        self.db = db.make_engine(settings.db_url)
        self.sessions = db.session_factory(self.db)

    @property
    def sip(self) -> tuple[str, int]:
        return (self.settings.bind, self.settings.ports.sip)

    def engine_env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        env.update(
            IVR_INSTANCE=s.instance,
            IVR_DB_URL=s.db_url,
            IVR_RULES=str(s.rules),
            IVR_AMI_SECRET=s.ami_secret,
            IVR_AGI_TOKEN=s.agi_token,
            IVR_CONTROL_TOKEN=s.control_token,
            IVR_TRUNK_ADDRESSES=s.trunk_addresses,
            IVR_MAX_CALLS=str(s.max_calls),
            IVR_ESCALATION_PER_CALLER_HOUR=str(s.escalation_per_caller_hour),
            IVR_ESCALATION_PER_CLIENT_HOUR=str(s.escalation_per_client_hour),
            IVR_OUTBOUND_MAX_CALLS=str(s.outbound_max_calls),
            IVR_PORT_AGI=str(s.ports.agi),
            IVR_PORT_AMI=str(s.ports.ami),
            IVR_PORT_SIP=str(s.ports.sip),
            IVR_PORT_HTTP=str(s.ports.http),
            IVR_PORT_ASTERISK_HTTP=str(s.ports.asterisk_http),
            IVR_PORT_RTP_START=str(s.ports.rtp_start),
            IVR_PORT_RTP_END=str(s.ports.rtp_end),
            IVR_RING_TIMEOUT=str(s.ring_timeout),
            IVR_AGI_DEADLINE=str(s.agi_deadline),
            IVR_OUTBOUND_DIAL=s.outbound_dial,
            IVR_ESCALATION_TICK=str(s.escalation_tick),
            IVR_SMTP_HOST=s.smtp_host,
            IVR_SMTP_PORT=str(s.smtp_port),
            IVR_MAIL_FROM=s.mail_from,
            IVR_CONSOLE_GONE_SECONDS=str(s.console_gone_seconds),
        )
        if s.asterisk_root is not None:
            env["IVR_ASTERISK_ROOT"] = str(s.asterisk_root)
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        render_instance(self.settings, trunk=self.trunk)
        await self.asterisk.start()
        await self.start_engine()

    async def start_engine(self, timeout: float = 30.0) -> None:
        with open(self.engine_log, "ab") as out:
            self.engine = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr", "serve",
                env=self.engine_env(), stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await self.wait_for(lambda s: s["ami"]["connected"], timeout, "engine with AMI up")

    async def stop_engine(self, sig: int = signal.SIGTERM) -> None:
        if self.engine is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.engine.send_signal(sig)
        try:
            await asyncio.wait_for(self.engine.wait(), 20)
        except TimeoutError:
            self.engine.kill()
            await self.engine.wait()
        self.engine = None

    @contextlib.contextmanager
    def database_locked(self) -> Iterator[None]:
        """Hold the engine's SQLite database in an exclusive transaction: its writes wait out
        their busy timeout, then fail, as on a database that has gone away."""
        path = self.settings.db_url.split(":///", 1)[1]
        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            holder.rollback()
            holder.close()

    def status(self) -> dict[str, Any] | None:
        url = f"http://{self.settings.bind}:{self.settings.ports.http}/api/status"
        request = urllib.request.Request(url, headers=bearer(self.settings.control_token))
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                data: dict[str, Any] = json.loads(response.read())
                return data
        except OSError:
            return None

    async def wait_for(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.engine is not None and self.engine.returncode is not None:
                raise AssertionError(f"engine exited: {self.engine_log.read_text()[-3000:]}")
            status = await asyncio.to_thread(self.status)
            if status is not None and condition(status):
                return status
            await asyncio.sleep(0.1)  # polling the engine's status, not waiting for time
        raise AssertionError(f"timed out waiting for {what}; log:\n{self.log_tail()}")

    def log_tail(self) -> str:
        text = self.engine_log.read_text() if self.engine_log.exists() else ""
        return text[-3000:]

    async def phone(self, operator: str, ring_ms: int = 200) -> Phone:
        password = config.operator_password(self.settings, operator)
        phone = Phone(operator, password, self.sip, self.workdir, ring_ms=ring_ms)
        await phone.start()
        self.phones.append(phone)
        return phone

    async def call(self, number: str, **kwargs: Any) -> SippResult:
        return await place_calls(self.sip, number, **kwargs)

    async def wait_record(
        self, predicate: Callable[[repo.CallRecord], bool], timeout: float = 30.0
    ) -> repo.CallRecord:
        """Wait for a call record that satisfies predicate (a row, not a sleep)."""
        records = await poll(
            lambda: repo.list_calls(self.sessions, limit=50),
            lambda seen: any(predicate(r) for r in seen),
            timeout,
            "a matching call record",
        )
        return next(r for r in records if predicate(r))

    async def close(self) -> None:
        for phone in self.phones:
            await phone.stop()
        await self.stop_engine()
        await self.asterisk.stop()
        await self.db.dispose()
        shutil.rmtree(self.settings.host_run_dir, ignore_errors=True)
        shutil.rmtree(self.settings.state_dir, ignore_errors=True)


class AmiEvents:
    """A test's own AMI connection to the stack's Asterisk: every event, for assertions.

    async with AmiEvents(stack) as events:
        await stack.call(...)
        answered = await events.wait(lambda e: e.event == "DialEnd")
    """

    def __init__(self, stack: Stack) -> None:
        s = stack.settings
        self.seen: list[Message] = []
        self.changed = asyncio.Event()
        self.client = AmiClient(s.bind, s.ports.ami, s.ami_user, s.ami_secret, on_event=self.add)

    async def add(self, event: Message) -> None:
        self.seen.append(event)
        self.changed.set()

    async def wait(self, predicate: Callable[[Message], bool], timeout: float = 30.0) -> Message:
        """The first event, seen or still to come, that satisfies predicate."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.seen:
                    if predicate(event):
                        return event
                self.changed.clear()
                await self.changed.wait()

    def all(self, predicate: Callable[[Message], bool]) -> list[Message]:
        return [event for event in self.seen if predicate(event)]

    async def __aenter__(self) -> AmiEvents:
        await self.client.start()
        await self.client.wait_connected(10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()
