"""`ivr cluster render|start|stop|status|drain NODE`: a cluster from one settings file (the
top-level --config, or IVR_CONFIG): see ivr/cluster/spec.py for its [cluster] table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from ivr.config import ConfigError


def _running(args: argparse.Namespace) -> Any:
    from ivr.cluster.run import Running
    from ivr.cluster.spec import load

    path = getattr(args, "config", None) or os.environ.get("IVR_CONFIG")
    if not path:
        raise ConfigError("give the cluster's settings file: ivr --config cluster.toml cluster ...")
    return Running(load(Path(path)))


def cmd_render(args: argparse.Namespace) -> int:
    for path in _running(args).render():
        print(f"rendered {path}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    running = _running(args)
    asyncio.run(running.start(args.nodes or None))
    print(json.dumps(asyncio.run(running.status()), indent=2))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    running = _running(args)
    if args.nodes:
        for name in args.nodes:
            asyncio.run(running.stop_node(running.cluster.node(name), args.how))
    else:
        asyncio.run(running.stop())
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = asyncio.run(_running(args).status())
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    kam = status["kamailio"]
    print(f"cluster {status['cluster']}: Kamailio {'up' if kam['running'] else 'DOWN'} on "
          f"{status['sip']}{' (' + kam['error'] + ')' if kam.get('error') else ''}")  # fmt: skip
    if "database" in status:
        database = status["database"]
        states = ", ".join(f"{n} {s}" for n, s in database["nodes"].items()) or "no answer"
        monitor = "up" if database["monitor"] else "DOWN"
        print(f"database (pg_auto_failover): monitor {monitor}; {states}")
    print(f"{'node':<12} {'kamailio':<10} {'asterisk':<9} {'calls':>5}  engine")
    for name, node in status["nodes"].items():
        engine = node["engine"]
        health = (
            "down" if not engine["running"]
            else f"{'AMI up' if engine['ami'] else 'AMI DOWN'}, records waiting "
            f"{engine['records_pending']}, leases {', '.join(engine['leases']) or '-'}"
        )  # fmt: skip
        calls = "-" if node["calls"] is None else str(node["calls"])
        asterisk = "up" if node["asterisk"] else "down"
        print(f"{name:<12} {node['kamailio']:<10} {asterisk:<9} {calls:>5}  {health}")
    return 0


def cmd_drain(args: argparse.Namespace) -> int:
    running = _running(args)
    node = running.cluster.node(args.node)
    print(f"{node.name}: no new calls; waiting for its calls to end", file=sys.stderr)
    asyncio.run(running.drain(node, args.timeout))
    print(f"{node.name} drained and stopped: `ivr cluster start {node.name}` brings it back")
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    running = _running(args)
    asyncio.run(running.exec_node(running.cluster.node(args.node)))
    return 0  # not reached: the process became the node's engine


def cmd_database(args: argparse.Namespace) -> int:
    asyncio.run(_running(args).exec_database(args.part))
    return 0  # not reached: the process became pg_autoctl


def cmd_kamailio(args: argparse.Namespace) -> int:
    _running(args).exec_kamailio()
    return 0  # not reached: the process became Kamailio


def register(sub: Any) -> None:
    cluster = sub.add_parser(
        "cluster", help="several Asterisk nodes behind Kamailio, one engine each, one database"
    ).add_subparsers(dest="action", required=True)
    cluster.add_parser("render", help="write Kamailio's and every node's config").set_defaults(
        func=cmd_render
    )
    start = cluster.add_parser("start", help="start the nodes, their engines and Kamailio")
    start.add_argument("nodes", nargs="*", help="only these nodes (back in rotation)")
    start.set_defaults(func=cmd_start)
    stop = cluster.add_parser("stop", help="stop everything, or the nodes named")
    stop.add_argument("nodes", nargs="*")
    stop.add_argument("--how", choices=("now", "gracefully", "kill"), default="now")
    stop.set_defaults(func=cmd_stop)
    status = cluster.add_parser("status", help="each node as Kamailio sees it, calls, engines")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)
    drain = cluster.add_parser("drain", help="no new calls to NODE, then stop it once idle")
    drain.add_argument("node")
    drain.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait")
    drain.set_defaults(func=cmd_drain)
    node = cluster.add_parser(
        "node", help="run NODE here in the foreground: its Asterisk, then its engine"
    )
    node.add_argument("node")
    node.set_defaults(func=cmd_node)
    database = cluster.add_parser(
        "database",
        help="run PART of [cluster.database] here in the foreground (monitor, db1, db2...)",
    )
    database.add_argument("part")
    database.set_defaults(func=cmd_database)
    cluster.add_parser(
        "kamailio", help="run the cluster's Kamailio here in the foreground"
    ).set_defaults(func=cmd_kamailio)
