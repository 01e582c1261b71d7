"""The client's person answered the engine's call: who is calling and why, then a key.

Steps: find the attempt (its id is the AGI argument) -> note the answer -> say, in the
client's language, whose call it is, who is calling and why -> 1 takes the call (the caller on
hold is bridged with this leg by the dialplan), 2 declines; no key or a hang-up is not an
acceptance: the operator gets the caller back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr import variables as v
from ivr.agi.protocol import AgiError
from ivr.putthrough import speech
from ivr.putthrough.models import DECLINED, NO_KEY

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.services import Services

log = logging.getLogger(__name__)

KEYS = "12"
TURNS = 3  # times the announcement is offered
KEY_WAIT_MS = 4000


async def handle(call: AgiCall, services: Services) -> None:
    feature = services.put_through
    attempt_id = int(call.args[0]) if call.args and call.args[0].isdigit() else 0
    t = feature.transfer(attempt_id) if feature is not None else None
    if t is None:
        log.warning("putthrough route: no attempt %r in progress", call.args[:1])
        return
    await feature.answered(t, call.env.get("agi_channel", ""))
    key, detail = "", "no key pressed"
    try:
        prompt = await services.prompts.file_for(speech.announcement(t), t.language)
        for _ in range(TURNS):
            key = await call.get_data(prompt, KEY_WAIT_MS, 1)
            if key in KEYS:
                break
    except AgiError as exc:  # hung up, or the leg went away: not an acceptance
        detail = f"the person's leg ended ({type(exc).__name__})"
    if key == "1":
        caller = await feature.accept(t)
        if caller is not None:
            await call.set_variable(v.PUT_THROUGH_CALLER, caller)
        return
    if key == "2":
        await feature.back(t, DECLINED, "pressed 2")
        try:
            await call.stream_file(await services.prompts.file_for(speech.goodbye(t), t.language))
        except AgiError:
            pass
        return
    await feature.back(t, NO_KEY, detail)
