"""How fast the router loads a big rules folder and decides a call.

    .venv/bin/python -c "import bench.routing as b; b.run()"

Generates 10,000 clients x 5 numbers (varied hours, calendars, caller lists, menus) into a
temporary folder, then measures load_rules() cold, a restart on unchanged rules (the
compiled rules read back from a DiskRulesCache; writing it is timed too), again after one
file changed (with the ParseCache a RulesHolder keeps), and evaluate() over 100,000 calls.
Prints the figures and returns them; it asserts nothing about time (machines differ).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.routing import CallInfo, ParseCache, evaluate, load_rules
from ivr.routing.diskcache import DiskRulesCache
from ivr.routing.holder import settle

CLIENTS = 10_000
NUMBERS_PER_CLIENT = 5
DECISIONS = 100_000

SHARED = """\
fallback_group: fallback
operators:
  op1: {name: Anna, languages: [it, en], skills: [plumbing]}
  op2: {name: Bruno, languages: [it], skills: [legal]}
  op3: {name: Carla, languages: [it, en, de], skills: [legal, plumbing]}
groups:
  day: {members: [op1, op2]}
  fallback: {members: [op3]}
calendars:
  italy:
    holidays:
      - {date: "01-01", name: Capodanno}
      - {easter: 0, name: Pasqua}
      - {easter: 1, name: Pasquetta}
      - {date: "04-25", name: Liberazione}
      - {date: "05-01", name: Lavoro}
      - {date: "06-02", name: Repubblica}
      - {date: "08-15", name: Ferragosto}
      - {date: "12-24", name: Vigilia, until: "13:00"}
      - {date: "12-25", name: Natale}
      - {date: "12-26", name: Santo Stefano}
  rome: {include: [italy], holidays: [{date: "06-29", name: Pietro e Paolo}]}
  milan: {include: [italy], holidays: [{date: "12-07", name: Ambrogio}]}
prompts:
  menu: {text: "Premere 1 per un'emergenza, 2 per un messaggio."}
ladders:
  night: {contacts: [{name: Reperibile, number: "3330000000"}]}
"""

HOURS = [
    'mon-fri: ["08:00-12:30", "14:00-18:00"]\n  sat: ["08:00-12:00"]',
    'mon-fri: ["09:00-19:00"]\n  sat: ["09:30-13:00"]',
    'mon-thu: ["09:00-13:00", "14:30-18:30"]\n  fri: ["09:00-13:00"]',
    'daily: ["22:00-06:00"]',
]
ZONES = ["Europe/Rome", "Europe/Rome", "Europe/Rome", "Europe/London", "America/New_York"]

CLIENT = """\
name: Client {i}
numbers: [{numbers}]
timezone: {zone}
language: it
calendars: [{calendar}]
hours:
  {hours}
callers:
  vip: ["{vip}", "0039335*"]
  blocked: ["{blocked}"]
menus:
  night:
    prompt: menu
    options:
      "1": {{escalate: night}}
      "2": message
rules:
  - {{when: {{caller_in: [blocked]}}, to: hangup}}
  - {{when: {{caller_in: [vip], open: true}}, priority: vip, to: [{{operator: op2}}, day, message]}}
  - {{when: {{withheld: true}}, to: message}}
  - {{when: {{open: true}}, to: [day, {{skill: legal, timeout: 15}}, message]}}
  - {{when: {{hours: ["20:00-23:00"]}}, to: [{{forward: "3470000000"}}, message]}}
  - {{to: {{menu: night}}}}
"""


def number(i: int, j: int) -> str:
    return f"0{6 if i % 2 else 2}{i:06d}{j}"


def write_rules(root: Path, clients: int = CLIENTS) -> None:
    (root / "shared.yaml").write_text(SHARED)
    folder = root / "clients"
    folder.mkdir()
    for i in range(clients):
        numbers = ", ".join(f'"{number(i, j)}"' for j in range(NUMBERS_PER_CLIENT))
        text = CLIENT.format(
            i=i,
            numbers=numbers,
            zone=ZONES[i % len(ZONES)],
            calendar=("rome", "milan", "italy")[i % 3],
            hours=HOURS[i % len(HOURS)],
            vip=f"33{i:08d}",
            blocked=f"39{i:08d}",
        )
        (folder / f"c{i:05d}.yaml").write_text(text)


def calls(count: int, clients: int, seed: int = 3) -> list[tuple[CallInfo, datetime]]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(count):
        i = rng.randrange(clients)
        called = number(i, rng.randrange(NUMBERS_PER_CLIENT)) if rng.random() > 0.01 else "0"
        caller = rng.choice(["3351234567", f"33{i:08d}", f"39{i:08d}", "", "0039335111"])
        digits = rng.choice(["", "", "", "1", "2"])
        instant = start + timedelta(minutes=rng.randrange(366 * 24 * 60))
        out.append((CallInfo(called, caller, digits=digits), instant))
    return out


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def run(clients: int = CLIENTS, decisions: int = DECISIONS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        root = Path(tmp)
        write_rules(root, clients)
        cache = ParseCache()
        began = time.perf_counter()
        rules = load_rules(root, cache)
        load_seconds = time.perf_counter() - began
        disk = root / "rules-cache"  # beside shared.yaml and clients/: not read as rules
        filling = DiskRulesCache(disk)
        load_rules(root, filling)
        began = time.perf_counter()
        filling.wait()  # written in the background after a load; timed for the record
        fill_seconds = time.perf_counter() - began
        began = time.perf_counter()
        load_rules(root, DiskRulesCache(disk))  # a new process: nothing in memory
        disk_seconds = time.perf_counter() - began
        changed = root / "clients" / "c00000.yaml"  # what a hot reload after one edit costs
        changed.write_text(changed.read_text().replace("Client 0", "Client zero"))
        began = time.perf_counter()
        load_rules(root, cache)
        reload_seconds = time.perf_counter() - began
    assert len(rules.number_index) == clients * NUMBERS_PER_CLIENT  # the bench itself is sane
    settle()  # as the engine's RulesHolder does after every load
    work = calls(decisions, clients)
    for call, instant in work[:1000]:  # warm the caches (zone data, Easter dates)
        evaluate(rules, call, instant)
    timings: list[float] = []
    clock = time.perf_counter_ns
    began = time.perf_counter()
    for call, instant in work:
        t0 = clock()
        evaluate(rules, call, instant)
        timings.append((clock() - t0) / 1000)
    total = time.perf_counter() - began
    timings.sort()
    figures = {
        "clients": clients,
        "numbers": len(rules.number_index),
        "load_seconds": round(load_seconds, 3),
        "restart_unchanged_seconds": round(disk_seconds, 3),
        "disk_cache_write_seconds": round(fill_seconds, 3),
        "reload_one_changed_seconds": round(reload_seconds, 3),
        "decisions": decisions,
        "decision_us_p50": round(percentile(timings, 0.50), 2),
        "decision_us_p99": round(percentile(timings, 0.99), 2),
        "decision_us_p999": round(percentile(timings, 0.999), 2),
        "decision_us_mean": round(statistics.fmean(timings), 2),
        "decisions_per_second": round(decisions / total),
    }
    print(
        f"routing: load {figures['load_seconds']} s for {clients} clients / "
        f"{figures['numbers']} numbers; a restart on unchanged rules "
        f"{figures['restart_unchanged_seconds']} s (the cache written in the background in "
        f"{figures['disk_cache_write_seconds']} s); "
        f"reload after one edit "
        f"{figures['reload_one_changed_seconds']} s; "
        f"decision p50 {figures['decision_us_p50']} us, "
        f"p99 {figures['decision_us_p99']} us, p99.9 {figures['decision_us_p999']} us, "
        f"{figures['decisions_per_second']} decisions/s"
    )
    return figures


if __name__ == "__main__":
    run()
