"""`make bench`: every benchmark, printing figures side by side; nothing asserts on time.

.venv/bin/python -m bench                  # all of them
.venv/bin/python -m bench routing          # rules load and decision time only
.venv/bin/python -m bench area             # the client area's list
.venv/bin/python -m bench calls --calls 300 --rate 20 --hold-ms 5000
.venv/bin/python -m bench ingest           # AMI events/s into SQLite and PostgreSQL
.venv/bin/python -m bench idle             # an idle engine with 10,000 client files
.venv/bin/python -m bench dialer --operators 6 --seconds 60 --rounds 2
.venv/bin/python -m bench cluster [--rates 40,80,120,160]  # one vs two nodes, failover gap
.venv/bin/python -m bench occupancy [--operators 20 --seeds 10]  # a blended day, simulated
.venv/bin/python -m bench --smoke calls    # one benchmark at its smoke size (seconds)

`make soak` runs bench/soak.py on its own. Every benchmark also runs at its smoke size in
`make test` (tests/bench/), so that a change that breaks one fails there, not here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import area, calls, cluster, dialer, idle, ingest, occupancy, routing, soak

# name: (what it measures, the full run, the smoke run). The full runs take their arguments
# from the command line (`python -m bench calls --calls 600`).
BENCHMARKS: dict[str, tuple[str, Callable[[list[str]], object], Callable[[], object]]] = {
    "routing": (
        "routing rules: 10,000 clients x 5 numbers",
        lambda argv: routing.run(),
        lambda: routing.run(clients=200, decisions=2000),
    ),
    "area": (
        "client area: the list of one client's calls, 100,000 among 1,000,000",
        lambda argv: area.run(),
        lambda: area.run(rounds=1, per_round=1, calls=2000),
    ),
    "calls": (
        "calls through Asterisk: static dialplan / FastAGI / classic AGI",
        calls.cli,
        lambda: calls.cli(["--calls", "4", "--rate", "4", "--hold-ms", "500", "--rounds", "1"]),
    ),
    "ingest": (
        "AMI ingest: a day of events replayed as fast as they go",
        ingest.cli,
        lambda: ingest.cli(["--calls", "50"]),
    ),
    "idle": (
        "idle: no call, 10,000 client files",
        idle.cli,
        lambda: idle.cli(["--seconds", "1", "--clients", "50", "--settle", "0.5"]),
    ),
    "dialer": (
        "outbound dialer: preview / progressive / ratio / predictive",
        dialer.cli,
        lambda: dialer.cli(
            ["--operators", "2", "--seconds", "4", "--rounds", "1", "--contacts", "6"]
            + ["--history", "5", "--read", "0.5"]
        ),
    ),
    "occupancy": (
        "blended occupancy: a center's day simulated on the dialer's own pacing",
        occupancy.cli,
        lambda: occupancy.cli(["--operators", "6", "--seeds", "1", "--hours", "1"]),
    ),
    "cluster": (
        "cluster: Kamailio + two Asterisk nodes + their engines on one PostgreSQL",
        cluster.cli,
        lambda: cluster.cli(
            ["--rates", "4", "--seconds", "1", "--hold-ms", "500"]
            + ["--failover-rate", "4", "--failover-seconds", "3"]
        ),  # fmt: skip
    ),
    "soak": (
        "soak: calls through a killed engine and a cut AMI link (also `make soak`)",
        soak.cli,
        lambda: soak.cli(["--calls", "12", "--rate", "6", "--hold-ms", "1000"]),
    ),
}
# soak: make soak
IN_ALL = ("routing", "area", "calls", "ingest", "idle", "dialer", "occupancy", "cluster")


def main(argv: list[str]) -> None:
    smoke = argv[:1] == ["--smoke"]
    if smoke:
        argv = argv[1:]
    which = argv[0] if argv else "all"
    rest = argv[1:] if which != "all" else []
    if which != "all" and which not in BENCHMARKS:
        raise SystemExit(f"unknown benchmark {which!r}: all, {', '.join(BENCHMARKS)}")
    for name in IN_ALL if which == "all" else (which,):
        what, full, small = BENCHMARKS[name]
        print(f"== {what}{' (smoke size)' if smoke else ''}", flush=True)
        if smoke:
            small()
        else:
            full(rest)
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
