"""A cluster from one settings file: Kamailio in front, N Asterisk nodes each with its own
engine beside it, every engine on one database.

The file is an engine's TOML settings file (what every node's engine shares: db_url, rules,
...) with one more table, [cluster]:

    db_url = "postgresql+asyncpg://ivr@127.0.0.1:5432/ivr"

    [cluster]
    name = "center"
    address = "127.0.0.1"        # Kamailio: where the carrier sends its calls
    port = 5060
    websocket = 8066             # Kamailio's SIP WebSocket (TCP): the engines' browser phones
    carriers = "127.0.0.2"       # INVITEs are taken from these addresses (or CIDRs) only
    gateway = "127.0.0.2:5060"   # where the nodes send calls out: the carrier's gateway

    [[cluster.nodes]]
    name = "node1"               # ports left out are numbered from the node's position
    [[cluster.nodes]]
    name = "node2"

    [cluster.database]           # optional: PostgreSQL with a standby that takes over
    monitor = 16400              # pg_auto_failover's monitor (ivr/cluster/database.py)
    ports = [16401, 16402]       # its data nodes: a primary and its standby
                                 # db_url is then this multi-host address: leave it out
                                 # (passwords: IVR_DB_*PASSWORD, or generated once into
                                 # the shared folder's database/)

From it come each node's own engine settings (rendered as a TOML file the node's `ivr serve`
reads): the node's instance name, ports and RTP range; its trunk trusting Kamailio's address
and port alone; its operators reached through Kamailio, where their phones register.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr import config
from ivr.cluster.database import DatabaseSpec
from ivr.cluster.dbauth import PASSWORD_ENV, Passwords
from ivr.config import ConfigError, Settings

_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
# Where a node's ports start when the file leaves them out: node i (from 0) takes base + i.
BASES = {
    "sip": 16060, "ami": 16160, "agi": 16260, "http": 18180, "probe": 16360,
    "asterisk_http": 18280,
}  # fmt: skip
DATABASE_BASE = 16400  # [cluster.database]: the monitor's port; its data nodes' follow it
RTP_BASE, RTP_SIZE = 21000, 1000


@dataclass(frozen=True)
class Node:
    name: str
    address: str  # SIP and RTP (private or loopback); AMI, FastAGI and HTTP stay on loopback
    sip: int
    ami: int
    agi: int
    http: int
    probe: int  # UDP, on `address`: the engine answers Kamailio's pings there
    asterisk_http: int  # Asterisk's own HTTP (loopback): the browser phones' WebSocket
    rtp_start: int
    rtp_end: int

    @property
    def uri(self) -> str:
        """The node as Kamailio's dispatcher knows it."""
        return f"sip:{self.address}:{self.sip}"

    @property
    def engine_uri(self) -> str:
        """The node's engine as Kamailio pings it (dispatcher set 2)."""
        return f"sip:{self.address}:{self.probe}"


@dataclass(frozen=True)
class Cluster:
    name: str
    address: str  # Kamailio's
    port: int
    carriers: tuple[str, ...]  # networks, as trunk_networks() writes them
    gateway: tuple[str, int]
    nodes: tuple[Node, ...]
    engine: dict[str, Any]  # the settings every node's engine shares, as the file gave them
    home: Path
    ping_interval: int = 2  # seconds between OPTIONS pings to each node
    ping_threshold: int = 2  # pings missed before a node is out of rotation
    reply_timeout: int = 3000  # ms an INVITE waits for a node's first reply (tm fr_timer)
    children: int = 4  # Kamailio's UDP worker processes
    database: DatabaseSpec | None = None  # PostgreSQL that fails over, run by the cluster
    websocket: int = 8066  # Kamailio's SIP WebSocket (TCP, on `address`): browser phones

    @property
    def phone_proxy(self) -> str:
        """Where the engines relay their consoles' browser phones: Kamailio's WebSocket."""
        return f"ws://{self.address}:{self.websocket}"

    @property
    def engine_networks(self) -> tuple[str, ...]:
        """The addresses the nodes' engines reach Kamailio from: the loopback and each
        node's address (an engine runs beside its node)."""
        found = ["127.0.0.1"]
        for node in self.nodes:
            if node.address not in found:
                found.append(node.address)
        return tuple(found)

    @property
    def proxy(self) -> str:
        """Kamailio's SIP address, ADDRESS:PORT."""
        return f"{self.address}:{self.port}"

    @property
    def run_dir(self) -> Path:
        """Kamailio's config and run files, each node's engine settings, the logs."""
        return self.home / "var" / f"cluster-{self.name}"

    @property
    def shared_dir(self) -> Path:
        """What every engine shares on this host: the operators' passwords, the overrides."""
        return self.run_dir / "shared"

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigError(f"no node {name!r} in cluster {self.name!r}")


def _int(table: dict[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key} must be a whole number, not {value!r}")
    return value


def _node(index: int, table: Any) -> Node:
    where = f"cluster.nodes[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: a table")
    known = {"name", "address", "rtp", *BASES}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")
    name = str(table.get("name", f"node{index + 1}"))
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: name {name!r}: lower-case letters, digits and '-'")
    address = config.private_address(str(table.get("address", "127.0.0.1")), f"{where}.address")
    ports = {key: _int(table, key, base + index, where) for key, base in BASES.items()}
    rtp = str(
        table.get("rtp", f"{RTP_BASE + index * RTP_SIZE}-{RTP_BASE + index * RTP_SIZE + 999}")
    )
    found = re.fullmatch(r"(\d+)-(\d+)", rtp)
    if found is None or int(found.group(1)) >= int(found.group(2)):
        raise ConfigError(f"{where}: rtp {rtp!r} is not FIRST-LAST")
    return Node(name, address, rtp_start=int(found.group(1)), rtp_end=int(found.group(2)), **ports)


# What the cluster sets for each node, whatever the environment says.
NODE_OWN = {"instance", "bind", "sip_address", "trunk_addresses", "operator_proxy",
            "phone_proxy", "cluster_node", "ports"}  # fmt: skip


def parse(
    data: dict[str, Any],
    home: Path = config.PROJECT_HOME,
    environ: Mapping[str, str] | None = None,
) -> Cluster:
    """The cluster a settings file describes, checked; ConfigError names what is wrong.
    [cluster.database]'s passwords come from `environ` (os.environ) or the shared folder."""
    data = dict(data)
    table = data.pop("cluster", None)
    if not isinstance(table, dict):
        raise ConfigError("the file has no [cluster] table")
    for key in sorted(NODE_OWN):
        if key in data:
            raise ConfigError(f"setting {key!r} is each node's own: the cluster sets it")
    known = {"name", "address", "port", "carriers", "gateway", "nodes", "ping_interval",
             "ping_threshold", "reply_timeout", "children", "database", "websocket"}  # fmt: skip
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"cluster: unknown setting {unknown[0]!r}")
    name = str(table.get("name", "center"))
    if not _NAME.fullmatch(name):
        raise ConfigError(f"cluster.name {name!r}: lower-case letters, digits and '-'")
    address = config.private_address(str(table.get("address", "127.0.0.1")), "cluster.address")
    carriers = tuple(config.trunk_networks(str(table.get("carriers", "127.0.0.2"))))
    if any(":" in c and "/" not in c for c in carriers):
        raise ConfigError("cluster.carriers: addresses or networks, without ports")
    gateway = config.sip_address(str(table.get("gateway", "127.0.0.2:5060")), "cluster.gateway")
    nodes = tuple(_node(i, t) for i, t in enumerate(table.get("nodes") or ()))
    if not nodes:
        raise ConfigError("cluster: give at least one [[cluster.nodes]]")
    cluster = Cluster(
        name=name,
        address=address,
        port=_int(table, "port", 5060, "cluster"),
        carriers=carriers,
        gateway=gateway,
        nodes=nodes,
        engine=data,
        home=home,
        ping_interval=_int(table, "ping_interval", 2, "cluster"),
        ping_threshold=_int(table, "ping_threshold", 2, "cluster"),
        reply_timeout=_int(table, "reply_timeout", 3000, "cluster"),
        children=_int(table, "children", 4, "cluster"),
        database=_database(table.get("database")),
        websocket=_int(table, "websocket", 8066, "cluster"),
    )
    database = cluster.database
    if database is not None:
        if "db_url" in data:
            raise ConfigError(
                "cluster.database: the engines connect to it by its multi-host address: "
                "leave db_url out"
            )
        if database.auth != "trust":
            shared = Path(str(data.get("shared_dir") or cluster.shared_dir))
            passwords = Passwords(shared / "database", os.environ if environ is None else environ)
            database = dataclasses.replace(database, passwords=passwords)
            cluster = dataclasses.replace(cluster, database=database)
        data["db_url"] = database.url
    url = str(data.get("db_url") or "")
    if len(nodes) > 1 and not url.startswith("postgresql"):
        raise ConfigError(
            "cluster: the engines of several nodes share one database: set db_url to a "
            "PostgreSQL one (postgresql+asyncpg://USER@HOST/DB)"
        )
    _check_apart(cluster)
    node_settings(cluster, nodes[0])  # the shared engine settings are valid
    return cluster


def _database(table: Any) -> DatabaseSpec | None:
    """[cluster.database]: the monitor's port and one port per data node (two or more)."""
    if table is None:
        return None
    where = "cluster.database"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: a table")
    unknown = sorted(set(table) - {"address", "monitor", "ports", "name", "auth"})
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")
    monitor = _int(table, "monitor", DATABASE_BASE, where)
    ports = table.get("ports", [monitor + 1, monitor + 2])
    if (
        not isinstance(ports, list)
        or len(ports) < 2
        or not all(isinstance(p, int) and not isinstance(p, bool) for p in ports)
    ):
        raise ConfigError(f"{where}: ports: a list of two or more port numbers (primary, standby)")
    if len({monitor, *ports}) != len(ports) + 1:
        raise ConfigError(f"{where}: the monitor and the data nodes need ports of their own")
    name = str(table.get("name", "ivr"))
    if not _NAME.fullmatch(name.replace("_", "-")):
        raise ConfigError(f"{where}: name {name!r}: lower-case letters, digits and '_'")
    address = config.private_address(str(table.get("address", "127.0.0.1")), f"{where}.address")
    auth = str(table.get("auth", "scram-sha-256"))  # the floor: DatabaseSpec checks it
    return DatabaseSpec(monitor=monitor, ports=tuple(ports), address=address, name=name, auth=auth)


def _check_apart(cluster: Cluster) -> None:
    """No two nodes (or Kamailio) on one port of one address, no overlapping RTP ranges."""
    taken: dict[tuple[str, str, int], str] = {
        ("udp", cluster.address, cluster.port): "kamailio",
        ("tcp", cluster.address, cluster.websocket): "kamailio",
    }
    for node in cluster.nodes:
        for key in (
            ("udp", node.address, node.sip), ("udp", node.address, node.probe),
            ("tcp", "127.0.0.1", node.ami),
            ("tcp", "127.0.0.1", node.agi), ("tcp", "127.0.0.1", node.http),
            ("tcp", "127.0.0.1", node.asterisk_http),
        ):  # fmt: skip
            if key in taken:
                raise ConfigError(f"node {node.name}: port {key[1]}:{key[2]} is {taken[key]}'s too")
            taken[key] = node.name
        for other in cluster.nodes:
            if other is not node and other.address == node.address:
                if node.rtp_start <= other.rtp_end and other.rtp_start <= node.rtp_end:
                    raise ConfigError(f"nodes {node.name} and {other.name}: RTP ranges overlap")
    names = [n.name for n in cluster.nodes]
    if len(set(names)) != len(names):
        raise ConfigError("cluster: two nodes have the same name")


def load(
    path: Path, home: Path = config.PROJECT_HOME, environ: Mapping[str, str] | None = None
) -> Cluster:
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    try:
        return parse(data, home, environ)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def node_values(cluster: Cluster, node: Node) -> dict[str, Any]:
    """Everything a node's engine is told: the shared settings and the node's own."""
    values = dict(cluster.engine)
    # One database for every node: PostgreSQL in production; a shared SQLite file on one host.
    values.setdefault("db_url", f"sqlite+aiosqlite:///{cluster.run_dir / 'ivr.db'}")
    values.update(
        instance=f"{cluster.name}-{node.name}",  # one Asterisk root serves many clusters
        bind="127.0.0.1",
        sip_address=node.address,
        # The node takes calls from Kamailio alone: its address AND port.
        trunk_addresses=cluster.proxy,
        operator_proxy=cluster.proxy,
        phone_proxy=cluster.phone_proxy,
        cluster_node=True,
        shared_dir=str(values.get("shared_dir") or cluster.shared_dir),
        ports={
            "sip": node.sip, "ami": node.ami, "agi": node.agi, "http": node.http,
            "probe": node.probe, "asterisk_http": node.asterisk_http,
            "rtp_start": node.rtp_start, "rtp_end": node.rtp_end,
        },
    )  # fmt: skip
    return values


def engine_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """A node's engine's environment: without IVR_CONFIG (the cluster's file, not the
    engine's) nor the IVR_* variables of what the cluster sets for each node (an image's
    IVR_INSTANCE, a host's IVR_PORT_SIP), which would win over the node's settings file, nor
    the database parts' own passwords (an engine needs its own alone)."""
    out = {}
    parts_own = set(PASSWORD_ENV.values()) - {PASSWORD_ENV["engines"]}
    for key, value in environ.items():
        own = config._env_values({key: value}).keys() & NODE_OWN
        if key == "IVR_CONFIG" or own or key in parts_own:  # the database parts' passwords
            continue
        out[key] = value
    return out


def node_settings(cluster: Cluster, node: Node, environ: dict[str, str] | None = None) -> Settings:
    """The node's engine settings, as its `ivr serve --config` will read them."""
    values = node_values(cluster, node)
    ports = config.Ports(**values.pop("ports"))
    # As for `ivr serve`, IVR_* variables win over the file (IVR_DB_URL with its password),
    # except what makes the node one of the cluster.
    given = config._env_values({} if environ is None else environ)
    for key in given.keys() - NODE_OWN:
        values.pop(key, None)
    settings = config.load(
        environ={} if environ is None else environ, home=cluster.home, **_flat(values)
    )
    return config.validate(dataclasses.replace(settings, ports=ports))


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            raise ConfigError(f"setting {key!r}: only [cluster] and ports are tables here")
        out[key] = value
    return out


def toml_text(values: dict[str, Any], title: str) -> str:
    """A flat TOML file (one [ports] table) of values: strings, numbers, booleans."""
    lines = [f"# {title}", ""]
    tables = {}
    for key, value in values.items():
        if isinstance(value, dict):
            tables[key] = value
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's
