"""`make demo`'s script: a caller of a client with a script is answered; the operator goes
through the script's steps (the demo answers as an operator would type), the message is kept
with its answers as fields, and the client's area shows them."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ivr.harness.sipp import place_calls
from ivr.harness.stack import until
from ivr.portal.access import Login
from ivr.records import fields, repo
from ivr.routing import CallInfo, evaluate
from ivr.routing.script import DATE_TIME, Script
from ivr.scripts import run

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.routing import Rules

CALLER = ("0612345680", "Carla Neri")
WAIT = 60.0
# What the demo's operator types, by field id, where a pattern asks for a form of its own.
TYPED = {"ref": "MI-1234", "case": "123/2026", "caller_name": CALLER[1]}


def demo_answer(script: Script, name: str, at: datetime) -> str:
    """An answer an operator might type, of the field's type; a choice takes the last
    option, a yes/no says no (the plain message, not a put-through or a ladder)."""
    field = script.fields[name]
    if name in TYPED:
        return TYPED[name]
    by_type = {
        "phone": CALLER[0],
        "email": "carla.neri@example.org",
        "yes-no": "no",
        "date-time": (at + timedelta(days=1)).strftime(DATE_TIME),
        "number": "250000",
        "address": "Via Roma 1, Roma",
        "choice": field.choices[-1][0] if field.choices else "",
    }
    return by_type.get(field.type, "Richiamare in mattinata, grazie")


async def take_one_with_script(
    settings: Settings, rules: Rules, features: list[Any], at: datetime, answering: set[str]
) -> tuple[bool, str, str | None, str | None]:
    """One call taken with a client's script: (it worked, what to print, client, linkedid)."""
    desk = next((f for f in features if f.name == "scripts"), None)
    client = None
    for candidate in rules.clients.values():
        if candidate.script is None:
            continue
        decision = evaluate(rules, CallInfo(called=candidate.numbers[0], caller=CALLER[0]), at)
        first = decision.chain[0] if decision.chain else None
        if first is not None and first.kind == "operators" and answering & set(first.operators):
            client = candidate
            break
    if desk is None or client is None or client.script is None:
        return False, "No open client with a script rings an operator now.", None, None
    script = client.script
    call = asyncio.create_task(
        place_calls((settings.bind, settings.ports.sip), client.numbers[0],
                    caller_num=CALLER[0], caller_name=CALLER[1], hold_ms=8_000, timeout=90)
    )  # fmt: skip
    try:
        board = desk.portal.board

        async def operator() -> str | None:
            return next((op for op in rules.operators if board.live(op).on_call), None)

        who = await until(operator, WAIT)
        if who is None:
            return False, "Nobody answered the caller with the script.", None, None
        linkedid = board.live(who).on_call
        record = await repo.get_call(desk.services.sessions, linkedid)
        if record is None:
            return False, "The call has no record.", None, None
        draft = run.start(script, record.linkedid, client.id, record.caller_number or "")
        steps = [draft.at]
        for _ in range(len(script.steps) + 1):
            step = script.steps[draft.at]
            asked = (*step.ask, *draft.extra)
            data = {run.FIELD_PREFIX + n: demo_answer(script, n, at) for n in asked}
            run.submit(script, draft, data, "it")
            if draft.errors:
                return False, f"The demo's answers were refused: {draft.errors}", None, None
            if draft.end is not None:
                break
            steps.append(draft.at)
        if draft.end is None:
            return False, "The script did not end.", None, None
        problem = await desk.console._finish(Login(who, ""), record, script, draft, draft.end)
        kept = await fields.fields_for(desk.services.sessions, [record.linkedid])
        result = await call
        lines = [
            f"  {CALLER[0]} ({CALLER[1]}) -> {client.numbers[0]}: answered by {who}, "
            f"script steps {' -> '.join(steps)}: {problem or 'the message is kept'}",
            *(f"    {a.label}: {a.shown}" for a in kept.get(record.linkedid, [])),
        ]
        ok = result.ok and not problem and bool(kept.get(record.linkedid))
        return ok, "\n".join(lines), client.id, record.linkedid
    finally:
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
