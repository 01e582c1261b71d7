"""A call's record rebuilt from Asterisk's account: pure, apart from asking whether a
message file exists.

The client comes from the number called and the rules in force; the times from the account;
who answered from the first operator leg that answered; the message from the Record the
caller reached, when its file exists; abandoned otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from ivr.account.cel import CallAccount
from ivr.ami.facts import operator_of
from ivr.records.facts import INBOUND_CONTEXT_PREFIX, ORIGINATED_PREFIX, Fact, Facts
from ivr.routing.model import Rules

SOURCE = "account"
_NOT_DIGITS = re.compile(r"[^0-9]")
_UNKNOWN = frozenset({"", "<unknown>"})
_AGISTATUS = re.compile(r"AGISTATUS=(\w*)")
FAILURE_CONTEXT = "ivr-in-failure"  # dialplan/extensions.conf.j2: where every error leads
FALLBACK_ROUTE = "fallback"  # the route on record of a call the engine never handled


def _failure(noop: str) -> str:
    """Why the call went to the failure context, from its NoOp's text ("engine unavailable:
    AGISTATUS=FAILURE reason="): with no reason, the engine never answered."""
    found = _AGISTATUS.search(noop)
    reason = noop.partition("reason=")[2].strip()
    if reason:
        return reason[:200]
    status = found.group(1) if found else "unknown"
    return f"engine unreachable (AGISTATUS={status}): the dialplan's fallback took the call"


def _known(value: str) -> str | None:
    return None if value in _UNKNOWN else value


def is_inbound(account: CallAccount) -> bool:
    """A call that came in: its first channel entered our inbound contexts and is not one
    the engine placed (those carry an account code or a unique id of ORIGINATED_PREFIX, see
    ivr/ami/facts.is_inbound)."""
    start = account.start
    return (
        start is not None
        and start.context.startswith(INBOUND_CONTEXT_PREFIX)
        and not start.account
        and not account.linkedid.startswith(ORIGINATED_PREFIX)
    )


def rebuild(
    account: CallAccount,
    rules: Rules,
    message_exists: Callable[[str], bool],
    closed_at: datetime | None = None,
    *,
    live: bool = False,
) -> Fact | None:
    """The facts of an inbound call's account; None for any other call.

    live: the call is still up (only what it did so far). Otherwise a call whose account
    never says it ended (an Asterisk that stopped mid-call writes no LINKEDID_END) is closed
    at `closed_at`, or at its last event.
    """
    start = account.start
    if start is None or not is_inbound(account):
        return None
    called = _NOT_DIGITS.sub("", start.exten) if start.exten != "s" else ""
    client_id = rules.number_index.get(called) if called else None
    client = rules.clients.get(client_id) if client_id else None
    identity = {
        "channel": _known(start.channel),
        "called": called or None,
        "caller_number": _known(start.caller_number),
        "caller_name": _known(start.caller_name),
        "client_id": client_id,
        "client_name": client.card.name if client else None,
    }
    answered = next(
        (
            e
            for e in account.events
            if e.kind == "ANSWER"
            and e.uniqueid != account.linkedid
            and not e.channel.startswith("Local/")
        ),
        None,
    )
    recorded = [
        e
        for e in account.events
        if e.kind == "APP_START" and e.app.lower() == "record" and e.uniqueid == account.linkedid
    ]
    message = None
    for event in reversed(recorded):  # a message recorded again: the latest counts
        path = event.app_data.split(",", 1)[0]
        if path and message_exists(path):
            message = (path, event.at)
            break
    fallback = next(
        (
            e
            for e in account.events
            if e.kind == "APP_START"
            and e.app.lower() == "noop"
            and e.uniqueid == account.linkedid
            and e.context == FAILURE_CONTEXT
        ),
        None,
    )
    if fallback is not None:
        identity["route"] = FALLBACK_ROUTE
    ended = account.ended_at
    facts = Facts(
        identity=identity,
        arrived_at=start.at,
        answered_at=answered.at if answered else None,
        operator=operator_of(answered.channel) if answered else None,
        ended_at=ended,
        closed_at=None if ended or live else (closed_at or account.last_at),
        message_path=message[0] if message else None,
        message_at=message[1] if message else None,
        failure_reason=_failure(fallback.app_data) if fallback else None,
        failed_at=fallback.at if fallback else None,
        rebuilt=True,
    )
    return Fact(account.linkedid, facts, source=SOURCE, kind="rebuild", only_open=True)
