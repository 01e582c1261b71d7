"""Kamailio in front of the nodes: its config rendered from the cluster, its process, and
what it says of the nodes (dispatcher.list over its control socket, with kamcmd).

Debian's `kamailio` package (5.6) provides it; the package's own service is not used: each
cluster runs its Kamailio from its run folder, on its own address and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pwd
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ivr import config
from ivr.cluster.proc import gone, live_pid, spawn
from ivr.cluster.spec import Cluster, node_settings
from ivr.routing import load_rules

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
USER = "kamailio"  # Debian's package makes this account; Kamailio drops root for it
GROUP = 1  # the dispatcher set of the nodes
ENGINES = 2  # the dispatcher set of the nodes' engines: pinged, never sent a call
# Seconds a browser phone's password lives in Kamailio after the engine that holds it last
# set it again (every few seconds while its console login lives): an engine that dies takes
# its passwords with it within this, unless another engine's relay carries the phone on.
WEB_PASSWORD_TTL = 90


class KamailioError(Exception):
    pass


@dataclass(frozen=True)
class Destination:
    """A node as Kamailio sees it: its URI and state (AP active, IP inactive, DX disabled)."""

    uri: str
    flags: str
    duid: str

    @property
    def state(self) -> str:
        first = self.flags[:1]
        return {"A": "active", "I": "inactive", "T": "trying", "D": "disabled"}.get(first, "?")


def binary(name: str = "kamailio") -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise KamailioError(f"{name} is missing: apt-get install kamailio")
    return found


def ha1(user: str, realm: str, password: str) -> str:
    """The digest a SIP registrar checks a password against (RFC 2617: MD5 by definition)."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def _account() -> tuple[int, int] | None:
    """Kamailio's own account when it is to drop root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def render(cluster: Cluster, debug: int = 1) -> Path:
    """kamailio.cfg and dispatcher.list in the cluster's run folder; the config's path."""
    run = cluster.run_dir / "kamailio"
    run.mkdir(parents=True, exist_ok=True)
    settings = node_settings(cluster, cluster.nodes[0])
    rules = load_rules(settings.rules)
    operators = [
        {"user": op.endpoint,
         "ha1": ha1(op.endpoint, cluster.name, config.operator_password(settings, op.endpoint))}
        for op in rules.operators.values()
    ]  # fmt: skip
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    text = env.get_template("kamailio.cfg.j2").render(
        c=cluster, run=str(run), modules=MODULES, debug=debug, realm=cluster.name,
        carriers=",".join(cluster.carriers), operators=operators,
        engines=",".join(cluster.engine_networks), token=config.proxy_token(settings),
        web_ttl=WEB_PASSWORD_TTL,
    )  # fmt: skip
    cfg = run / "kamailio.cfg"
    _write(cfg, text, 0o640)
    # flags 8: each node is pinged from the start (state AP, not AX)
    listed = "".join(f"{GROUP} {node.uri} 8 0 duid={node.name}\n" for node in cluster.nodes)
    listed += "".join(
        f"{ENGINES} {node.engine_uri} 8 0 duid={node.name}-engine\n" for node in cluster.nodes
    )
    _write(run / "dispatcher.list", "# set destination flags priority attributes\n" + listed, 0o644)
    owner = _account()
    if owner is not None:  # its folder (pid file, control socket); the config readable
        os.chown(run, owner[0], owner[1])
        os.chown(cfg, 0, owner[1])
    return cfg


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class Kamailio:
    """The cluster's Kamailio process, from its run folder."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.run = cluster.run_dir / "kamailio"
        self.cfg = self.run / "kamailio.cfg"
        self.pid_file = self.run / "kamailio.pid"
        self.log_path = self.run / "kamailio.log"
        self.socket = f"unix:{self.run / 'kamailio.ctl'}"

    def pid(self) -> int | None:
        return live_pid(self.pid_file)

    async def check(self) -> None:
        """kamailio -c: the rendered config parses (its error names the line)."""
        proc = await asyncio.create_subprocess_exec(
            binary(), "-c", "-f", str(self.cfg),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise KamailioError(f"kamailio rejects {self.cfg}:\n{out.decode()[-2000:]}")

    async def start(self, timeout: float = 20.0) -> None:
        if self.pid() is not None:
            return
        await self.check()
        spawn(self.argv(), self.log_path)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(KamailioError):
                await self.rpc("core.version")
                return
            await asyncio.sleep(0.1)  # polling a process that is starting
        raise KamailioError(f"Kamailio did not start within {timeout} s; see {self.log_path}")

    def argv(self) -> list[str]:
        """Kamailio's command: not a daemon (-DD), logging to stderr (-E), its pid file and
        run folder its own; as its own account when started by root."""
        owner = ["-u", USER, "-g", USER] if _account() is not None else []
        return [binary(), "-DD", "-E", "-f", str(self.cfg), "-P", str(self.pid_file),
                "-Y", str(self.run), *owner]  # fmt: skip

    async def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not await gone(self.pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    async def rpc(self, *command: str, timeout: float = 5.0) -> str:
        proc = await asyncio.create_subprocess_exec(
            binary("kamcmd"), "-s", self.socket, *command,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise KamailioError(f"kamcmd {' '.join(command)} timed out") from None
        text = out.decode(errors="replace")
        if proc.returncode != 0 or text.startswith("error:"):
            raise KamailioError(f"kamcmd {' '.join(command)}: {text.strip()}")
        return text

    async def destinations(self) -> list[Destination]:
        """The nodes (set 1) as Kamailio sees them; their engines' probes left out."""
        found = parse_destinations(await self.rpc("dispatcher.list"))
        return [d for d in found if not d.duid.endswith("-engine")]

    async def engines(self) -> list[Destination]:
        """The nodes' engines as Kamailio's pings find them (set 2)."""
        found = parse_destinations(await self.rpc("dispatcher.list"))
        return [d for d in found if d.duid.endswith("-engine")]

    async def set_state(self, state: str, uri: str) -> None:
        """'d' drains (no new call), 'ap' puts back in rotation with pings."""
        await self.rpc("dispatcher.set_state", state, str(GROUP), uri)


_DEST = re.compile(r"URI:\s*(\S+)\s+FLAGS:\s*(\S+)(?:.*?DUID:\s*(\S+))?", re.S)


def parse_destinations(text: str) -> list[Destination]:
    """kamcmd dispatcher.list's answer: every DEST block's URI, FLAGS and DUID."""
    out = []
    for block in text.split("DEST:")[1:]:
        found = _DEST.search(block)
        if found is not None:
            out.append(Destination(found.group(1), found.group(2), found.group(3) or ""))
    return out
