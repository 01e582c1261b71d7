"""A diverted call arrives: whose is it, where does it go, and the call record is opened.

Steps: read the call -> decide (pure) -> set the variables the dialplan jumps on -> hand the
record's facts to the records writer (no database on the call's path). A call that meets a
menu is attributed to its client before the menu plays, so a caller who hangs up in it is
still the client's. Anything that raises ends in the dialplan's failure context, which still
rings the fallback operators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from agi_scripts import campaign_callback
from agi_scripts.inbound_plan import operator_display, plan, read_call
from ivr import variables as v
from ivr.records import repo
from ivr.routing import evaluate
from ivr.routing.decision import CallInfo, Decision

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.routing.model import Rules
    from ivr.services import Services

log = logging.getLogger(__name__)


async def run_menus(
    call: AgiCall,
    services: Services,
    rules: Rules,
    info: CallInfo,
    now: datetime,
    before_menu: Callable[[Decision], None] = lambda decision: None,
) -> tuple[CallInfo, Decision]:
    """Offer each menu the decision starts with; evaluate again with every key pressed.

    A menu is offered `retries` times while nothing or a wrong key is pressed; then the
    rules' default for that menu applies (the chain after the menu step). before_menu runs
    once, before the first menu is offered.
    """
    overrides = services.overrides.current()  # once per call, like the rules
    decision = evaluate(rules, info, now, overrides)
    answered = False
    while decision.chain and decision.chain[0].kind == "menu":
        menu = decision.chain[0]
        if not answered:
            before_menu(decision)
            await call.answer()
            answered = True
        language = decision.client.language if decision.client else "en"
        client_id = decision.client.id if decision.client else None
        prompt = await services.prompts.resolve(rules, client_id, menu.prompt or "", language)
        key = ""
        offers = max(1, menu.retries)  # the rules' `retries`: how often the prompt is offered
        for attempt in range(1, offers + 1):
            await call.set_variable(v.TIMEOUT_ABSOLUTE, str(menu.timeout + v.PROMPT_ALLOWANCE))
            key = await call.get_data(prompt, menu.timeout * 1000, 1)
            if key in menu.options:
                break
            if key and menu.invalid_prompt and attempt < offers:
                invalid = await services.prompts.resolve(
                    rules, client_id, menu.invalid_prompt, language
                )
                await call.stream_file(invalid)
        if key in menu.options or key:
            info = replace(info, digits=info.digits + key)  # a wrong key: the menu's default
            decision = evaluate(rules, info, now, overrides)
        else:
            decision = replace(decision, chain=decision.chain[1:])  # no key: the default
    if answered:  # back to the dialplan's deadline for the rest of the routing
        await call.set_variable(v.TIMEOUT_ABSOLUTE, str(services.settings.agi_deadline))
    return info, decision


async def play_announcement(
    call: AgiCall, services: Services, rules: Rules, decision: Decision
) -> None:
    """An announce step: play it to the caller, who is then hung up on by the dialplan."""
    step = next((s for s in decision.chain if s.kind == "announce"), None)
    if step is None or not step.prompt:
        return
    client = decision.client
    language = client.language if client else "en"
    prompt = await services.prompts.resolve(
        rules, client.id if client else None, step.prompt, language
    )
    await call.answer()
    await call.set_variable(v.TIMEOUT_ABSOLUTE, str(v.PROMPT_ALLOWANCE))
    await call.stream_file(prompt)


async def handle(call: AgiCall, services: Services) -> None:
    linkedid, info = read_call(call.env, call.args)
    if await campaign_callback.handle(call, services, linkedid, info):
        return  # a call back to a number an outbound campaign presents
    rules = services.rules.current  # this call keeps these rules, whatever reloads meanwhile
    now = services.clock()
    fact = partial(
        repo.open_fact,
        linkedid=linkedid,
        channel=call.env.get("agi_channel", ""),
        caller_number=info.caller,
        caller_name=info.caller_name,
        arrived_at=now,
    )

    def attribute(decision: Decision) -> None:
        client = decision.client
        services.record(
            fact(
                client_id=client.id if client else None,
                client_name=client.name if client else None,
                called=info.called,
                route=None,
                kind="client",
            )
        )

    info, decision = await run_menus(call, services, rules, info, now, attribute)
    client_id = decision.client.id if decision.client else None
    refused: list[tuple[str, str]] = []
    values = plan(
        decision,
        services.settings,
        linkedid,
        dial=lambda number: services.outbound.may_dial(rules, client_id, number),
        refused=refused,
    )
    for number, reason in refused:
        log.warning("call %s: not forwarding to %s: %s", linkedid, number, reason)
    try:  # the decision goes to Asterisk first; the record's facts follow, queued
        display = operator_display(decision, info.caller_name, info.caller)
        await call.set_variables({**values, "CALLERID(name)": display})
    finally:
        client = decision.client
        services.record(
            fact(
                client_id=client.id if client else None,
                client_name=client.name if client else None,
                called=info.called,
                route=values[v.ROUTE],
            )
        )
    if values[v.ROUTE] == "hangup":
        await play_announcement(call, services, rules, decision)
    log.info(
        "call %s to %s for %s: %s (%s%s)",
        linkedid,
        info.called,
        decision.client.id if decision.client else "nobody",
        values[v.ROUTE],
        decision.why,
        f", keys {info.digits}" if info.digits else "",
    )
