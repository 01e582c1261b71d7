"""A cluster on this machine (`ivr cluster`: Kamailio, two Asterisk nodes, an engine beside
each, one PostgreSQL): how many calls per second one node and two nodes take with no call
failed, and the failover gap when a node goes away under load, for `core stop now`, SIGKILL
and a graceful drain, side by side.

Throughput: at each rate, the same calls through Kamailio to one node (the other drained in
Kamailio, state d) and to both, interleaved; the highest rate with 0 failed for each, their
ratio, and where the CPU went (Kamailio, Asterisk, engines) per call. Failover: calls at a
steady rate, node1 taken away a few seconds in; calls lost, calls failed that started after,
and the longest call set-up (INVITE to 200 OK) after it, as the caller sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.calls import percentile, read_rtt
from bench.pg import postgres
from ivr.cluster.run import Running
from ivr.cluster.spec import load
from ivr.harness.cluster import loopback_file
from ivr.harness.ports import free_udp_port
from ivr.harness.sipp import SCENARIOS, SippResult, place_calls

HERE = Path(__file__).resolve().parent
NUMBER = "0611000001"
CALLER = SCENARIOS / "caller_rr.xml"
PARTS = ("kamailio", "asterisk", "engines")


def settings_file(folder: Path, url: str) -> Path:
    return loopback_file(
        folder, f"bench{os.getpid() % 10000}", url, HERE / "rules",
        f"127.0.0.2:{free_udp_port('127.0.0.2')}", 44000, 4000,
        settings="message_max_seconds = 5",
    )  # fmt: skip


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process, its reaped children, and its live children."""
    if pid is None:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except (OSError, IndexError):
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += sum(int(x) for x in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def cpu(running: Running) -> dict[str, float]:
    nodes = running.cluster.nodes
    return {
        "kamailio": tree_cpu(running.kamailio.pid()),
        "asterisk": sum(tree_cpu(running.asterisk_pid(n)) for n in nodes),
        "engines": sum(tree_cpu(running.engine_pid(n)) for n in nodes),
    }


@dataclass
class Run:
    result: SippResult
    setup_ms: list[float]
    cpu: dict[str, float]


async def calls(running: Running, work: Path, count: int, rate: float, hold_ms: int) -> Run:
    folder = Path(tempfile.mkdtemp(dir=work))
    before = cpu(running)
    result = await place_calls(
        (running.cluster.address, running.cluster.port), NUMBER, scenario=CALLER,
        count=count, rate=rate, hold_ms=hold_ms, limit=int(rate * (hold_ms / 1000 + 3)) + 20,
        timeout=count / rate + hold_ms / 1000 + 120,
        extra=("-trace_rtt", "-rtt_freq", "1", "-recv_timeout", "10000"), cwd=folder,
    )  # fmt: skip
    await idle(running)
    after = cpu(running)
    return Run(result, read_rtt(folder), {k: after[k] - before[k] for k in after})


async def idle(running: Running, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status = await running.status()
        if all(not n["calls"] for n in status["nodes"].values()):
            return
        await asyncio.sleep(0.2)  # polling the nodes' channel counts


async def throughput(
    running: Running, work: Path, rates: list[float], seconds: float, hold_ms: int
) -> None:
    node2 = running.cluster.nodes[1]
    best = {"one node": 0.0, "two nodes": 0.0}
    print(f"{'rate/s':>7}  {'nodes':<10}{'done':>6}{'failed':>8}{'setup p50':>11}"
          f"{'setup p99':>11}{'CPU s/call':>12}  (kamailio / asterisk / engines)")  # fmt: skip
    for rate in rates:
        for label in best:
            await running.kamailio.set_state("d" if label == "one node" else "ap", node2.uri)
            run = await calls(running, work, max(10, int(rate * seconds)), rate, hold_ms)
            done = max(1, run.result.successful)
            if run.result.failed == 0 and run.result.successful > 0:
                best[label] = max(best[label], rate)
            parts = " / ".join(
                f"{run.cpu[k] / done:.4f}" for k in ("kamailio", "asterisk", "engines")
            )
            print(
                f"{rate:>7g}  {label:<10}{run.result.successful:>6}{run.result.failed:>8}"
                f"{percentile(run.setup_ms, 50):>9.1f}ms{percentile(run.setup_ms, 99):>9.1f}ms"
                f"{sum(run.cpu.values()) / done:>12.4f}  ({parts})",
                flush=True,
            )
    await running.kamailio.set_state("ap", node2.uri)
    one, two = best["one node"], best["two nodes"]
    ratio = f"{two / one:.2f}x" if one else "n/a"
    print(f"highest rate with 0 failed: one node {one:g}/s, two nodes {two:g}/s ({ratio})")


async def failover(running: Running, work: Path, rate: float, hold_ms: int, seconds: float) -> None:
    node1 = running.cluster.nodes[0]
    print(f"\nfailover: {rate:g} calls/s for {seconds:g} s, held {hold_ms} ms; node1 taken away "
          f"after {seconds / 3:.0f} s")  # fmt: skip
    print(f"{'how':<12}{'calls':>6}{'failed':>8}{'setup p50':>11}{'setup max':>11}")
    for how in ("stop-now", "kill", "drain"):
        load = asyncio.create_task(calls(running, work, int(rate * seconds), rate, hold_ms))
        await asyncio.sleep(seconds / 3)  # the load is running: take the node away now
        if how == "drain":
            await running.drain(node1)
        else:
            await running.stop_asterisk(node1, "now" if how == "stop-now" else "kill")
        run = await load
        print(
            f"{how:<12}{run.result.created:>6}{run.result.failed:>8}"
            f"{percentile(run.setup_ms, 50):>9.1f}ms{max(run.setup_ms, default=0):>9.1f}ms",
            flush=True,
        )
        await running.start([node1.name])
        await back(running, node1.name)
    print(
        "failed = calls up on node1 when it went (lost) plus any new call refused; "
        "setup max = the longest wait of a new call (a dead node: Kamailio's reply timeout)"
    )


async def back(running: Running, name: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if (await running.status())["nodes"][name]["kamailio"] == "active":
            return
        await asyncio.sleep(0.2)  # polling Kamailio's view of the node
    raise RuntimeError(f"{name} did not come back within {timeout} s")


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-cluster-"))
    with postgres() as url:
        running = Running(load(settings_file(work, url)))
        try:
            await running.start()
            rates = [float(r) for r in args.rates.split(",")]
            print(f"== calls through Kamailio: {args.seconds:g} s of calls per rate, held "
                  f"{args.hold_ms} ms, one node vs two nodes (interleaved)")  # fmt: skip
            await throughput(running, work, rates, args.seconds, args.hold_ms)
            await failover(running, work, args.failover_rate, args.hold_ms, args.failover_seconds)
        finally:
            await running.stop()
            for settings in running.settings.values():
                shutil.rmtree(settings.state_dir, ignore_errors=True)
                shutil.rmtree(settings.host_run_dir, ignore_errors=True)
            shutil.rmtree(running.cluster.run_dir, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench cluster")
    parser.add_argument("--rates", default="40,80,120,160", help="calls/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of calls per rate")
    parser.add_argument("--hold-ms", type=int, default=2000)
    parser.add_argument("--failover-rate", type=float, default=10.0)
    parser.add_argument("--failover-seconds", type=float, default=9.0)
    args = parser.parse_args(argv)
    asyncio.run(main(args))


if __name__ == "__main__":
    print("use: python -m bench cluster", file=sys.stderr)
    cli()
