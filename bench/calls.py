"""Calls through the whole path, three ways, side by side in one run.

(a) a static dialplan with no AGI (the limit), (b) FastAGI through `ivr serve`, (c) a classic
one-process-per-call AGI script (pyst2). Each variant takes the same decision, rings the
same operator phone and keeps the call up for the same time. Printed per variant: calls
completed and failed, the routing step's time as Asterisk measures it (p50, p99), call set-up
time as the caller sees it, and CPU seconds per call of Asterisk (with its AGI children) plus
the engine. Figures only: no pass/fail on time (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agi_scripts.inbound_plan import plan
from ivr.ami.client import AmiClient
from ivr.ami.message import Message
from ivr.asterisk.render import render_instance
from ivr.harness.sipp import SippResult, place_calls
from ivr.harness.stack import Stack, stack_settings
from ivr.routing import CallInfo, evaluate, load_rules

HERE = Path(__file__).resolve().parent
NUMBER = "0611000001"
VARIANTS = {"static": "91", "fastagi": "", "classic": "92"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime: the process and the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])
    import os

    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Outcome:
    variant: str
    result: SippResult
    routing_us: list[float]
    setup_ms: list[float]
    cpu: float
    wall: float
    cpu_engine: float = 0.0  # the part of cpu spent by the engine process


def combine(total: Outcome | None, more: Outcome) -> Outcome:
    if total is None:
        return more
    result = SippResult(
        returncode=max(total.result.returncode, more.result.returncode),
        created=total.result.created + more.result.created,
        successful=total.result.successful + more.result.successful,
        failed=total.result.failed + more.result.failed,
        output="",
    )
    return Outcome(
        total.variant,
        result,
        total.routing_us + more.routing_us,
        total.setup_ms + more.setup_ms,
        total.cpu + more.cpu,
        total.wall + more.wall,
        total.cpu_engine + more.cpu_engine,
    )


def static_variables(stack: Stack) -> dict[str, str]:
    """Exactly what the engine sets for the benchmark's client, written into the dialplan."""
    rules = load_rules(stack.settings.rules)
    info = CallInfo(called=NUMBER, caller="0399999999", caller_name="Caller")
    decision = evaluate(rules, info, datetime.now(UTC))
    values = plan(decision, stack.settings, "${CHANNEL(linkedid)}")
    values["CALLERID(name)"] = f"{decision.client.name if decision.client else ''}: Caller"
    return values


def install_classic(stack: Stack) -> None:
    """The classic script, the engine's pure modules, pyst2 and Jinja2, inside Asterisk's root."""
    import asterisk  # pyst2

    import agi_scripts
    import ivr

    agi_bin = stack.settings.host_run_dir / "agi-bin"
    lib = agi_bin / "lib"
    shutil.rmtree(lib, ignore_errors=True)
    for module in (ivr, agi_scripts, asterisk):
        source = Path(module.__file__ or "").parent
        shutil.copytree(source, lib / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    script = agi_bin / "classic_inbound.py"
    shutil.copy(HERE.parent / "agi_scripts" / "classic_inbound.py", script)
    script.chmod(0o755)
    rules = stack.settings.host_run_dir / "rules"
    shutil.rmtree(rules, ignore_errors=True)
    shutil.copytree(stack.settings.rules, rules)


async def run_variant(
    stack: Stack, variant: str, calls: int, rate: float, hold_ms: int, work: Path
) -> Outcome:
    timings: list[float] = []

    async def collect(event: Message) -> None:
        if event.get("UserEvent") == "IvrBench" and event.get("Variant") == variant:
            timings.append(float(event["Us"]))

    s = stack.settings
    ami = AmiClient(s.bind, s.ports.ami, s.ami_user, s.ami_secret, on_event=collect)
    await ami.start()
    await ami.wait_connected(10)
    assert stack.asterisk.process is not None and stack.engine is not None
    pids = (stack.asterisk.process.pid, stack.engine.pid)
    folder = work / variant
    folder.mkdir(parents=True, exist_ok=True)
    cpu0 = sum(cpu_seconds(p) for p in pids)
    engine0 = cpu_seconds(pids[1])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    result = await place_calls(
        stack.sip,
        VARIANTS[variant] + NUMBER,
        count=calls,
        rate=rate,
        hold_ms=hold_ms,
        limit=int(rate * hold_ms / 1000 * 2) + 10,
        timeout=calls / rate + hold_ms / 1000 + 120,
        extra=("-trace_rtt", "-rtt_freq", "1"),
        cwd=folder,
    )
    await wait_idle(stack)
    wall = loop.time() - t0
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    engine = cpu_seconds(pids[1]) - engine0
    await ami.close()
    return Outcome(variant, result, timings, read_rtt(folder), cpu, wall, engine)


def read_rtt(folder: Path) -> list[float]:
    values: list[float] = []
    for path in folder.glob("*_rtt.csv"):
        for line in path.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 3:  # Date_ms;response_time_ms;rtd_no
                try:
                    values.append(float(parts[1]))
                except ValueError:
                    continue
    return values


async def wait_idle(stack: Stack, timeout: float = 60) -> None:
    """Until Asterisk has no channel left, so the CPU measured covers whole calls."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        out = await stack.asterisk.cli("core show channels count")
        if out.strip().startswith("0 active channels"):
            return
        await asyncio.sleep(0.2)  # polling Asterisk's channel count


def report(outcomes: list[Outcome], calls: int, rate: float, hold_ms: int) -> str:
    base = outcomes[0].cpu / max(1, outcomes[0].result.successful)
    lines = [
        f"calls through the whole path: {calls} per variant at {rate:g}/s, held {hold_ms} ms "
        f"(about {rate * hold_ms / 1000:.0f} up at once)",
        f"{'variant':<10}{'done':>6}{'failed':>8}{'route p50':>11}{'route p99':>11}"
        f"{'setup p50':>11}{'setup p99':>11}{'CPU s/call':>12}{'vs static':>11}"
        f"{'of it engine':>14}",
    ]
    for o in outcomes:
        per_call = o.cpu / max(1, o.result.successful)
        lines.append(
            f"{o.variant:<10}{o.result.successful:>6}{o.result.failed:>8}"
            f"{percentile(o.routing_us, 50) / 1000:>9.2f}ms"
            f"{percentile(o.routing_us, 99) / 1000:>9.2f}ms"
            f"{percentile(o.setup_ms, 50):>9.1f}ms{percentile(o.setup_ms, 99):>9.1f}ms"
            f"{per_call:>12.4f}{per_call / base if base else float('nan'):>10.2f}x"
            f"{o.cpu_engine / max(1, o.result.successful):>14.4f}"
        )
    lines.append(
        "route = the routing step inside Asterisk (AGI round trip for fastagi/classic); "
        "setup = INVITE to 200 OK at the caller; CPU = Asterisk (+AGI children) + engine."
    )
    return "\n".join(lines)


async def main(
    calls: int, rate: float, hold_ms: int, rounds: int = 3, keep: bool = False
) -> list[Outcome]:
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    settings = stack_settings(work, HERE / "rules", rtp_ports=2000, message_max_seconds=5)
    stack = Stack(settings, work / "stack")
    stack.workdir.mkdir(parents=True, exist_ok=True)
    render_instance(stack.settings, bench={"static": static_variables(stack)})
    install_classic(stack)
    await stack.asterisk.start()
    await stack.start_engine()
    try:
        await stack.phone("op1", ring_ms=1)
        # Rounds interleave the variants, so the shared machine's noise falls on all three.
        totals: dict[str, Outcome] = {}
        per_round = max(1, calls // rounds)
        for n in range(rounds):
            for variant in VARIANTS:
                got = await run_variant(stack, variant, per_round, rate, hold_ms, work / str(n))
                totals[variant] = combine(totals.get(variant), got)
                print(
                    f"  round {n + 1}/{rounds} {variant}: {got.result.successful} done, "
                    f"{got.result.failed} failed",
                    file=sys.stderr,
                )
        outcomes = list(totals.values())
        print(report(outcomes, per_round * rounds, rate, hold_ms))
        return outcomes
    finally:
        await stack.close()
        if keep:
            print(f"sipp's files are kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.calls")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--hold-ms", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--keep", action="store_true", help="keep sipp's traces")
    args = parser.parse_args(argv)
    asyncio.run(main(args.calls, args.rate, args.hold_ms, args.rounds, args.keep))


if __name__ == "__main__":
    cli()
