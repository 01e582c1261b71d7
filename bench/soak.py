"""`make soak`: calls through the real Asterisk while the engine is killed and its AMI link cut.

N calls at R calls/s (each held H ms once answered). When a third of them are placed the
engine is killed with SIGKILL; when half are placed it is started again; when all are placed
the engine's AMI link is cut once (a relay between the engine and Asterisk drops it). 10 s
after the last call ends it prints calls placed, calls answered, records, records rebuilt
from Asterisk's own account, and records still in progress. Aim: records = calls placed,
0 in progress.

    .venv/bin/python -m bench.soak --calls 1200 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ivr.harness.ports import free_tcp_port
from ivr.harness.stack import Stack, stack_settings
from ivr.records import repo

HERE = Path(__file__).resolve().parent
NUMBER = "0611000001"
SETTLE = 10.0  # seconds after the last call before the records are counted


@dataclass(frozen=True)
class SoakResult:
    placed: int
    answered: int
    records: int
    rebuilt: int
    in_progress: int

    def __str__(self) -> str:
        return (
            f"calls placed {self.placed}, answered {self.answered}; records {self.records}, "
            f"rebuilt {self.rebuilt}, in progress {SETTLE:g} s after the last call "
            f"{self.in_progress}"
        )


class Relay:
    """A TCP relay from the engine to Asterisk's AMI, so that the link can be cut."""

    def __init__(self, host: str, target: int) -> None:
        self.host, self.target = host, target
        self.port = free_tcp_port()
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.cuts = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, self.host, self.port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._links -= {writer, up_writer}
            for end in (writer, up_writer):
                end.close()

    def cut(self) -> None:
        """Drop every link at once, as a network would (no goodbye)."""
        self.cuts += 1
        for writer in list(self._links):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _at(loop: asyncio.AbstractEventLoop, when: float) -> None:
    await asyncio.sleep(max(0.0, when - loop.time()))


async def soak(calls: int, rate: float, hold_ms: int, work: Path, log: bool = True) -> SoakResult:
    settings = stack_settings(work, HERE / "soak_rules", rtp_ports=4000, ring_timeout=10)
    stack = Stack(settings, work / "stack")
    relay = Relay(settings.bind, settings.ports.ami)
    await relay.start()
    stack.extra_env["IVR_PORT_AMI"] = str(relay.port)

    def say(text: str) -> None:
        if log:
            print(f"  {text}", file=sys.stderr)

    try:
        await stack.start()
        await stack.phone("op1", ring_ms=100)
        await stack.phone("op3", ring_ms=100)
        loop = asyncio.get_running_loop()
        began = loop.time()
        placing = asyncio.create_task(
            stack.call(
                NUMBER,
                count=calls,
                rate=rate,
                hold_ms=hold_ms,
                limit=int(rate * (hold_ms / 1000 + 15)) + 10,
                timeout=calls / rate + hold_ms / 1000 + 180,
            )
        )
        await _at(loop, began + calls / 3 / rate)
        await stack.stop_engine(signal.SIGKILL)
        say(f"engine killed at {loop.time() - began:.1f} s")
        await _at(loop, began + calls / 2 / rate)
        await stack.start_engine()
        say(f"engine started again at {loop.time() - began:.1f} s")
        await _at(loop, began + calls / rate)
        relay.cut()
        say(f"AMI link cut at {loop.time() - began:.1f} s")
        result = await placing
        say(f"last call ended at {loop.time() - began:.1f} s")
        await asyncio.sleep(SETTLE)  # the settling time the figure is defined with
        records = await repo.list_calls(stack.sessions, limit=calls * 2)
        return SoakResult(
            placed=result.created,
            answered=result.successful,
            records=len(records),
            rebuilt=sum(1 for r in records if r.rebuilt),
            in_progress=sum(1 for r in records if r.ended_at is None),
        )
    finally:
        await stack.close()
        await relay.close()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--calls", type=int, default=1200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--hold-ms", type=int, default=3000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    try:
        result = asyncio.run(soak(args.calls, args.rate, args.hold_ms, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"soak: {args.calls} calls at {args.rate:g}/s, held {args.hold_ms} ms: {result}")


if __name__ == "__main__":
    cli()
