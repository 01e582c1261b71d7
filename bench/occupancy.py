"""Blended occupancy: a center's simulated day per pacing mode, for 6, 20 and 50 operators.

Runs ivr.campaigns.simulate (the dialer's own pacing and blending decisions on a simulated
clock) over several seeds and prints, per size and mode, the mean and the spread of:
occupancy (talking + wrap-up over logged-in time), the talking share alone, the inbound
service level (answered within 20 s over all offered), the average speed of answer, the
inbound abandoned share, outbound connects per operator-hour, and drops as the authority
counts them (people answered and not with an operator within 3 s, AMD's hang-ups on people
included) over the people answered. Figures only: nothing asserts on them.

    .venv/bin/python -m bench occupancy                      # 6, 20, 50 operators, 5 seeds
    .venv/bin/python -m bench occupancy --operators 20 --seeds 10
    .venv/bin/python -m bench occupancy --like-dialer-bench  # bench/dialer.py's workload

--like-dialer-bench simulates what bench/dialer.py runs through the real Asterisk (6
operators, no inbound, contacts answering 80 % of the time after 1-6 s and talking 5-12 s,
1 s wrap-up, no AMD, 8 s ring), to set the two side by side.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from ivr.campaigns.simulate import MODES, Center, Result, simulate

COLUMNS: dict[str, tuple[str, Callable[[Result], float]]] = {
    "occupancy": ("{:>5.1%}", lambda r: r.occupancy),
    "talking": ("{:>5.1%}", lambda r: r.talking),
    "SL 20s": ("{:>5.1%}", lambda r: r.service_level),
    "ASA s": ("{:>5.1f}", lambda r: r.asa),
    "abandon": ("{:>5.1%}", lambda r: r.abandon_rate),
    "conn/op-h": ("{:>5.1f}", lambda r: r.connects_per_hour),
    "drops": ("{:>5.2%}", lambda r: r.drop_rate),
}

# bench/dialer.py's workload: see its contact_rows() and cli() defaults.
DIALER_BENCH = Center(
    operators=6,
    peak_load=0.0,
    answer_rate=0.8,
    machine_rate=0.0,
    fail_rate=0.0,
    ring=8.0,
    amd=False,
    outbound_talk=(8.5, 2.0),
    outbound_wrap=(1.0, 0.01),
    wrap_limit=1.0,
    answer_delay=(3.5, 1.5),
    read=2.2,
    profile=(1.0,),
)


def run(center: Center, seeds: int, modes: tuple[str, ...] = MODES) -> dict[str, list[Result]]:
    return {mode: [simulate(center, mode, seed) for seed in range(1, seeds + 1)] for mode in modes}


def report(center: Center, results: dict[str, list[Result]], seconds: float) -> None:
    hours = center.seconds / 3600
    print(
        f"{center.operators} operators, a {hours:g} h day, {len(next(iter(results.values())))}"
        f" seeds (mean ± sd), answer rate {center.answer_rate:.0%}, AMD "
        f"{'on' if center.amd else 'off'}, inbound peak {center.peak_load:.0%} of the staff"
        f" ({seconds:.1f} s)"
    )
    print(f"  {'mode':12}" + "".join(f" {name:>15}" for name in COLUMNS))
    for mode, runs in results.items():
        cells = []
        for fmt, read in COLUMNS.values():
            values = [read(r) for r in runs]
            mean = statistics.fmean(values)
            sd = statistics.pstdev(values)
            cells.append(f" {fmt.format(mean)} ± {fmt.format(sd).strip():>6}")
        print(f"  {mode:12}" + "".join(f"{c:>16}" for c in cells))


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench occupancy")
    parser.add_argument("--operators", type=int, nargs="*", default=[6, 20, 50])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hours", type=int, default=0, help="a shorter day (the profile's start)")
    parser.add_argument("--answer-rate", type=float, default=0.3)
    parser.add_argument("--no-amd", action="store_true")
    parser.add_argument("--like-dialer-bench", action="store_true")
    args = parser.parse_args(argv)
    if args.like_dialer_bench:
        started = time.perf_counter()
        center = DIALER_BENCH
        results = run(center, args.seeds, ("preview", "progressive", "ratio", "predictive"))
        report(center, results, time.perf_counter() - started)
        return
    for operators in args.operators:
        center = Center(operators=operators, answer_rate=args.answer_rate, amd=not args.no_amd)
        if args.hours:
            center = replace(center, profile=center.profile[: args.hours])
        started = time.perf_counter()
        results = run(center, args.seeds)
        report(center, results, time.perf_counter() - started)


if __name__ == "__main__":
    cli()
