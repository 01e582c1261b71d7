"""The cluster's PostgreSQL with a standby that takes over: pg_auto_failover (Debian's
`postgresql-15-auto-failover` and `pg-auto-failover-cli`), a monitor and two (or more) data
nodes, each a `pg_autoctl run` started detached like the cluster's other processes.

Why pg_auto_failover: for two or three hosts it is the smaller set-up (two packages, no
coordination service to run beside it, the connection string printed for you); Patroni needs
an etcd or Consul member on every host. The monitor decides: it promotes the standby when the
primary stops answering; a synchronous standby means a commit the client saw is on both.

Every engine connects with one multi-host address that finds the primary wherever it is:

    postgresql+asyncpg://ivr:PASSWORD@/ivr?host=H1:P1&host=H2:P2&target_session_attrs=read-write&ssl=require

Passwords and TLS are a floor (ivr/cluster/dbauth.py): every part is made with `--auth
scram-sha-256 --ssl-self-signed`, initdb's `trust` lines leave pg_hba.conf, and the three
users get their passwords without one ever being on a command line.

The timers are tuned down from pg_auto_failover's defaults (50 s from a lost primary node to a
new one) with margins for a loaded host; TIMERS says which and why.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ivr.cluster.dbauth import (
    MONITOR_DB,
    MONITOR_USER,
    REPLICATION_USER,
    Passwords,
    check_auth,
    harden_hba,
    pgpass_text,
    scram_verifier,
)
from ivr.cluster.proc import gone, live_pid, spawn, tail
from ivr.config import ConfigError

log = logging.getLogger(__name__)

# The monitor's timers (milliseconds; pgautofailover.* settings of the monitor's PostgreSQL).
# Defaults: a node is checked every 5 s, unhealthy after 20 s, and a primary that stopped
# answering is given 30 s to demote itself before its standby is promoted. Here: checked every
# second, unhealthy after 6 s without a report and a failed check, 4 s more for the demotion.
# A data node reports every second; on a loaded shared host a report can lag by a second or
# two, hence 6 s and not 2: a standby promoted while its primary lives is what must not happen.
MONITOR_TIMERS = {
    "pgautofailover.health_check_period": 1000,
    "pgautofailover.health_check_timeout": 1000,
    "pgautofailover.health_check_max_retries": 2,
    "pgautofailover.health_check_retry_delay": 500,
    "pgautofailover.node_considered_unhealthy_timeout": 6000,
    "pgautofailover.primary_demote_timeout": 4000,
    "pgautofailover.startup_grace_period": 5000,
}
# The data nodes' own timers (seconds, pg_autoctl.cfg). A primary that reaches neither the
# monitor nor its standby for network_partition_timeout demotes itself: shorter than the
# monitor's unhealthy + demote time, so an old primary cut off by the network has stopped
# taking writes before its standby takes over.
NODE_TIMERS = {
    "timeout.network_partition_timeout": 5,
    "timeout.prepare_promotion_catchup": 10,
    "timeout.prepare_promotion_walreceiver": 2,
    "timeout.postgresql_restart_failure_timeout": 10,
}
READY_TIMEOUT = 180.0  # seconds for a new formation to have its primary and standby


@dataclass(frozen=True)
class DatabaseSpec:
    """A [cluster.database] table: the monitor's port, one port per data node, where, and
    how the parts authenticate."""

    monitor: int
    ports: tuple[int, ...]
    address: str = "127.0.0.1"
    name: str = "ivr"  # the database the engines use
    user: str = "ivr"
    timers: dict[str, int] = field(default_factory=dict)  # overrides of MONITOR_TIMERS
    auth: str = "scram-sha-256"
    passwords: Passwords | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_auth(self.auth, [self.address])

    @property
    def tls(self) -> bool:
        """TLS wherever passwords are used (pg_autoctl's self-signed certificates): the
        tested set-up is the one a center on several hosts runs."""
        return self.auth != "trust"

    def _password(self, kind: str) -> str:
        if self.auth == "trust":
            return ""
        if self.passwords is None:
            raise ConfigError("cluster.database: scram-sha-256 without its passwords")
        return str(getattr(self.passwords, kind))

    def _user(self, shown: bool) -> str:
        password = self._password("engines")
        if not password:
            return self.user
        return f"{self.user}:{quote(password, safe='') if shown else '***'}"

    def _url(self, shown: bool) -> str:
        hosts = "&".join(f"host={self.address}:{port}" for port in self.ports)
        ssl = "&ssl=require" if self.tls else ""
        return (
            f"postgresql+asyncpg://{self._user(shown)}@/{self.name}?{hosts}"
            f"&target_session_attrs=read-write{ssl}"
        )

    @property
    def url(self) -> str:
        """The engines' SQLAlchemy URL: every data node, the primary found at connect; with
        the engines' password (a secret: written to files of mode 0600 alone, never logged)."""
        return self._url(shown=True)

    @property
    def shown_url(self) -> str:
        """The same without its password, to print."""
        return self._url(shown=False)

    @property
    def monitor_uri(self) -> str:
        """The monitor's address as pg_autoctl is given it: no password (the password file
        has it), TLS required when on."""
        mode = "require" if self.tls else "disable"
        return (
            f"postgres://{MONITOR_USER}@{self.address}:{self.monitor}/{MONITOR_DB}?sslmode={mode}"
        )

    def security_args(self) -> list[str]:
        """`pg_autoctl create` options: the floor checked where the parts are made."""
        check_auth(self.auth, [self.address])
        if self.auth == "trust":
            return ["--auth", "trust", "--no-ssl"]
        self._password("engines")
        return ["--auth", self.auth, "--ssl-self-signed"]


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found or shutil.which("pg_autoctl") is None:
        raise DatabaseError(
            "pg_auto_failover is missing: apt-get install postgresql-15-auto-failover "
            "pg-auto-failover-cli (make sysdeps does)"
        )
    return found[-1].parent


class DatabaseError(RuntimeError):
    pass


class FailoverDatabase:
    """The monitor and data nodes of one spec, their files under `folder`."""

    def __init__(self, spec: DatabaseSpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.names = [f"db{i + 1}" for i in range(len(spec.ports))]

    # -- files and environment ---------------------------------------------------------------

    def pgdata(self, name: str) -> Path:
        return self.folder / name / "pgdata"

    def pid_file(self, name: str) -> Path:
        return self.folder / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def _env(self, name: str) -> dict[str, str]:
        """pg_autoctl keeps its config and state under XDG folders: the node's own ones."""
        home = self.folder / name
        # the passwords reach pg_autoctl through its password file alone
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "XDG_", "IVR_DB_"))}
        env.update(
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_RUNTIME_DIR=str(home / "run"),
            PATH=f"{_bindir()}:{env.get('PATH', '/usr/bin:/bin')}",
        )
        if os.geteuid() == 0:  # libpq looks in ~/.postgresql for TLS files: postgres's home
            env["HOME"] = pwd.getpwnam("postgres").pw_dir
        if self.spec.auth != "trust":
            env["PGPASSFILE"] = str(self._passfile())
        return env

    def _passfile(self) -> Path:
        """The passwords pg_autoctl, pg_basebackup and the standby's walreceiver read
        (libpq's password file: mode 0600, the postgres user's), written again at every
        start so that passwords given by the environment reach it."""
        path = self.folder / "pgpass"
        text = pgpass_text(self.spec.monitor, self.spec.user, self.spec.passwords)
        with contextlib.suppress(OSError):
            if path.read_text() == text:
                return path
        self._mkdir(self.folder)
        part = path.with_name(".pgpass.new")
        part.unlink(missing_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        if os.geteuid() == 0:
            shutil.chown(part, "postgres", "postgres")
        part.replace(path)
        return path

    def _as_postgres(self) -> dict[str, Any]:
        """PostgreSQL refuses to run as root: its tools run as the postgres user then."""
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def _mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    async def _autoctl(self, name: str, *args: str, timeout: float = 120.0) -> str:
        """`pg_autoctl ARGS` for one node (its environment, as postgres); its output."""
        process = await asyncio.create_subprocess_exec(
            "pg_autoctl", *args, env=self._env(name), cwd=self.folder,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **self._as_postgres(),
        )  # fmt: skip
        try:
            async with asyncio.timeout(timeout):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise DatabaseError(
                f"pg_autoctl {args[0]} {args[1]}: no answer in {timeout} s"
            ) from None
        if process.returncode != 0:
            raise DatabaseError(
                f"pg_autoctl {' '.join(args[:2])} ({name}) failed: {err.decode()[-1500:]}"
            )
        return out.decode()

    # -- life --------------------------------------------------------------------------------

    @property
    def made(self) -> bool:
        return all((self.pgdata(n) / "PG_VERSION").exists() for n in ["monitor", *self.names])

    async def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Create what is not made yet, run every part, until a primary has its standby."""
        self._mkdir(self.folder)
        await self._start_monitor()
        for index, name in enumerate(self.names):
            new = not (self.pgdata(name) / "PG_VERSION").exists()
            await self._start_node(name, self.spec.ports[index])
            if new and index == 0:  # the others are made from the first one's copy
                await self.wait(lambda states: "single" in states.values(), timeout,
                                "a first node")  # fmt: skip
        await self.wait(self.ready, timeout, "a primary and its standbys")

    async def _start_monitor(self) -> None:
        if not (self.pgdata("monitor") / "PG_VERSION").exists():
            await self._create_monitor()
        self._run("monitor")

    async def _create_monitor(self) -> None:
        name, data = "monitor", self.pgdata("monitor")
        self._mkdir(self.folder / name)
        await self._autoctl(
            name, "create", "monitor", "--pgdata", str(data), "--pgctl",
            str(_bindir() / "pg_ctl"), "--pgport", str(self.spec.monitor),
            "--hostname", self.spec.address, *self.spec.security_args(),
        )  # fmt: skip
        # The monitor listens on every interface unless told otherwise.
        await self._autoctl(
            name, "config", "set", "--pgdata", str(data),
            "postgresql.listen_addresses", self.spec.address,
        )  # fmt: skip
        timers = {**MONITOR_TIMERS, **self.spec.timers}
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# ivr: failover timers (ivr/cluster/database.py)\n")
            conf.writelines(f"{key} = {value}\n" for key, value in timers.items())
        if self.spec.passwords is not None and self.spec.auth != "trust":
            self._harden(data)
            await self._set_passwords(data, MONITOR_DB, {MONITOR_USER: self.spec.passwords.monitor})

    async def _start_node(self, name: str, port: int) -> None:
        if not (self.pgdata(name) / "PG_VERSION").exists():
            await self._create_node(name, port)
        self._run(name)

    async def _create_node(self, name: str, port: int) -> None:
        data = self.pgdata(name)
        self._mkdir(self.folder / name)
        await self._autoctl(
            name, "create", "postgres", "--pgdata", str(data), "--pgctl",
            str(_bindir() / "pg_ctl"), "--pgport", str(port), "--pghost", self.spec.address,
            "--listen", self.spec.address, "--hostname", self.spec.address, "--name", name,
            "--username", self.spec.user, "--dbname", self.spec.name,
            "--monitor", self.spec.monitor_uri, *self.spec.security_args(),
            timeout=300,
        )  # fmt: skip
        for key, value in NODE_TIMERS.items():
            await self._autoctl(name, "config", "set", "--pgdata", str(data), key, str(value))
        pw = self.spec.passwords
        if pw is not None and self.spec.auth != "trust":
            self._harden(data)
            # A standby came from the primary's copy, roles and passwords with it; a node
            # made as the first one gives its roles their passwords before it first runs.
            if not (data / "standby.signal").exists():
                await self._set_passwords(
                    data, self.spec.name,
                    {self.spec.user: pw.engines, REPLICATION_USER: pw.replication},
                )  # fmt: skip

    def _harden(self, data: Path) -> None:
        hba = data / "pg_hba.conf"
        hba.write_text(harden_hba(hba.read_text()))

    async def _set_passwords(self, data: Path, dbname: str, passwords: dict[str, str]) -> None:
        """Give roles their passwords while the part is stopped (as `pg_autoctl create`
        leaves it): PostgreSQL's single-user mode, the statements on its stdin, each
        password as its SCRAM verifier (the password itself is in no statement or log)."""
        sql = "".join(
            f"ALTER ROLE \"{user}\" PASSWORD '{scram_verifier(password)}';\n"
            for user, password in passwords.items()
        )
        process = await asyncio.create_subprocess_exec(
            str(_bindir() / "postgres"), "--single", "-D", str(data), dbname,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=self.folder, env=self._env("monitor"), **self._as_postgres(),
        )  # fmt: skip
        try:
            async with asyncio.timeout(60):
                out, _ = await process.communicate(sql.encode())
        except TimeoutError:
            process.kill()
            await process.wait()
            raise DatabaseError(f"{data}: single-user mode did not end in 60 s") from None
        text = out.decode(errors="replace")
        if process.returncode != 0 or "ERROR:" in text:
            raise DatabaseError(f"{data}: setting the roles' passwords failed: {text[-1500:]}")

    def _check_made(self, name: str) -> None:
        """A part made with `--auth trust` (before passwords were the rule, or with auth =
        "trust") is not run under a spec that wants passwords: it would still let anyone in."""
        if self.spec.auth == "trust":
            return
        cfg = configparser.ConfigParser(interpolation=None)
        pgdata = str(self.pgdata(name)).lstrip("/")
        cfg.read(self.folder / name / "config" / "pg_autoctl" / pgdata / "pg_autoctl.cfg")
        made = cfg.get("postgresql", "auth_method", fallback=self.spec.auth)
        if made == "trust":
            raise DatabaseError(
                f"database part {name} was made with --auth trust: its pg_hba.conf lets any "
                f"host in. Make it again with passwords (move {self.folder / name} away; a "
                "data node is copied again from the primary)"
            )
        # Again at every start: a creation cut short after pg_autoctl made the part would
        # otherwise keep initdb's trust lines.
        if (self.pgdata(name) / "pg_hba.conf").exists():
            self._harden(self.pgdata(name))

    async def exec_part(self, name: str, timeout: float = READY_TIMEOUT) -> None:
        """Run one part here in the foreground, in this process's place (a container or a
        host of its own): made on its first start, a data node once the monitor answers
        (and, but for the first one, once the first one is up: it is made from its copy)."""
        if name != "monitor" and name not in self.names:
            parts = ", ".join(["monitor", *self.names])
            raise DatabaseError(f"no database part {name!r}: one of {parts}")
        self._mkdir(self.folder)
        if not (self.pgdata(name) / "PG_VERSION").exists():
            if name == "monitor":
                await self._create_monitor()
            else:
                index = self.names.index(name)
                first = self.names[0]
                if index == 0:
                    await self.wait_monitor(lambda states: True, timeout, "the monitor")
                else:
                    await self.wait_monitor(
                        lambda states: states.get(first) in ("single", "primary"), timeout,
                        f"{first} up",
                    )  # fmt: skip
                await self._create_node(name, self.spec.ports[index])
        self._check_made(name)
        argv = ["pg_autoctl", "run", "--pgdata", str(self.pgdata(name))]
        env = self._env(name)
        self._stale_pid_file(name, env)
        if os.geteuid() == 0:  # PostgreSQL refuses root
            user = pwd.getpwnam("postgres")
            os.setgid(user.pw_gid)
            os.initgroups("postgres", user.pw_gid)
            os.setuid(user.pw_uid)
        os.chdir(self.folder)
        os.execvpe(argv[0], argv, env)  # noqa: S606  (Debian's pg_autoctl)

    def _stale_pid_file(self, name: str, env: dict[str, str]) -> None:
        """A container started again keeps its /tmp, where pg_autoctl's pid file names the
        process it ran as: this process, about to become pg_autoctl (the same pid 1). Such a
        file is left from the run before and would stop this one."""
        pgdata = str(self.pgdata(name)).lstrip("/")
        for runtime in (env["XDG_RUNTIME_DIR"], "/tmp"):  # noqa: S108  (pg_autoctl's fallback)
            path = Path(runtime) / "pg_autoctl" / pgdata / "pg_autoctl.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(path.read_text().split()[0]) == os.getpid():
                    path.unlink()
                    log.info("%s: removed pg_autoctl's pid file of the run before", name)

    async def wait_monitor(self, done: Any, timeout: float, what: str) -> dict[str, str]:
        """Until the monitor, reached by its address, answers with states that are `done`
        (from a host or container that does not run it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        states: dict[str, str] | None = None
        while loop.time() < deadline:
            states = await self.remote_states()
            if states is not None and done(states):
                return states
            await asyncio.sleep(1.0)  # polling a monitor that is starting
        raise DatabaseError(f"no {what} within {timeout} s: {states}")

    def _run(self, name: str) -> None:
        if self.pid(name) is not None:
            return
        self._check_made(name)
        argv = ["pg_autoctl", "run", "--pgdata", str(self.pgdata(name))]
        pid = spawn(argv, self.log_file(name), self._env(name), **self._as_postgres())
        self.pid_file(name).write_text(f"{pid}\n")

    def pid(self, name: str) -> int | None:
        return live_pid(self.pid_file(name))

    async def stop(self, timeout: float = 30.0) -> None:
        """Data nodes first (the monitor would see them go), then the monitor."""
        await asyncio.gather(*(self.stop_part(n, timeout=timeout) for n in self.names))
        await self.stop_part("monitor", timeout=timeout)

    async def stop_part(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Stop one part (`kill`: SIGKILL to pg_autoctl and its PostgreSQL, as a lost host)."""
        pid = self.pid(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # pg_autoctl leads its session: its PostgreSQL goes too
        if not await gone(lambda: self.pid(name), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            await gone(lambda: self.pid(name), 5)
        if sig == signal.SIGKILL:  # what the kill left behind: the postmaster's pid file
            await self._postmaster_gone(name)
        self.pid_file(name).unlink(missing_ok=True)

    async def _postmaster_gone(self, name: str) -> None:
        pid_file = self.pgdata(name) / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await gone(lambda: live_pid(pid_file), 10)

    async def kill(self, name: str) -> None:
        """The node lost at once (SIGKILL): pg_autoctl, its PostgreSQL and every backend."""
        await self.stop_part(name, signal.SIGKILL, timeout=10)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- state -------------------------------------------------------------------------------

    async def states(self) -> dict[str, str]:
        """Each data node's state as the monitor reports it (primary, secondary, ...); {}
        when the monitor does not run here or does not answer."""
        if self.pid("monitor") is None:
            return {}
        return await self._show_state("--pgdata", str(self.pgdata("monitor"))) or {}

    async def remote_states(self) -> dict[str, str] | None:
        """The same asked by the monitor's address (from a host or container that does not
        run it); None when it does not answer."""
        return await self._show_state("--monitor", self.spec.monitor_uri)

    async def _show_state(self, *where: str) -> dict[str, str] | None:
        try:
            out = await self._autoctl("monitor", "show", "state", *where, "--json", timeout=10)
            nodes = json.loads(out or "[]")
        except (DatabaseError, ValueError, OSError):
            return None
        return {
            str(n["nodename"]): str(n["current_group_state"])
            if n["current_group_state"] == n["assigned_group_state"]
            else f"{n['current_group_state']}->{n['assigned_group_state']}"
            for n in nodes
        }

    def ready(self, states: dict[str, str]) -> bool:
        """A primary and every other data node its standby."""
        values = sorted(states.get(n, "") for n in self.names)
        return values.count("primary") == 1 and values.count("secondary") == len(values) - 1

    async def primary(self) -> str | None:
        states = await self.states()
        return next((n for n, s in states.items() if s == "primary"), None)

    async def wait(self, done: Any, timeout: float, what: str) -> dict[str, str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        states: dict[str, str] = {}
        while loop.time() < deadline:
            for name in ["monitor", *self.names]:
                if self.pid_file(name).exists() and self.pid(name) is None:
                    raise DatabaseError(f"{name} exited:\n{tail(self.log_file(name))}")
            states = await self.states()
            if done(states):
                return states
            await asyncio.sleep(0.5)  # polling the monitor's view of a changing formation
        raise DatabaseError(f"no {what} within {timeout} s: {states}")

    async def status(self) -> dict[str, Any]:
        return {"url": self.spec.shown_url, "monitor": self.pid("monitor") is not None,
                "nodes": await self.states()}  # fmt: skip
