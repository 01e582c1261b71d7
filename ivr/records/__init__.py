"""Call records: one row per call, built from the AGI request and AMI events in any order."""

from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.repo import (
    CallRecord,
    apply_event,
    caller_history,
    get_call,
    list_calls,
    note_failure,
    open_call,
    seconds_since_last_call,
)

__all__ = [
    "CallRecord",
    "apply_event",
    "caller_history",
    "get_call",
    "list_calls",
    "make_engine",
    "note_failure",
    "open_call",
    "seconds_since_last_call",
    "session_factory",
    "upgrade",
]
