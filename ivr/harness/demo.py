"""`make demo`: a real Asterisk, the engine, two operators' phones and real calls.

The demo runs at a moment the rules choose: now when the clients it calls are open, else the
next time they all are by their own calendars and hours (demo_clock); the engine's clock starts
there and runs on, and everything else is real: SIP, FastAGI, AMI and the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from ivr.ami.client import AmiClient
from ivr.asterisk.instance import Asterisk
from ivr.asterisk.render import Trunk, render_instance
from ivr.config import Settings, operator_password
from ivr.feature import Feature
from ivr.harness.ports import free_udp_port
from ivr.harness.putthrough_demo import CALLER as PUT_CALLER
from ivr.harness.putthrough_demo import put_one_through, put_through_client
from ivr.harness.scripts_demo import take_one_with_script
from ivr.harness.sipp import Phone, place_calls
from ivr.records import repo
from ivr.records.report import format_table
from ivr.routing import Rules, evaluate, load_rules
from ivr.routing.decision import CallInfo
from ivr.services import Services

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What a demo needs of the engine; the `ivr` command passes in the real one (a demo is
    not the process's wiring, so it does not import it)."""

    settings: Settings
    services: Services | None
    ami: AmiClient | None
    features: list[Feature]

    async def start(self) -> None: ...

    async def close(self) -> None: ...


EngineFactory = Callable[[Settings], Engine]


# The demo's calls, and a first look at a kept demo, fit in this much of one opening.
DEMO_SPAN = timedelta(minutes=30)
STEP = timedelta(minutes=15)  # the moments tried after now: every quarter hour
SEARCH = timedelta(days=60)  # rules whose clients are never open together within this


def demo_clock(rules: Rules, now: datetime) -> datetime:
    """The demo's moment: `now` when the clients the demo calls are open now and for the
    next DEMO_SPAN, else the first quarter hour after `now` when they are (LookupError when
    that is more than SEARCH away). The clients: two open clients with different operators
    (demo_plan) and the client the demo puts a call through to."""
    return first_moment(
        lambda at: demo_plan_at(rules, at) is not None,
        now,
        "the routing rules have no two open clients with different operators",
    )


def first_moment(holds: Callable[[datetime], bool], now: datetime, what: str) -> datetime:
    """The first of `now` and the quarter hours after it from which `holds` stays true for
    DEMO_SPAN (tried at its start, each quarter hour inside it and its end); LookupError
    saying `what` when there is none within SEARCH."""
    seen: dict[datetime, bool] = {}

    def cached(at: datetime) -> bool:
        if at not in seen:
            seen[at] = holds(at)
        return seen[at]

    def quarters_after(at: datetime) -> Iterator[datetime]:
        step = STEP.total_seconds()
        first = datetime.fromtimestamp((at.timestamp() // step + 1) * step, UTC)
        return (first + i * STEP for i in itertools.count())

    start = now.astimezone(UTC)
    for at in itertools.chain([start], quarters_after(start)):
        if at - start > SEARCH:
            break
        end = at + DEMO_SPAN
        inside = itertools.takewhile(end.__gt__, quarters_after(at))
        if all(cached(t) for t in itertools.chain([at], inside, [end])):
            return at
    raise LookupError(f"{what} within {SEARCH.days} days of {now:%Y-%m-%d %H:%M %Z}")


def clock_note(rules: Rules, at: datetime, now: datetime) -> str:
    zone = next(iter(rules.clients.values())).zone if rules.clients else UTC
    if at == now:
        return f"the real time, {at.astimezone(zone):%A %d %B %H:%M %Z}: the clients are open"
    return (
        f"the engine's clock says {at.astimezone(zone):%A %d %B %H:%M %Z}, the next time the "
        "clients are open, and runs on from there"
    )


async def wait_ended(
    engine: Engine, linkedids: int, timeout: float = 90.0
) -> list[repo.CallRecord]:
    assert engine.services is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[repo.CallRecord] = []
    while loop.time() < deadline:
        records = await repo.list_calls(engine.services.sessions, limit=linkedids)
        if len(records) >= linkedids and all(r.ended_at is not None for r in records):
            return records
        await asyncio.sleep(0.2)  # polling the records until every call has ended
    return records


async def run_demo(settings: Settings, make_engine: EngineFactory, keep: bool = False) -> int:
    """The demo's calls at the rules' moment (demo_clock). A kept demo runs on the real time
    only, so that the records, the console, the supervisor's day and the sessions all read
    one clock: its calls are placed when the clients are open now, and it says so when not."""
    rules = load_rules(settings.rules)
    # The carrier's gateway (where a put-through's person answers) on a port of its own, so
    # that two demos or tests never meet there.
    trunk = Trunk(port=free_udp_port(Trunk.address))
    render_instance(settings, trunk=trunk)
    asterisk = Asterisk(settings)
    if await asterisk.running():
        print(f"Asterisk instance {settings.instance!r} is already running: stopping it first")
        await asterisk.stop()
    now = datetime.now(UTC)
    at = demo_clock(rules, now)
    if keep:
        settings = dataclasses.replace(settings, clock_start="")
    elif at != now:  # the engine's clock starts at the demo's moment and runs on from there
        settings = dataclasses.replace(settings, clock_start=at.isoformat())
    engine = make_engine(settings)
    phones: list[Phone] = []
    print(f"Starting Asterisk ({settings.asterisk_root or 'host'}) and the engine ...")
    await asterisk.start()
    try:
        await engine.start()
        assert engine.services is not None and engine.ami is not None
        await engine.ami.wait_connected(15)
        if keep and at != now:
            print(closed_note(rules, at))
            ok = True
        else:
            ok = await place_demo_calls(engine, rules, now, at, phones, trunk)
        print(next_steps(settings))
        print()
        print(await area_login(engine, engine.services.clock()))
        if keep:
            await keep_running(settings)
        return 0 if ok else 1
    finally:
        for phone in phones:
            with contextlib.suppress(Exception):
                await phone.stop()
        await engine.close()
        await asterisk.stop()


def closed_note(rules: Rules, at: datetime) -> str:
    zone = next(iter(rules.clients.values())).zone if rules.clients else UTC
    return (
        "The kept demo runs on the real time, and no two clients with different operators are "
        "open now:\nit places no calls. The rules' next such moment is "
        f"{at.astimezone(zone):%A %d %B %H:%M %Z}; a call now reaches each client's night and "
        "holiday rules.\n(`ivr demo` without --keep places its calls at that moment.)\n"
    )


async def place_demo_calls(
    engine: Engine, rules: Rules, now: datetime, at: datetime, phones: list[Phone], trunk: Trunk
) -> bool:
    """The plan's phones and calls, their records shown, and one call put through."""
    assert engine.services is not None
    settings = engine.settings
    workdir = settings.state_dir / "demo"
    before = {r.linkedid for r in await repo.list_calls(engine.services.sessions, limit=1000)}
    plan = demo_plan(rules, at)
    for operator, ring_ms in plan.phones:
        phone = Phone(
            operator,
            operator_password(settings, operator),
            (settings.bind, settings.ports.sip),
            workdir,
            ring_ms=ring_ms,
        )
        await phone.start()
        phones.append(phone)
        manner = "never answers" if ring_ms == NEVER else "answers"
        print(f"  phone {operator} registered ({manner})")
    print(f"Placing calls ({clock_note(rules, at, now)}) ...")
    results = await asyncio.gather(
        *(
            place_calls(
                (settings.bind, settings.ports.sip),
                number,
                caller_num=caller,
                caller_name=name,
                hold_ms=hold_ms,
            )
            for number, caller, name, hold_ms, _ in plan.calls
        )
    )
    for (number, caller, name, _, what), result in zip(plan.calls, results, strict=True):
        status = "ok" if result.ok else f"FAILED (sipp exit {result.returncode})"
        print(f"  {caller} ({name}) -> {number}: {what}: {status}")
    records = await wait_ended(engine, len(before) + len(plan.calls))
    new = [r for r in records if r.linkedid not in before]
    print()
    print(format_table(new, zones={id_: client.zone for id_, client in rules.clients.items()}))
    print()
    ok = all(r.ok for r in results) and len(new) == len(plan.calls)
    print("Putting a call through (announced) to a client's person behind the trunk ...")
    put, text = await put_one_through(settings, rules, engine.features, workdir, trunk)
    print(text)
    print()
    print("Taking a call with the client's script: its answers kept as fields ...")
    answering = {op for op, ring_ms in plan.phones if ring_ms != NEVER}
    scripted, text, client, linkedid = await take_one_with_script(
        settings, rules, engine.features, engine.services.clock(), answering
    )
    print(text)
    if client and linkedid:
        clock = engine.services.clock()
        print(await area_login(engine, clock, client, f"calls/{linkedid}"))
    print()
    return ok and put and scripted


async def area_login(
    engine: Engine, at: datetime, client: str | None = None, page: str = ""
) -> str:
    """A demo user of the client whose caller left a message (or of the first client with
    a call, or of `client`): the area shows its calls (or `page`)."""
    from ivr.area import users

    assert engine.services is not None
    sessions = engine.services.sessions
    calls = await repo.list_calls(sessions, limit=50)
    client = client or next((c.client_id for c in calls if c.message_path and c.client_id), None)
    client = client or next((c.client_id for c in calls if c.client_id), None)
    if client is None:
        return "No call of a client was stored: no area login to show."
    email = f"demo@{client}.example"
    password = users.new_password()
    found = await users.by_email(sessions, email)
    if found is None:
        await users.add_user(sessions, client, email, password, at, role="admin", name="Demo")
    else:
        await users.set_password(sessions, found.id, password)
    url = f"http://{engine.settings.bind}:{engine.settings.ports.http}/area/{page}"
    return (
        f"The client's reserved area: {url}\n"
        f"  log in as {email} with the password {password} (client {client})\n"
        f"  the operator console: http://{engine.settings.bind}:{engine.settings.ports.http}"
        "/console/ (ivr console password op1)"
    )


async def keep_running(settings: Settings) -> None:
    """`ivr demo --keep`: the stack stays up until Ctrl-C."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("\nThe demo keeps running: press Ctrl-C to stop Asterisk and the engine.")
    await stop.wait()


class DemoPlan:
    def __init__(self) -> None:
        self.phones: list[tuple[str, int]] = []
        # number, caller number, caller name, how long the caller stays, what should happen
        self.calls: list[tuple[str, str, str, int, str]] = []


NEVER = 3_600_000  # ring_ms of a phone that nobody picks up


ANSWERED_CALLER = ("0612345678", "Maria Bianchi")
MESSAGE_CALLER = ("0287654321", "Luca Verdi")


def ringing_chains(
    rules: Rules, at: datetime, caller: str
) -> dict[str, tuple[str, list[tuple[str, ...]], int]]:
    """Per client open at `at` whose chain rings operators first: (number, operators per
    step, seconds ringing)."""
    chains = {}
    for client in rules.clients.values():
        number = client.numbers[0]
        decision = evaluate(rules, CallInfo(called=number, caller=caller), at)
        ringing = [s for s in decision.chain if s.kind == "operators" and s.operators]
        if decision.open and ringing and decision.chain[0] is ringing[0]:
            rings = sum(s.timeout for s in ringing)
            chains[client.id] = (number, [s.operators for s in ringing], rings)
    return chains


def demo_plan(rules: Rules, at: datetime) -> DemoPlan:
    plan = demo_plan_at(rules, at)
    if plan is None:
        raise LookupError(
            f"the routing rules have no two open clients with different operators at {at}"
        )
    return plan


def demo_plan_at(rules: Rules, at: datetime) -> DemoPlan | None:
    """One operator answers; a first client's call rings that operator first, a second
    client's chain never rings that operator, so its caller leaves a message; the client
    with people (the put-through) rings that operator first too. All open at `at`."""
    for_a = ringing_chains(rules, at, ANSWERED_CALLER[0])
    for_b = ringing_chains(rules, at, MESSAGE_CALLER[0])
    puts = put_through_client(rules)
    put_chain = ringing_chains(rules, at, PUT_CALLER[0]).get(puts.id) if puts else None
    everyone = tuple(op.endpoint for op in rules.operators.values())
    for answering in everyone:
        if puts is not None and (put_chain is None or answering not in put_chain[1][0]):
            continue
        first = [c for c, (_, steps, _) in for_a.items() if answering in steps[0]]
        never = [
            c
            for c, (_, steps, _) in for_b.items()
            if c not in first[:1] and all(answering not in s for s in steps)
        ]
        if first and never:
            number_a = for_a[first[0]][0]
            number_b, _, rings_b = for_b[never[0]]
            plan = DemoPlan()
            plan.phones = [(op, 300 if op == answering else NEVER) for op in everyone]
            plan.calls = [
                (number_a, *ANSWERED_CALLER, 2000, f"{first[0]}: answered by {answering}"),
                (
                    number_b,
                    *MESSAGE_CALLER,
                    (rings_b + 10) * 1000,
                    f"{never[0]}: nobody answers in {rings_b} s, a message",
                ),
            ]
            return plan
    return None


def next_steps(settings: Settings) -> str:
    home = Path.cwd()
    sip = settings.shared_state / "sip"
    return f"""What next:
  .venv/bin/ivr calls                 the call records (also --json, --csv)
  .venv/bin/ivr check routing_rules   check the routing rules after an edit
  .venv/bin/ivr asterisk start        keep Asterisk running, then
  .venv/bin/ivr serve                 run the engine in the foreground
  Point a SIP phone at {settings.bind}:{settings.ports.sip} as op1 with the password in
  {sip}/op1.secret, and call a client's number from 127.0.0.2 (the trunk).
  Recorded messages are under {settings.host_run_dir}/messages.
  Project folder: {home}"""
