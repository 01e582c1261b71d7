"""The second channel: an email to the ladder's contacts when it starts, so an escalation is
never silent even when no call gets through. smtplib in a thread: the loop never blocks."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING

from ivr.config import Settings
from ivr.escalation.ladder import Plan

if TYPE_CHECKING:
    from ivr.escalation.store import RunRecord

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 10.0


def compose(settings: Settings, run: RunRecord, plan: Plan) -> EmailMessage | None:
    to = sorted({c.email for c in plan.contacts if c.email})
    if not to:
        return None
    client = run.client_name or run.client_id or "a client"
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(to)
    # Header values from strangers: the email library refuses CR/LF in them.
    caller = " ".join((run.caller_name or "").split())
    message["Subject"] = f"URGENT: message for {client}" + (f" from {caller}" if caller else "")
    names = ", ".join(c.name for c in plan.contacts)
    message.set_content(
        f"An urgent message for {client} was left at {run.started_at:%Y-%m-%d %H:%M} UTC.\n\n"
        f"Caller: {run.caller_name or 'unknown'}\n"
        f"Callback number: {run.callback or 'none'}\n"
        f"Call: {run.linkedid}\n\n"
        f"We are now calling, in turn: {names}.\n"
        "Answer the call and press 1 to acknowledge, or 3 to be connected to the caller.\n"
    )
    return message


def _send(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
        smtp.send_message(message)


async def announce(settings: Settings, run: RunRecord, plan: Plan) -> str:
    """Send the start-of-ladder email; return what happened, for the run's row."""
    if not settings.smtp_host:
        return "not sent: no smtp_host set"
    message = compose(settings, run, plan)
    if message is None:
        return "not sent: no contact has an email address"
    try:
        await asyncio.to_thread(_send, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("escalation %d: mail failed: %r", run.id, exc)
        return f"failed: {exc}"
    log.info("escalation %d: mail sent to %s", run.id, message["To"])
    return f"sent to {message['To']}"
