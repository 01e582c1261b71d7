"""AMI ingest: a scripted AMI peer replays a day of events as fast as it can.

The peer logs the engine's AMI client in and then writes a day's events (DAY_CALLS calls of
a small answering center: arrivals, operators rung, answers, messages, queue events,
hang-ups, as Asterisk 22 words them) without pausing. The engine's own path takes them: the
AMI client reads and parses, the records feed translates them into facts, and the records
writer batches them into the database. Printed: events/s and facts/s, from the first byte
sent until the last fact is written, on SQLite and on a real PostgreSQL.

    .venv/bin/python -m bench.ingest [--calls 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from ivr.ami.client import AmiClient
from ivr.ami.facts import call_facts, record_events
from ivr.ami.message import Message, encode
from ivr.harness.pgcluster import PostgresCluster
from ivr.records import db
from ivr.records.writer import RecordWriter

DAY_CALLS = 10_000
DAY_START = 1_772_438_400.0  # a Monday, 08:00 in Rome
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _headers(event: str, at: float, channel: str, uid: str, lid: str, context: str, **more: str):
    return [
        ("Event", event),
        ("Privilege", "call,all"),
        ("Timestamp", f"{at:.6f}"),
        ("Channel", channel),
        ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"),
        ("CallerIDNum", more.pop("num", "3351234567")),
        ("CallerIDName", more.pop("name", "Mario Rossi")),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "it"),
        ("AccountCode", ""),
        ("Context", context),
        ("Exten", more.pop("exten", "0611000001")),
        ("Priority", "1"),
        ("Uniqueid", uid),
        ("Linkedid", lid),
        *more.items(),
    ]


def day(calls: int = DAY_CALLS, seed: int = 7) -> list[bytes]:
    """A day's events, each already encoded for the wire."""
    rng = random.Random(seed)
    out: list[bytes] = []
    at = DAY_START
    n = 0
    for _ in range(calls):
        at += rng.expovariate(calls / 36_000)  # ten busy hours
        lid = f"{int(at)}.{n}"
        trunk = f"PJSIP/trunk-{n:08x}"
        caller = f"33{rng.randrange(10**8):08d}"
        op = rng.choice(("op1", "op2", "op3"))
        leg = f"PJSIP/{op}-{n + 1:08x}"
        uid_leg = f"{int(at)}.{n + 1}"
        n += 2
        answered = rng.random() < 0.8
        ring = rng.uniform(2, 15)
        talk = rng.uniform(20, 240)

        def ev(
            name: str, t: float, channel: str, uid: str, ctx: str, lid=lid, caller=caller, **more
        ) -> None:  # type: ignore[no-untyped-def]
            out.append(encode(_headers(name, t, channel, uid, lid, ctx, num=caller, **more)))

        ev("Newchannel", at, trunk, lid, "ivr-in-trunk")
        ev("QueueCallerJoin", at + 0.01, trunk, lid, "ivr-in-route", Queue="desk", Position="1")
        ev("Newchannel", at + 0.02, leg, uid_leg, "ivr-operators", exten="s")
        ev("DialBegin", at + 0.02, trunk, lid, "ivr-in-route", DestChannel=leg,
           DestUniqueid=uid_leg, DialString=op)  # fmt: skip
        ev("AgentCalled", at + 0.02, trunk, lid, "ivr-in-route", Queue="desk", MemberName=op)
        if answered:
            ev("DialEnd", at + ring, trunk, lid, "ivr-in-route", DestChannel=leg,
               DestUniqueid=uid_leg, DialStatus="ANSWER")  # fmt: skip
            ev("AgentConnect", at + ring, trunk, lid, "ivr-in-route", Queue="desk",
               MemberName=op, HoldTime=str(int(ring)))  # fmt: skip
            end = at + ring + talk
            ev("HangupRequest", end, leg, uid_leg, "ivr-operators", exten="s")
            ev("Hangup", end, leg, uid_leg, "ivr-operators", exten="s", Cause="16")
            ev("AgentComplete", end, trunk, lid, "ivr-in-route", Queue="desk", MemberName=op)
        else:
            ev("DialEnd", at + 15, trunk, lid, "ivr-in-route", DestChannel=leg,
               DestUniqueid=uid_leg, DialStatus="NOANSWER")  # fmt: skip
            ev("Hangup", at + 15, leg, uid_leg, "ivr-operators", exten="s", Cause="19")
            ev("QueueCallerLeave", at + 15, trunk, lid, "ivr-in-route", Queue="desk")
            end = at + 15 + rng.uniform(5, 60)
            ev("UserEvent", end, trunk, lid, "ivr-in-message", exten="s",
               UserEvent="IvrMessage", Path=f"/srv/ivr/demo/messages/acme/{lid}.wav",
               Escalate="")  # fmt: skip
        ev("Hangup", end + 0.01, trunk, lid, "ivr-in-route", Cause="16")
    return out


class ReplayPeer:
    """Logs the client in, then writes every event as fast as the socket takes them."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events
        self.port = 0
        self.started_at = 0.0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        block = b""
        while not block.endswith(b"\r\n\r\n"):
            block += await reader.readline()
        action_id = next(
            line.split(b":", 1)[1].strip()
            for line in block.split(b"\r\n")
            if line.lower().startswith(b"actionid")
        )
        writer.write(b"Response: Success\r\nActionID: " + action_id + b"\r\n\r\n")
        await writer.drain()
        answering = asyncio.create_task(self._answer(reader, writer))
        self.started_at = time.perf_counter()
        for start in range(0, len(self.events), 256):
            writer.write(b"".join(self.events[start : start + 256]))
            await writer.drain()
        await answering  # until the client leaves

    @staticmethod
    async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer the client's actions (its Ping) with a plain Success."""
        block = b""
        while line := await reader.readline():
            block += line
            if line in (b"\r\n", b"\n"):
                ids = [x for x in block.split(b"\r\n") if x.lower().startswith(b"actionid")]
                if ids:
                    answer = b"Response: Success\r\nActionID: " + ids[0].split(b":", 1)[1].strip()
                    writer.write(answer + b"\r\n\r\n")
                block = b""

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def ingest(url: str, events: list[bytes]) -> tuple[float, int]:
    """(seconds from the first event sent to the last fact written, facts written)."""
    await db.upgrade(url)
    writer = RecordWriter(url)
    await writer.start()
    peer = ReplayPeer(events)
    await peer.start()
    seen = 0
    facts = 0
    done = asyncio.Event()

    async def on_batch(batch: list[Message]) -> None:
        nonlocal seen, facts
        facts += len(call_facts(batch))
        record_events(writer, batch)
        seen += len(batch)
        if seen >= len(events):
            done.set()

    # The whole day may queue up: this measures throughput, not the queue's bound.
    client = AmiClient(
        "127.0.0.1", peer.port, "ivr", "secret", on_batch=on_batch, queue_max=len(events) + 10
    )
    await client.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
        await writer.flush(600)
        seconds = time.perf_counter() - peer.started_at
    finally:
        await client.close()
        await peer.close()
        await writer.close()
    return seconds, facts


async def main(calls: int) -> dict[str, float]:
    events = day(calls)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ivr-ingest-") as tmp:
        seconds, facts = await ingest(f"sqlite+aiosqlite:///{Path(tmp) / 'ivr.db'}", events)
        figures["sqlite"] = len(events) / seconds
        print(
            f"AMI ingest, SQLite: {len(events)} events ({facts} record facts) of {calls} calls "
            f"in {seconds:.2f} s: {len(events) / seconds:,.0f} events/s"
        )
    cluster = PostgresCluster()
    await asyncio.to_thread(cluster.start)
    try:
        url = await cluster.new_database("ingest")
        seconds, facts = await ingest(url, events)
        figures["postgresql"] = len(events) / seconds
        print(
            f"AMI ingest, PostgreSQL: {len(events)} events ({facts} record facts) in "
            f"{seconds:.2f} s: {len(events) / seconds:,.0f} events/s"
        )
    finally:
        await asyncio.to_thread(cluster.remove)
    return figures


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--calls", type=int, default=DAY_CALLS)
    args = parser.parse_args(argv)
    asyncio.run(main(args.calls))


if __name__ == "__main__":
    cli()
