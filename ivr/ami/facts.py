"""AMI events -> call facts: what each event tells about an inbound call's record.

Storage knows nothing of AMI; this module is where Asterisk's words (Newchannel, DialEnd,
Hangup, our UserEvents) become Facts. Only the caller's own channel of a call that entered
our inbound contexts counts: an operator's leg or an outbound call says nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from ivr.ami.message import Message, unescape_c
from ivr.clock import Clock, utcnow
from ivr.records.facts import INBOUND_CONTEXT_PREFIX, ORIGINATED_PREFIX, Fact, Facts
from ivr.records.writer import RecordWriter
from ivr.variables import desk_endpoint

# The events call records are built from (ivr/ami/events.py lets them through).
RECORD_EVENTS = frozenset({"Newchannel", "DialEnd", "Hangup", "UserEvent"})
# What Asterisk writes for an empty caller ID field.
_UNKNOWN = frozenset({"", "<unknown>"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: str | None, clock: Clock = utcnow) -> datetime:
    """Asterisk's Timestamp header (epoch seconds, microseconds); now if absent or unreadable."""
    if value:
        whole, _, fraction = value.partition(".")
        if whole.isdigit() and (not fraction or fraction.isdigit()):
            micros = int((fraction + "000000")[:6]) if fraction else 0
            try:
                return _EPOCH + timedelta(seconds=int(whole), microseconds=micros)
            except OverflowError:
                pass
    return clock()


def operator_of(dest_channel: str) -> str | None:
    """The operator's endpoint in a channel name: "PJSIP/op1-0000002a" -> "op1", and the
    same for their browser phone's channel ("PJSIP/op1-web-0000002b")."""
    _, _, resource = dest_channel.partition("/")
    resource = resource.split(";", 1)[0]
    endpoint, dash, suffix = resource.rpartition("-")
    if dash and endpoint and all(c in "0123456789abcdefABCDEF" for c in suffix):
        return desk_endpoint(endpoint)  # the browser's phone is the same operator's
    return desk_endpoint(resource) if resource else None


def _known(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN else value


def is_inbound(event: Mapping[str, str]) -> bool:
    """The caller's own channel of a call in our inbound contexts.

    A call the engine placed (an escalation's, through the trunk, whose endpoint context is
    inbound) carries an account code, or a unique id of ORIGINATED_PREFIX (a put-through's:
    no account code, which a caller bridged with it would inherit); a carrier's call does not.
    """
    linkedid = event.get("Linkedid", "")
    return (
        bool(linkedid)
        and event.get("Uniqueid") == linkedid
        and event.get("Context", "").startswith(INBOUND_CONTEXT_PREFIX)
        and not event.get("AccountCode")
        and not linkedid.startswith(ORIGINATED_PREFIX)
    )


def event_fact(event: Mapping[str, str], clock: Clock = utcnow) -> Fact | None:
    """The fact an AMI event (a Message, keys looked up without regard to case) tells."""
    if not is_inbound(event):
        return None
    linkedid = event["Linkedid"]
    kind = event.get("Event", "")
    at = timestamp(event.get("Timestamp"), clock)
    facts: Facts | None = None
    if kind == "Newchannel":
        exten = _known(event.get("Exten"))
        identity = {
            "channel": _known(event.get("Channel")),
            "called": None if exten == "s" else exten,
            "caller_number": _known(event.get("CallerIDNum")),
            # AMI C-escapes names; the record keeps the name as the caller sent it.
            "caller_name": _known(unescape_c(event.get("CallerIDName") or "")),
        }
        facts = Facts(identity=identity, arrived_at=at)
    elif kind == "DialEnd" and event.get("DialStatus", "").upper() == "ANSWER":
        facts = Facts(answered_at=at, operator=operator_of(event.get("DestChannel", "")))
    elif kind == "Hangup":
        facts = Facts(ended_at=at)
    elif kind == "UserEvent":
        name = event.get("UserEvent", "")
        if name == "IvrMessage" and event.get("Path"):
            facts = Facts(message_path=event["Path"], message_at=at)
        elif name == "IvrFailure":
            facts = Facts(failure_reason=event.get("Reason", ""), failed_at=at)
    return None if facts is None else Fact(linkedid, facts, source="ami", kind=kind, at=at)


def call_facts(events: Iterable[Message], clock: Clock = utcnow) -> list[Fact]:
    """The facts of a batch of events, in order."""
    out = []
    for event in events:
        if event.event in RECORD_EVENTS and (fact := event_fact(event, clock)) is not None:
            out.append(fact)
    return out


def record_events(writer: RecordWriter, events: Iterable[Message]) -> int | None:
    """Hand a batch's facts to the records writer (no I/O); their sequence number."""
    return writer.submit(call_facts(events, writer.clock))
