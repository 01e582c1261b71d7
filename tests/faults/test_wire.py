"""Faults of the two protocol links that only a scripted peer can play exactly: an AMI
server that stops reading, UTF-8 characters split across reads (AMI and FastAGI), and an
AGI value too long for Asterisk's command buffer. (CR/LF in AMI action values and the rest
go through the real Asterisk: test_ami.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ivr import variables
from ivr.agi import AgiCall, AgiServer
from ivr.ami.client import AmiClient, AmiDisconnected
from ivr.ami.message import Message

NAME = "Müller 日本 Ωmega"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


async def trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    """One byte per write, each flushed: every multi-byte character arrives in pieces."""
    for i in range(len(data)):
        writer.write(data[i : i + 1])
        await writer.drain()
        await asyncio.sleep(0)


async def read_message(reader: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    while (line := await reader.readline()).strip():
        key, _, value = line.decode().partition(":")
        fields[key] = value.strip()
    return fields


@contextlib.asynccontextmanager
async def ami_server(session) -> AsyncIterator[int]:  # type: ignore[no-untyped-def]
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(BANNER)
    action = await read_message(reader)
    writer.write(f"Response: Success\r\nActionID: {action['ActionID']}\r\n\r\n".encode())
    await writer.drain()


async def test_an_ami_server_that_stops_reading_fails_actions_and_is_left() -> None:
    sessions = 0
    stuck: list[asyncio.StreamWriter] = []
    second = asyncio.Event()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        await login(reader, writer)
        if sessions == 1:
            stuck.append(writer)  # reads nothing more, answers nothing, keeps the socket
            return
        second.set()
        while action := await read_message(reader):  # the second session behaves
            writer.write(f"Response: Success\r\nActionID: {action['ActionID']}\r\n\r\n".encode())

    async with ami_server(session) as port:
        client = AmiClient(
            "127.0.0.1", port, "ivr", "x", reconnect_delay=0.05, action_timeout=1.0,
            ping_interval=0.5,
        )  # fmt: skip
        await client.start()
        try:
            await client.wait_connected(5)
            big = [("Action", "Originate"), ("Channel", "Local/1@x"), ("Data", "x" * 60000)]
            async with asyncio.timeout(5):  # the action's own deadline ends it, not this
                for _ in range(40):  # enough to fill the socket buffers of a deaf peer
                    with pytest.raises((TimeoutError, AmiDisconnected)):
                        await client.send_action(big, timeout=0.2)
                    if not client.connected:
                        break
            async with asyncio.timeout(10):  # the ping found the link dead; reconnected
                await second.wait()
                await client.wait_connected(10)
            assert (await client.send_action({"Action": "Ping"}))["Response"] == "Success"
        finally:
            await client.close()
            for writer in stuck:
                writer.transport.abort()


async def test_utf8_split_across_ami_reads_is_read_whole() -> None:
    seen: list[Message] = []
    got = asyncio.Event()

    async def on_event(event: Message) -> None:
        seen.append(event)
        got.set()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await login(reader, writer)
        event = f"Event: Newchannel\r\nCallerIDName: {NAME}\r\nLinkedid: 1.1\r\n\r\n"
        await trickle(writer, event.encode())
        await reader.read()

    async with ami_server(session) as port:
        client = AmiClient("127.0.0.1", port, "ivr", "x", on_event=on_event)
        await client.start()
        try:
            async with asyncio.timeout(10):
                await got.wait()
        finally:
            await client.close()
    assert seen[0]["CallerIDName"] == NAME


async def agi_exchange(handler, env_extra: str, replies: bytes) -> tuple[bytes, list[AgiCall]]:  # type: ignore[no-untyped-def]
    """A FastAGI request sent a byte at a time; returns what the engine wrote back."""
    calls: list[AgiCall] = []

    async def route(call: AgiCall) -> None:
        calls.append(call)
        await handler(call)

    server = AgiServer({"inbound": route}, read_timeout=5)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        env = f"agi_network: yes\nagi_network_script: inbound\n{env_extra}\n"
        await trickle(writer, env.encode())
        heard = b""
        for line in replies.splitlines(keepends=True):
            heard += await asyncio.wait_for(reader.readline(), 5)
            await trickle(writer, line)
        heard += await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await server.close(grace=1)
    return heard, calls


async def test_utf8_split_across_agi_reads_is_read_whole() -> None:
    values: list[str | None] = []

    async def handler(call: AgiCall) -> None:
        values.append(await call.get_variable("CALLERID(name)"))

    heard, calls = await agi_exchange(
        handler, f"agi_calleridname: {NAME}\n", f"200 result=1 ({NAME})\n".encode()
    )

    assert calls[0].env["agi_calleridname"] == NAME
    assert values == [NAME]
    assert heard == b"GET VARIABLE CALLERID(name)\n"


async def test_a_value_over_asterisks_agi_buffer_is_never_sent() -> None:
    """Asterisk would run whatever passes its 2,048-byte line as a second command: the engine
    refuses to send the line, and tells the dialplan to take the failure route instead."""

    async def handler(call: AgiCall) -> None:
        await call.set_variable(variables.CLIENT_NAME, "A" * 2040 + " EXEC Hangup")

    heard, _ = await agi_exchange(handler, "", b"200 result=1\n200 result=1\n")

    lines = heard.decode().splitlines()
    assert lines == [
        f'SET VARIABLE {variables.ROUTE} "failure"',
        f'SET VARIABLE {variables.FAILURE_REASON} "ValueError"',
    ]
    assert all(len(line) < 2048 for line in lines)


async def test_fastagi_requests_without_the_token_are_closed_unanswered(caplog) -> None:  # type: ignore[no-untyped-def]
    token = "s3cret-TOKEN_value"
    served: list[AgiCall] = []

    async def route(call: AgiCall) -> None:
        served.append(call)

    server = AgiServer({"inbound": route}, read_timeout=5, token=token)
    await server.start()
    try:
        for script in ("inbound", "inbound?token=wrong", f"inbound?token={token}x", "inbound?tok"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"agi_network: yes\nagi_network_script: {script}\n\n".encode())
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, not a word
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            f"agi_network: yes\nagi_network_script: inbound?token={token}&x=1\n\n".encode()
        )
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await server.close(grace=1)

    assert server.calls_refused == 4
    assert len(served) == 1 and served[0].query == {"x": "1"}  # the route never sees it
    assert token not in caplog.text
