"""A contact answered an escalation call: whose message it is, the message, and a choice.

Steps: find the attempt (its id is the AGI argument) -> note the answer -> say the client,
the caller and the callback number, play the recorded message -> 1 acknowledges, 2 plays it
again, 3 acknowledges and connects to the caller. No key, a hang-up or a voicemail leave the
attempt "answered" (not acknowledged) and the ladder goes on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.escalation import speech, store
from ivr.escalation.ladder import ANSWERED
from ivr.records import recordings

if TYPE_CHECKING:
    from ivr.agi.call import AgiCall
    from ivr.services import Services

log = logging.getLogger(__name__)

KEYS = "123"
TURNS = 3  # times the message is offered before the call counts as not acknowledged
KEY_WAIT_MS = 5000


def language_of(services: Services, client_id: str | None) -> str:
    """The client's language (its card's), which its contacts hear; Italian if unknown."""
    client = services.rules.current.clients.get(client_id or "")
    return client.card.language if client else "it"


async def handle(call: AgiCall, services: Services) -> None:
    attempt_id = int(call.args[0]) if call.args and call.args[0].isdigit() else 0
    found = await store.attempt_with_run(services.sessions, attempt_id)
    if found is None:
        log.error("escalation route: no attempt %r", call.args)
        return
    attempt, run = found
    sessions = services.sessions
    await store.mark_answered(sessions, attempt_id, services.clock())
    lang = language_of(services, run.client_id)
    # the message, wherever it was recorded: this node's file or the shared database's copy
    async with recordings.playable(services.settings, sessions, run.message_path or "") as message:
        if run.message_path and message is None:
            log.error("escalation %d: message %s is nowhere", run.id, run.message_path)
        await _offer(call, services, attempt, run, lang, message)


async def _offer(
    call: AgiCall,
    services: Services,
    attempt: store.AttemptRecord,
    run: store.RunRecord,
    lang: str,
    message: str | None,
) -> None:
    """Say who and what, play the message (as Asterisk finds it), take a key, TURNS times."""
    attempt_id = attempt.id
    sessions = services.sessions
    detail = "no key pressed"
    try:
        prompts = services.prompts
        intro = await prompts.file_for(speech.intro_prompt(run, lang), lang)
        menu = await prompts.file_for(speech.menu(lang), lang)
        for _ in range(TURNS):
            key = await call.stream_file(intro, KEYS)
            if not key and message:
                key = await call.stream_file(message, KEYS)
            if not key:
                key = await call.get_data(menu, KEY_WAIT_MS, 1)
            if key == "1":
                await _acknowledged(call, services, attempt, "pressed 1")
                await call.stream_file(await prompts.file_for(speech.thanks(lang), lang))
                return
            if key == "3":
                await _connect(call, services, attempt, run, lang)
                return
            detail = "heard it again" if key == "2" else "no key pressed"
    finally:
        await store.close_attempt(sessions, attempt_id, ANSWERED, services.clock(), detail)
        services.alarms.wake("escalations")  # the ladder's next step, or its end, is due now


async def _acknowledged(
    call: AgiCall, services: Services, attempt: store.AttemptRecord, detail: str
) -> None:
    first = await store.acknowledge(services.sessions, attempt.id, services.clock(), detail)
    log.info(
        "escalation %d acknowledged by %s%s",
        attempt.run_id,
        attempt.contact_name,
        "" if first else " (already acknowledged)",
    )


async def _connect(
    call: AgiCall,
    services: Services,
    attempt: store.AttemptRecord,
    run: store.RunRecord,
    lang: str,
) -> None:
    """Press 3: acknowledged, and the contact is put through to the caller's number if the
    dial policy allows it and a call out is free; otherwise told why not."""
    prompts = services.prompts
    if not speech.dialable(run.callback):
        await _acknowledged(call, services, attempt, "pressed 3: the caller left no number")
        await call.stream_file(await prompts.file_for(speech.no_callback(lang), lang))
        return
    dial = services.outbound.may_dial(services.rules.current, run.client_id, run.callback or "")
    if not dial:
        log.warning("escalation %d: not calling the caller back: %s", run.id, dial.reason)
        await _acknowledged(call, services, attempt, f"pressed 3: not dialled: {dial.reason}")
        await call.stream_file(await prompts.file_for(speech.cannot_connect(lang), lang))
        return
    await _acknowledged(call, services, attempt, "pressed 3: connected to the caller")
    await call.stream_file(await prompts.file_for(speech.connecting(lang), lang))
    target = services.settings.outbound_dial.format(number=dial.number)
    await call.exec("Dial", target, str(services.settings.ring_timeout))
