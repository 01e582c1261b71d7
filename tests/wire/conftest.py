"""Wire fixtures: a real AgiServer on a free loopback port, and scripted AGI peers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import pytest
from agi_peer import AgiPeer

from ivr.agi.server import AgiServer, FailureHook, Handler

StartServer = Callable[..., Awaitable[AgiServer]]
ConnectPeer = Callable[..., Awaitable[AgiPeer]]


@pytest.fixture
async def agi_server() -> AsyncIterator[StartServer]:
    """start(routes, **options) -> a started AgiServer on 127.0.0.1, closed after the test."""
    servers: list[AgiServer] = []

    async def start(
        routes: Mapping[str, Handler],
        *,
        read_timeout: float = 5.0,
        on_failure: FailureHook | None = None,
    ) -> AgiServer:
        server = AgiServer(routes, read_timeout=read_timeout, on_failure=on_failure)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close(grace=1.0)


@pytest.fixture
async def agi_peer() -> AsyncIterator[ConnectPeer]:
    """connect(port, env=None) -> an AgiPeer that has sent its agi_* block; closed after."""
    peers: list[AgiPeer] = []

    async def connect(port: int, env: dict[str, str] | None = None, **kwargs: bool) -> AgiPeer:
        peer = await AgiPeer.connect(port, env, **kwargs)
        peers.append(peer)
        return peer

    yield connect
    for peer in peers:
        await peer.close()
