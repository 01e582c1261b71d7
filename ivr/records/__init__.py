"""Call records: one row per call, built from facts that may arrive in any order."""

from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.repo import (
    CallRecord,
    caller_history,
    get_call,
    list_calls,
    note_failure,
    open_call,
    seconds_since_last_call,
)

__all__ = [
    "CallRecord",
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
