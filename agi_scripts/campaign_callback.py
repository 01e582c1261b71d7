"""A call to a number an outbound campaign presents: the contact calls back.

Steps: is the dialled number a campaign's caller ID? -> which campaign (the caller's own, if
they are one of its contacts) -> open the call record in the client's name -> say which
business called and why (never a debt: whoever answers the phone may not be the debtor) ->
1 rings the campaign's operators (then a message), anything else says goodbye.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agi_scripts.inbound_plan import plan
from ivr import variables as v
from ivr.campaigns import speech
from ivr.campaigns.activity import campaigns_of_number
from ivr.campaigns.model import Campaign
from ivr.dialpolicy import NumberError, normalise
from ivr.records import repo
from ivr.routing.decision import CallInfo, ClientCard, Decision, Step

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.services import Services

log = logging.getLogger(__name__)
KEY_WAIT_MS = 5000
OFFERS = 2


def campaigns_for(services: Services, called: str) -> list[Campaign]:
    found = services.campaigns() if services.campaigns is not None else None
    return found.by_caller_id(called) if found is not None and called else []


async def handle(call: AgiCall, services: Services, linkedid: str, info: CallInfo) -> bool:
    """Answer the call if it is a call back to a campaign; False if it is not one."""
    candidates = campaigns_for(services, info.called)
    if not candidates:
        return False
    campaign = candidates[0]
    if len(candidates) > 1 and info.caller:
        try:
            known = await campaigns_of_number(services.sessions, normalise(info.caller))
        except NumberError:
            known = []
        campaign = next((c for c in candidates if c.id in known), campaign)
    rules = services.rules.current
    client = rules.clients.get(campaign.client_id)
    card = client.card if client else ClientCard(campaign.client_id, campaign.client_name)
    group = rules.groups.get(campaign.groups[0])
    chain: tuple[Step, ...] = (Step(kind="message"),)
    if group is not None:
        endpoints = tuple(rules.operators[m].endpoint for m in group.members)
        operators = Step(kind="operators", operators=endpoints, group=group.id,
                         timeout=group.timeout)  # fmt: skip
        chain = (operators, Step(kind="message"))
    await repo.open_call(
        services.sessions,
        services.clock,
        linkedid=linkedid,
        channel=call.env.get("agi_channel", ""),
        client_id=card.id,
        client_name=card.name,
        called=info.called,
        caller_number=info.caller,
        caller_name=info.caller_name,
        arrived_at=services.clock(),
        route="campaign-callback",
    )
    await call.answer()
    prompts = services.prompts
    intro = await prompts.file_for(speech.callback_prompt(campaign), campaign.language)
    key = ""
    for _ in range(OFFERS):
        # Past the dialplan's deadline for a silent engine: the caller is listening.
        wait = KEY_WAIT_MS // 1000 + v.PROMPT_ALLOWANCE
        await call.set_variable(v.TIMEOUT_ABSOLUTE, str(wait))
        key = await call.get_data(intro, KEY_WAIT_MS, 1)
        if key:
            break
    await call.set_variable(v.TIMEOUT_ABSOLUTE, str(services.settings.agi_deadline))
    if key == "1":
        decision = Decision(card, True, "call back to a campaign", campaign.file, chain)
        values = plan(decision, services.settings, linkedid)
    else:
        goodbye = await prompts.file_for(speech.goodbye_prompt(campaign.language),
                                         campaign.language)  # fmt: skip
        await call.stream_file(goodbye)
        values = {v.ROUTE: "hangup", v.CLIENT_ID: card.id, v.CLIENT_NAME: card.name}
    for name, value in values.items():
        await call.set_variable(name, value)
    await call.set_variable("CALLERID(name)", f"{card.name}: {info.caller or 'withheld'}"[:40])
    log.info("call back %s to campaign %s (%s): key %r", linkedid, campaign.id, info.called, key)
    return True
