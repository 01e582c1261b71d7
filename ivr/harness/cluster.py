"""A cluster's settings file for the tests and the benchmark: every part on loopback, on free
ports."""

from __future__ import annotations

from pathlib import Path

from ivr.harness.ports import free_tcp_port, free_udp_port


def loopback_file(
    folder: Path,
    name: str,
    db_url: str | None,
    rules: Path,
    gateway: str,
    rtp_start: int,
    rtp_per_node: int,
    nodes: int = 2,
    settings: str = "",
) -> Path:
    """A cluster's settings file with every part on loopback, on free ports: Kamailio taking
    calls from 127.0.0.2 (the carrier), `nodes` nodes; `settings` adds engine settings
    (TOML lines). db_url None: a [cluster.database] of its own (a monitor and two data
    nodes) that the cluster starts. For the tests and the benchmark."""
    parts = []
    for i in range(nodes):
        first = rtp_start + i * rtp_per_node
        parts.append(
            f'\n[[cluster.nodes]]\nname = "node{i + 1}"\nsip = {free_udp_port()}\n'
            f"ami = {free_tcp_port()}\nagi = {free_tcp_port()}\nhttp = {free_tcp_port()}\n"
            f"probe = {free_udp_port()}\n"
            f"asterisk_http = {free_tcp_port()}\n"
            f'rtp = "{first}-{first + rtp_per_node - 1}"\n'
        )
    if db_url is None:
        database = f"\n[cluster.database]\nmonitor = {free_tcp_port()}\n" + (
            f"ports = [{free_tcp_port()}, {free_tcp_port()}]\n"
        )
    else:
        database = ""
    path = folder / "cluster.toml"
    path.write_text(
        (f'db_url = "{db_url}"\n' if db_url else "") + f'rules = "{rules}"\n{settings}\n'
        f'[cluster]\nname = "{name}"\nport = {free_udp_port()}\nwebsocket = {free_tcp_port()}\n'
        'carriers = "127.0.0.2"\n'
        f'gateway = "{gateway}"\n' + "".join(parts) + database
    )
    return path
