"""A caller put through directly (blind), or sent back to the operators after an attempt:
the rest of the call, planned as for an arriving call.

Steps: find the attempt (its id is the extension) -> the person's first number (only for a
direct attempt still open) -> the queue the call was answered from, at the highest priority
the rules know -> a message. The dialplan's overflow chain ([ivr-in-route]) runs it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agi_scripts.inbound_plan import plan
from ivr import variables as v
from ivr.putthrough import store
from ivr.putthrough.models import DIRECT
from ivr.routing.decision import ClientCard, Decision, Step

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.routing.model import Group, Rules
    from ivr.services import Services

log = logging.getLogger(__name__)


def group_of(rules: Rules, queue: str | None, operator: str | None) -> Group | None:
    """The queue the call came from; else the operator's first group; else the fallback."""
    if queue and queue in rules.groups:
        return rules.groups[queue]
    for group in rules.groups.values():
        if operator and operator in group.members:
            return group
    return rules.groups.get(rules.fallback_group)


async def handle(call: AgiCall, services: Services) -> None:
    arg = call.args[0] if call.args else ""
    attempt = await store.get(services.sessions, int(arg)) if arg.isdigit() else None
    if attempt is None:
        raise LookupError(f"no put-through attempt {arg[:20]!r}")
    rules = services.rules.current
    client = rules.clients.get(attempt.client_id or "")
    card = client.card if client else ClientCard(attempt.client_id or "", "")
    person = client.people.get(attempt.person_id) if client else None
    chain: list[Step] = []
    if attempt.mode == DIRECT and attempt.outcome is None and person and attempt.number:
        chain.append(
            Step(kind="forward", number=attempt.number, timeout=person.ring, person=person.id)
        )
    queue = await store.queue_of_call(services.sessions, attempt.linkedid)
    group = group_of(rules, queue, attempt.operator)
    if group is not None:
        endpoints = tuple(rules.operators[m].endpoint for m in group.members)
        chain.append(
            Step(kind="operators", operators=endpoints, group=group.id, timeout=group.timeout)
        )
    chain.append(Step(kind="message"))
    top = max(rules.priorities.values(), default=0)
    decision = Decision(card, True, "put through", "put-through", tuple(chain), top)
    values = plan(
        decision,
        services.settings,
        attempt.linkedid,
        dial=lambda number: services.outbound.may_dial(rules, card.id, number),
    )
    # The call's first plan left its own steps on the channel: a queue on a step that is now
    # a number, a step past the end of this chain. Clear them, or the old plan runs.
    steps = sum(1 for name in values if name.startswith(f"{v.TARGETS}_"))
    for n in range(1, steps + 1):
        values.setdefault(f"{v.QUEUE}_{n}", "")
    values[f"{v.TARGETS}_{steps + 1}"] = ""
    await call.set_variables(values)
    log.info(
        "call %s (attempt %d): %s", attempt.linkedid, attempt.id,
        ", then ".join(f"{k}={values[k]}" for k in sorted(values) if k.startswith(v.TARGETS)),
    )  # fmt: skip
