"""Free loopback ports for the instances that tests, the demo and the benchmark start.

A port the kernel hands out for `bind(0)` comes from its ephemeral range (32768-60999 by
default), the same range every outgoing connection takes its local port from: between the
moment a port is chosen and the moment an engine or Asterisk binds it, another process's
connection could take it ("address already in use"). So ports are chosen below that range and
above the RTP ranges' start, each pytest-xdist worker in a slice of its own, and never twice by
one process.
"""

from __future__ import annotations

import os
import random
import socket

LOW, HIGH = 23000, 30000  # below the ephemeral range; the stacks' RTP ranges start at 30000
_given: set[int] = set()


def _slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = (HIGH - LOW) // max(count, 1)
    start = LOW + (index % max(count, 1)) * size
    return range(start, start + size)


def _bindable(port: int, host: str) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _free(host: str, width: int = 1) -> int:
    """A port `port` such that port .. port + width - 1 are all free, given to no one yet."""
    ports = range(_slice().start, _slice().stop - width + 1)
    first = random.randrange(len(ports))  # noqa: S311 - spreading, not secrecy
    for step in range(len(ports)):
        port = ports[(first + step) % len(ports)]
        run = range(port, port + width)
        if not _given.intersection(run) and all(_bindable(p, host) for p in run):
            _given.update(run)
            return port
    raise OSError(f"no {width} free ports in {ports.start}-{ports.stop + width - 2} on {host}")


def free_tcp_port(host: str = "127.0.0.1") -> int:
    return _free(host)


def free_udp_port(host: str = "127.0.0.1") -> int:
    return _free(host)


def free_media_port(host: str = "127.0.0.1") -> int:
    """A port for sipp's `-mp`: sipp binds it for audio and the port two above it for video
    (each with its RTCP port next to it), so all four are checked and given out together."""
    return _free(host, width=4)
