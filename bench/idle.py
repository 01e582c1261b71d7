"""What an idle engine costs: `ivr serve` and Asterisk with 10,000 client files, no call.

Starts the real stack on generated rules (bench/routing.py's 10,000 clients), lets it settle,
then reads both processes' CPU seconds over a window and prints them per minute and as a
share of one core.

    .venv/bin/python -m bench.idle [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

from bench.calls import cpu_seconds
from bench.routing import write_rules
from ivr.harness.stack import Stack, stack_settings

SETTLE = 5.0  # seconds after the engine is ready, before measuring


async def idle(seconds: float, clients: int = 10_000, settle: float = SETTLE) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="ivr-idle-"))
    try:
        rules = work / "rules"
        rules.mkdir()
        write_rules(rules, clients)
        stack = Stack(stack_settings(work, rules), work / "stack")
        try:
            await stack.start()
            await asyncio.sleep(settle)  # start-up work (the rules cache, prompts) is done
            assert stack.engine is not None and stack.asterisk.process is not None
            pids = {"engine": stack.engine.pid, "asterisk": stack.asterisk.process.pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            await asyncio.sleep(seconds)  # the measurement window itself
            used = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        finally:
            await stack.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = {name: value * 60 / seconds for name, value in used.items()}
    print(
        f"idle, {clients} client files, over {seconds:g} s: engine {figures['engine']:.3f} CPU s "
        f"per minute ({figures['engine'] / 60 * 100:.2f} % of a core), Asterisk "
        f"{figures['asterisk']:.3f} CPU s per minute ({figures['asterisk'] / 60 * 100:.2f} %)"
    )
    return figures


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=SETTLE, help="seconds before measuring")
    args = parser.parse_args(argv)
    asyncio.run(idle(args.seconds, args.clients, args.settle))


if __name__ == "__main__":
    cli()
