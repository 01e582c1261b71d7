"""What the inbound routes share: read a call from the AGI environment, and turn a routing
decision into the channel variables the dialplan jumps on. Pure: no I/O, light imports, so the
classic one-process-per-call script can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ivr import variables as v
from ivr.routing.decision import CallInfo, Decision, Step
from ivr.variables import dial_string

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.outbound import Dial

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


def plan(
    decision: Decision,
    settings: Settings,
    linkedid: str,
    dial: Callable[[str], Dial] | None = None,
    refused: list[tuple[str, str]] | None = None,
) -> dict[str, str]:
    """The channel variables that carry a decision to the dialplan.

    `dial` judges each forward step's number (the dial policy, the cap on calls out): a
    refused one is skipped, as if the rules had not had it, and noted in `refused` as
    (number, reason); the number allowed is dialled as `dial` wrote it (E.164).
    """
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
        v.PRIORITY: str(decision.priority),
    }
    ringing = 0
    used = 0  # steps of the chain taken (rung or skipped)
    for step in decision.chain:
        if step.kind == "operators" and step.operators:
            target = dial_string(step.operators)
        elif step.kind == "forward" and step.number:
            number = step.number
            if dial is not None:
                verdict = dial(number)
                if not verdict:
                    used += 1
                    if refused is not None:
                        refused.append((number, verdict.reason))
                    continue
                number = verdict.number
            target = settings.outbound_dial.format(number=number)
        else:
            break
        used += 1
        ringing += 1
        out[f"{v.TARGETS}_{ringing}"] = target
        out[f"{v.RING_TIMEOUT}_{ringing}"] = str(step.timeout)
        if step.kind == "operators" and step.group:
            out[f"{v.QUEUE}_{ringing}"] = step.group  # the whole group: its queue
    after = decision.chain[used] if used < len(decision.chain) else Step(kind="message")
    if after.kind == "escalate" and after.ladder:
        out[v.ESCALATE] = after.ladder
    after_route = "hangup" if after.kind in {"hangup", "announce"} else "message"
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
