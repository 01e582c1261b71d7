"""Free loopback ports for the instances that tests, the demo and the benchmark start."""

from __future__ import annotations

import socket


def _free(kind: socket.SocketKind, host: str) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_tcp_port(host: str = "127.0.0.1") -> int:
    return _free(socket.SOCK_STREAM, host)


def free_udp_port(host: str = "127.0.0.1") -> int:
    return _free(socket.SOCK_DGRAM, host)
