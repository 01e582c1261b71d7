"""A scripted AGI peer: plays Asterisk's side of a FastAGI connection, byte for byte.

It only records and replies; the tests make the assertions on what it returns.
"""

from __future__ import annotations

import asyncio

# A guard against a hung test, not a pause: every read returns as soon as the bytes arrive.
GUARD = 5.0

HOSTILE_NAME = '"Bob" O\'Brien; SET VARIABLE IVR_ROUTE \\"hangup\\" (x)'


def default_env(port: int, script: str = "inbound?x=1", *args: str) -> dict[str, str]:
    """What Asterisk 22 sends for AGI(agi://127.0.0.1:PORT/SCRIPT,ARGS...)."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:{port}/{script}",
        "agi_channel": "PJSIP/trunk-00000001",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1700000000.1",
        "agi_version": "22.0.0",
        "agi_callerid": "0612345678",
        "agi_calleridname": HOSTILE_NAME,
        "agi_callingpres": "0",
        "agi_dnid": "0212345678",
        "agi_rdnis": "unknown",
        "agi_context": "ivr-in-trunk",
        "agi_extension": "0212345678",
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
    }
    for number, arg in enumerate(args, start=1):
        env[f"agi_arg_{number}"] = arg
    return env


class AgiPeer:
    """One connection to the server under test, as Asterisk would make it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, env: dict[str, str] | None = None, *, send_env: bool = True
    ) -> AgiPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if send_env:
            await peer.send_env(default_env(port) if env is None else env)
        return peer

    async def send_env(self, env: dict[str, str]) -> None:
        block = "".join(f"{key}: {value}\n" for key, value in env.items()) + "\n"
        await self.send(block.encode())

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, *lines: str) -> None:
        """Answer with these lines ('200 result=1', 'HANGUP', ...), newline added."""
        await self.send("".join(line + "\n" for line in lines).encode())

    async def read_command(self) -> bytes:
        """The next raw line the server sent, newline included; b'' once it closed."""
        async with asyncio.timeout(GUARD):
            return await self.reader.readline()

    async def exchange(self, *reply: str) -> bytes:
        """Read one command, answer it, return the command's bytes."""
        line = await self.read_command()
        if line:
            await self.reply(*reply)
        return line

    async def rest(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        async with asyncio.timeout(GUARD):
            return await self.reader.read()

    async def rest_answering(self, reply: str = "200 result=1") -> list[bytes]:
        """Answer every further command with `reply` until the server closes; the commands."""
        lines = []
        while line := await self.read_command():
            lines.append(line)
            await self.reply(reply)
        return lines

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(GUARD):
                await self.writer.wait_closed()
        except (ConnectionError, TimeoutError):
            pass
