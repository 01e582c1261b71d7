"""Start, wait for and stop one isolated Asterisk instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

from ivr.asterisk.account import account
from ivr.asterisk.provision import asterisk_command
from ivr.config import Settings

log = logging.getLogger(__name__)


class AsteriskError(Exception):
    pass


class Asterisk:
    """One Asterisk process running from this instance's run folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conf = settings.run_dir / "etc" / "asterisk.conf"
        self.process: asyncio.subprocess.Process | None = None

    def _command(self, *args: str) -> list[str]:
        return [*asterisk_command(self.settings.asterisk_root), "-C", str(self.conf), *args]

    def _run_as(self) -> list[str]:
        """-U/-G: started by root, Asterisk drops to its own unprivileged account."""
        owner = account(self.settings)
        return ["-U", owner.user, "-G", owner.group] if owner else []

    async def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command through the instance's control socket."""
        proc = await asyncio.create_subprocess_exec(
            *self._command("-rx", command),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AsteriskError(f"asterisk -rx {command!r} timed out") from None
        if proc.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} failed: {out.decode().strip()}")
        return out.decode()

    async def start(self, timeout: float = 60.0) -> None:
        if self.settings.asterisk_root is not None:
            if not (self.settings.asterisk_root / "usr/sbin/asterisk").exists():
                raise AsteriskError("Asterisk is not provisioned: run `ivr asterisk provision`")
        if await self.running():
            raise AsteriskError(f"an Asterisk instance {self.settings.instance!r} already runs")
        self.check_ports()
        log_path = self.settings.host_run_dir / "log" / "console.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as console:
            self.process = await asyncio.create_subprocess_exec(
                *self._command("-f", "-n", *self._run_as()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=console,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        await self.wait_ready(timeout)

    def check_ports(self) -> None:
        """Refuse to start over another process's ports: Asterisk would start anyway, deaf."""
        s = self.settings
        for kind, port, what in (
            (socket.SOCK_STREAM, s.ports.ami, "AMI"),
            (socket.SOCK_DGRAM, s.ports.sip, "SIP"),
        ):
            with socket.socket(socket.AF_INET, kind) as sock:
                # As Asterisk binds: connections in TIME_WAIT do not hold the port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((s.bind, port))
                except OSError as exc:
                    raise AsteriskError(
                        f"{what} port {s.bind}:{port} is taken by another process ({exc.strerror});"
                        " stop it or choose other ports (IVR_PORT_AMI, IVR_PORT_SIP)"
                    ) from None

    async def start_daemon(self, timeout: float = 60.0) -> None:
        """Start Asterisk in the background, outliving this process (`ivr asterisk start`)."""
        if await self.running():
            return
        self.check_ports()
        proc = await asyncio.create_subprocess_exec(
            *self._command("-n", *self._run_as()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        if await proc.wait() != 0:
            raise AsteriskError(f"Asterisk failed to start (exit {proc.returncode})")
        await self.wait_ready(timeout)

    async def running(self) -> bool:
        try:
            await self.cli("core show version", timeout=5)
        except AsteriskError:
            return False
        return True

    async def wait_ready(self, timeout: float) -> None:
        """Poll until Asterisk has fully booted, or its process died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.process is not None and self.process.returncode is not None:
                raise AsteriskError(
                    f"Asterisk exited with {self.process.returncode}; see {self.console_log}"
                )
            with contextlib.suppress(AsteriskError):
                await self.cli("core waitfullybooted", timeout=max(1.0, deadline - loop.time()))
                return
            await asyncio.sleep(0.1)  # between polls of a process that is starting
        raise AsteriskError(f"Asterisk did not boot within {timeout} s; see {self.console_log}")

    @property
    def console_log(self) -> Path:
        return self.settings.host_run_dir / "log" / "console.log"

    async def stop(self, timeout: float = 20.0) -> None:
        with contextlib.suppress(AsteriskError):
            await self.cli("core stop now", timeout=timeout)
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                log.warning("Asterisk did not stop in %s s; killing it", timeout)
                self.process.kill()
                await self.process.wait()
            self.process = None
