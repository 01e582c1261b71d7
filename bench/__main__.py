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
"""

from __future__ import annotations

import sys

from bench import area, calls, cluster, dialer, idle, ingest, occupancy, routing

WHICH = ("all", "routing", "area", "calls", "ingest", "idle", "dialer", "occupancy", "cluster")


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "all"
    rest = argv[1:] if which != "all" else []
    if which not in WHICH:
        raise SystemExit(f"unknown benchmark {which!r}: {', '.join(WHICH)}")
    if which in ("all", "routing"):
        print("== routing rules: 10,000 clients x 5 numbers")
        routing.run()
    if which in ("all", "area"):
        print("== client area: the list of one client's calls, 100,000 among 1,000,000")
        area.run()
    if which in ("all", "calls"):
        print("== calls through Asterisk: static dialplan / FastAGI / classic AGI")
        calls.cli(rest)
    if which in ("all", "ingest"):
        print("== AMI ingest: a day of events replayed as fast as they go")
        ingest.cli(rest)
    if which in ("all", "idle"):
        print("== idle: no call, 10,000 client files")
        idle.cli(rest)
    if which in ("all", "dialer"):
        print("== outbound dialer: preview / progressive / ratio / predictive")
        dialer.cli(rest)
    if which in ("all", "occupancy"):
        print("== blended occupancy: a center's day simulated on the dialer's own pacing")
        occupancy.cli(rest)
    if which in ("all", "cluster"):
        print("== cluster: Kamailio + two Asterisk nodes + their engines on one PostgreSQL")
        cluster.cli(rest)


if __name__ == "__main__":
    main(sys.argv[1:])
