"""A diverted call arrives: whose is it, where does it go, and the call record is opened.

Steps: read the call -> decide (pure) -> open the record (one transaction) -> set the
variables the dialplan jumps on. Anything that raises ends in the dialplan's failure context,
which still rings the fallback operators.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agi_scripts.inbound_plan import operator_display, plan, read_call
from ivr import variables as v
from ivr.records import repo
from ivr.routing import evaluate

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.engine import Services

log = logging.getLogger(__name__)


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
