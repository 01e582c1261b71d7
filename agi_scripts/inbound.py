"""A diverted call arrives: whose is it, where does it go, and the call record is opened.

Steps: read the call -> decide (pure) -> open the record (one transaction) -> set the
variables the dialplan jumps on. Anything that raises ends in the dialplan's failure context,
which still rings the fallback operators.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ivr import variables as v
from ivr.asterisk.render import dial_string
from ivr.records import repo
from ivr.routing import evaluate
from ivr.routing.decision import CallInfo, Decision, Step

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.config import Settings
    from ivr.engine import Services

log = logging.getLogger(__name__)

_NOT_DIGITS = re.compile(r"[^0-9]")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
WITHHELD = {"", "unknown", "anonymous", "restricted", "private", "withheld"}
CALLER_ID_NAME_MAX = 40  # what a desk phone's display shows


def read_call(env: Mapping[str, str], args: Sequence[str]) -> tuple[str, CallInfo]:
    """The call's linkedid and what the router may know of it, from the AGI environment."""
    linkedid = args[0] if args and args[0] else env.get("agi_uniqueid", "")
    caller = env.get("agi_callerid", "")
    name = env.get("agi_calleridname", "")
    info = CallInfo(
        called=_NOT_DIGITS.sub("", env.get("agi_extension", "") or env.get("agi_dnid", "")),
        caller="" if caller.lower() in WITHHELD else caller,
        caller_name="" if name.lower() in WITHHELD else name,
    )
    return linkedid, info


def plan(decision: Decision, settings: Settings, linkedid: str) -> dict[str, str]:
    """The channel variables that carry a decision to the dialplan."""
    client = decision.client
    folder = _SAFE_ID.sub("_", client.id) if client else "unrouted"
    message_max = settings.message_max_seconds
    for step in decision.chain:
        if step.kind in {"message", "escalate"}:
            message_max = step.max_seconds
            break
    out = {
        v.CLIENT_ID: client.id if client else "",
        v.CLIENT_NAME: client.name if client else "",
        v.MESSAGE_FILE: str(settings.run_dir / "messages" / folder / linkedid),
        v.MESSAGE_MAX: str(message_max),
    }
    ringing = 0
    for step in decision.chain:
        if step.kind != "operators" or not step.operators:
            break
        ringing += 1
        out[f"{v.TARGETS}_{ringing}"] = dial_string(step.operators)
        out[f"{v.RING_TIMEOUT}_{ringing}"] = str(step.timeout)
    after = decision.chain[ringing] if ringing < len(decision.chain) else Step(kind="message")
    after_route = "hangup" if after.kind == "hangup" else "message"
    if ringing:
        out[v.ROUTE] = "operators"
        out[v.ROUTE_AFTER] = after_route
    else:
        out[v.ROUTE] = after_route
    return out


def operator_display(decision: Decision, caller_name: str, caller: str) -> str:
    """What the operator's phone shows: the client's name before the caller's."""
    who = caller_name or caller or "withheld"
    if decision.client is None:
        return who[:CALLER_ID_NAME_MAX]
    return f"{decision.client.name}: {who}"[:CALLER_ID_NAME_MAX]


async def handle(call: AgiCall, services: Services) -> None:
    linkedid, info = read_call(call.env, call.args)
    rules = services.rules.current  # this call keeps these rules, whatever reloads meanwhile
    now = services.clock()
    decision = evaluate(rules, info, now)
    values = plan(decision, services.settings, linkedid)
    await repo.open_call(
        services.sessions,
        linkedid=linkedid,
        channel=call.env.get("agi_channel", ""),
        client_id=decision.client.id if decision.client else None,
        client_name=decision.client.name if decision.client else None,
        called=info.called,
        caller_number=info.caller,
        caller_name=info.caller_name,
        arrived_at=now,
        route=values[v.ROUTE],
    )
    for name, value in values.items():
        await call.set_variable(name, value)
    await call.set_variable(
        "CALLERID(name)", operator_display(decision, info.caller_name, info.caller)
    )
    log.info(
        "call %s to %s for %s: %s (%s)",
        linkedid,
        info.called,
        decision.client.id if decision.client else "nobody",
        values[v.ROUTE],
        decision.why,
    )
