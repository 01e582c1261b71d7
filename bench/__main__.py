"""`make bench`: every benchmark, printing figures side by side; nothing asserts on time.

.venv/bin/python -m bench                  # both
.venv/bin/python -m bench routing          # rules load and decision time only
.venv/bin/python -m bench area             # the client area's list
.venv/bin/python -m bench calls --calls 300 --rate 20 --hold-ms 5000
.venv/bin/python -m bench dialer --operators 6 --seconds 60 --rounds 2
"""

from __future__ import annotations

import sys

from bench import area, calls, dialer, routing


def main(argv: list[str]) -> None:
    which = argv[0] if argv else "all"
    if which in ("all", "routing"):
        print("== routing rules: 10,000 clients x 5 numbers")
        routing.run()
    if which in ("all", "area"):
        print("== client area: the list of one client's calls, 100,000 among 1,000,000")
        area.run()
    if which in ("all", "calls"):
        print("== calls through Asterisk: static dialplan / FastAGI / classic AGI")
        calls.cli(argv[1:] if which == "calls" else [])
    if which in ("all", "dialer"):
        print("== outbound dialer: preview / progressive / ratio")
        dialer.cli(argv[1:] if which == "dialer" else [])
    if which not in ("all", "routing", "calls", "area", "dialer"):
        raise SystemExit(f"unknown benchmark {which!r}: all, routing, area, calls or dialer")


if __name__ == "__main__":
    main(sys.argv[1:])
