"""Running a cluster on this host: render it, start and stop Kamailio, the Asterisk nodes and
each node's engine, say how each is doing, drain a node for maintenance.

Each node is an Asterisk and its own engine beside it (`ivr serve` with the node's settings
file): the engine shares the node's run folder (prompts it writes, messages Asterisk
records, Asterisk's own account of calls) and follows the node's AMI events; every engine
writes to the one database. Processes are started detached (pid files in the cluster's run
folder), so `ivr cluster start` returns and `ivr cluster stop` finds them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivr.asterisk.instance import Asterisk, AsteriskError
from ivr.asterisk.render import Trunk, render_instance
from ivr.cluster.database import FailoverDatabase
from ivr.cluster.kamailio import Kamailio, KamailioError, binary
from ivr.cluster.kamailio import render as render_kamailio
from ivr.cluster.proc import gone, live_pid, spawn, tail
from ivr.cluster.spec import (
    Cluster,
    Node,
    engine_environ,
    node_settings,
    node_values,
    toml_text,
)
from ivr.config import ConfigError
from ivr.control import bearer

log = logging.getLogger(__name__)

ENGINE_START = 60.0  # seconds an engine may take to come up with its AMI connected
DATABASE_WAIT = 120.0  # seconds a node started beside its database waits for it


class Running:
    """One cluster's processes on this host."""

    def __init__(self, cluster: Cluster, environ: Mapping[str, str] | None = None) -> None:
        self.cluster = cluster
        self.kamailio = Kamailio(cluster)
        # [cluster.database]: PostgreSQL that fails over, started before the nodes
        self.database = (
            None
            if cluster.database is None
            else FailoverDatabase(cluster.database, cluster.run_dir / "database")
        )
        # The engines' environment: IVR_* variables override the rendered settings files;
        # IVR_CONFIG names the cluster's file, not an engine's.
        self.environ = engine_environ(os.environ if environ is None else environ)
        self.settings = {
            node.name: node_settings(cluster, node, self._ivr_env()) for node in cluster.nodes
        }

    def _ivr_env(self) -> dict[str, str]:
        return {k: v for k, v in self.environ.items() if k.startswith("IVR_")}

    # -- files -----------------------------------------------------------------------------

    def node_dir(self) -> Path:
        return self.cluster.run_dir / "nodes"

    def config_file(self, node: Node) -> Path:
        return self.node_dir() / f"{node.name}.toml"

    def engine_pid_file(self, node: Node) -> Path:
        return self.node_dir() / f"{node.name}.engine.pid"

    def engine_log(self, node: Node) -> Path:
        return self.node_dir() / f"{node.name}.engine.log"

    def asterisk(self, node: Node) -> Asterisk:
        return Asterisk(self.settings[node.name])

    def render(self) -> list[Path]:
        """Kamailio's config, and each node's engine settings and Asterisk config."""
        written = [render_kamailio(self.cluster)]
        for node in self.cluster.nodes:
            written += self.render_node(node)
        return written

    def render_node(self, node: Node) -> list[Path]:
        """The node's engine settings file and its Asterisk config."""
        self.node_dir().mkdir(parents=True, exist_ok=True)
        path = self.config_file(node)
        values = node_values(self.cluster, node)
        title = f"node {node.name} of cluster {self.cluster.name}: rendered by `ivr cluster`"
        # mode 0600: db_url carries the database's password ([cluster.database])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file written before by an older version keeps no wider mode
        with os.fdopen(fd, "w") as handle:
            handle.write(toml_text(values, title))
        gateway = Trunk(*self.cluster.gateway)
        return [path, render_instance(self.settings[node.name], trunk=gateway)]

    # -- one part in the foreground (a container, a service manager on its own host) -------

    async def exec_node(self, node: Node) -> None:
        """Render this node, start its Asterisk, then become its engine (`ivr serve`)."""
        self.render_node(node)
        await wait_database(self.settings[node.name].db_url)
        await self.start_asterisk(node)
        argv = [sys.executable, "-m", "ivr", "--config", str(self.config_file(node)), "serve"]
        os.execve(argv[0], argv, self.environ)  # noqa: S606  (our own interpreter and module)

    async def exec_database(self, part: str) -> None:
        """Become one part of [cluster.database] (`monitor`, `db1`, `db2`...), in the
        foreground: made on its first start, then `pg_autoctl run`."""
        if self.database is None:
            raise ConfigError("cluster: no [cluster.database] table to run a part of")
        await self.database.exec_part(part)

    def exec_kamailio(self) -> None:
        """Render Kamailio's config and become Kamailio, in the foreground."""
        render_kamailio(self.cluster)
        os.execv(binary(), self.kamailio.argv())  # noqa: S606

    # -- processes -------------------------------------------------------------------------

    def engine_pid(self, node: Node) -> int | None:
        return live_pid(self.engine_pid_file(node))

    def asterisk_pid(self, node: Node) -> int | None:
        settings = self.settings[node.name]
        return live_pid(settings.host_path(settings.run_dir / "run" / "asterisk.pid"))

    async def start(self, names: list[str] | None = None) -> None:
        """Every node (or those named), then Kamailio; each node back in rotation."""
        self.render()
        if self.database is not None:
            await self.database.start()
        nodes = [self.cluster.node(n) for n in names] if names else list(self.cluster.nodes)
        await asyncio.gather(*(self.start_node(node) for node in nodes))
        await self.kamailio.start()
        for node in nodes:
            await self.kamailio.set_state("ap", node.uri)

    async def start_node(self, node: Node) -> None:
        await self.start_asterisk(node)
        await self.start_engine(node)

    async def start_asterisk(self, node: Node) -> None:
        await self.asterisk(node).start_daemon()

    async def start_engine(self, node: Node) -> None:
        if self.engine_pid(node) is None:
            env = {k: v for k, v in self.environ.items() if not k.startswith("IVR_")}
            env.update(self._ivr_env())
            argv = [sys.executable, "-m", "ivr", "--config", str(self.config_file(node)), "serve"]
            pid = spawn(argv, self.engine_log(node), env)
            self.engine_pid_file(node).write_text(f"{pid}\n")
        await self.wait_engine(node)

    async def wait_engine(self, node: Node, timeout: float = ENGINE_START) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.engine_pid(node) is None:
                last = tail(self.engine_log(node))
                raise AsteriskError(f"the engine of {node.name} exited:\n{last}")
            status = await asyncio.to_thread(self.engine_status, node)
            if status is not None and status.get("ami", {}).get("connected"):
                return status
            await asyncio.sleep(0.2)  # polling an engine that is starting
        raise AsteriskError(f"the engine of {node.name} did not come up within {timeout} s")

    def engine_status(self, node: Node) -> dict[str, Any] | None:
        settings = self.settings[node.name]
        url = f"http://{settings.bind}:{node.http}/api/status"
        request = urllib.request.Request(url, headers=bearer(settings.control_token))
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback)
                data: dict[str, Any] = json.loads(response.read())
                return data
        except (OSError, ValueError):
            return None

    async def stop_engine(
        self, node: Node, sig: int = signal.SIGTERM, timeout: float = 20.0
    ) -> None:
        pid = self.engine_pid(node)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if not await gone(lambda: self.engine_pid(node), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await gone(lambda: self.engine_pid(node), 5)
        self.engine_pid_file(node).unlink(missing_ok=True)

    async def stop_asterisk(self, node: Node, how: str = "now", timeout: float = 30.0) -> None:
        """`core stop now` (its calls are cut) or `gracefully` (no new call; it exits once
        its calls have ended), or `kill` (SIGKILL, as a crash)."""
        pid = self.asterisk_pid(node)
        if pid is None:
            return
        if how == "kill":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        else:
            with contextlib.suppress(AsteriskError):
                await self.asterisk(node).cli(f"core stop {how}", timeout=10)
        if not await gone(lambda: self.asterisk_pid(node), timeout):
            raise AsteriskError(f"Asterisk of {node.name} still runs after {timeout} s")

    async def stop_node(self, node: Node, how: str = "now") -> None:
        await self.stop_asterisk(node, how)
        await self.stop_engine(node)

    async def drain(self, node: Node, timeout: float = 3600.0) -> None:
        """Maintenance without losing a call: Kamailio sends it no new call (state d); once
        its calls have ended, its engine stops (its leases go at once), then Asterisk."""
        await self.kamailio.set_state("d", node.uri)
        await self.wait_idle(node, timeout)
        # The engine stops while its Asterisk still answers: it has seen every call end,
        # and its last reconciliation closes any whose end it missed.
        await self.stop_engine(node)
        await self.stop_asterisk(node, "gracefully", timeout)

    async def wait_idle(self, node: Node, timeout: float) -> None:
        """Until the node's Asterisk has no call up (or it is not running)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.asterisk_pid(node) is not None and await self._calls_up(node) != 0:
            if loop.time() >= deadline:
                raise AsteriskError(f"{node.name} still has calls after {timeout} s")
            await asyncio.sleep(0.5)  # polling a node whose callers are hanging up

    async def stop(self) -> None:
        await asyncio.gather(*(self.stop_node(node) for node in self.cluster.nodes))
        await self.kamailio.stop()
        if self.database is not None:  # last: the engines write their last records first
            await self.database.stop()

    # -- status ----------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """Each node as Kamailio sees it, its calls up, its engine's health."""
        seen: dict[str, str] = {}
        kamailio: dict[str, Any] = {"running": self.kamailio.pid() is not None}
        if kamailio["running"]:
            try:
                seen = {d.duid: d.state for d in await self.kamailio.destinations()}
            except KamailioError as exc:
                kamailio["error"] = str(exc)
        nodes = {}
        for node in self.cluster.nodes:
            nodes[node.name] = {
                "uri": node.uri,
                "kamailio": seen.get(node.name, "unknown"),
                "asterisk": self.asterisk_pid(node) is not None,
                "calls": await self._calls_up(node),
                "engine": _health(await asyncio.to_thread(self.engine_status, node)),
            }
        status = {"cluster": self.cluster.name, "sip": self.cluster.proxy, "kamailio": kamailio,
                  "nodes": nodes}  # fmt: skip
        if self.database is not None:
            status["database"] = await self.database.status()
        return status

    async def _calls_up(self, node: Node) -> int | None:
        if self.asterisk_pid(node) is None:
            return None
        try:
            text = await self.asterisk(node).cli("core show channels count", timeout=5)
        except AsteriskError:
            return None
        found = re.search(r"(\d+) (?:of \d+ max )?active call", text)
        return int(found.group(1)) if found else None


async def wait_database(url: str, timeout: float = DATABASE_WAIT) -> None:
    """Until the database answers (a container started beside it), or AsteriskError."""
    from sqlalchemy import text

    from ivr.records.db import make_engine

    engine = make_engine(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return
            except Exception as exc:
                if loop.time() >= deadline:
                    raise AsteriskError(f"no database after {timeout} s: {exc!r}") from exc
                log.info("waiting for the database: %r", exc)
            await asyncio.sleep(1.0)  # polling a database that is starting
    finally:
        await engine.dispose()


def _health(status: dict[str, Any] | None) -> dict[str, Any]:
    if status is None:
        return {"running": False}
    records = status.get("records") or {}
    return {
        "running": True,
        "ami": bool(status.get("ami", {}).get("connected")),
        "records_pending": records.get("pending"),
        "leases": (status.get("leases") or {}).get("held", []),
    }
