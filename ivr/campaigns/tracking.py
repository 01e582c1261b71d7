"""What AMI says about campaign calls and about the operators, read into plain facts.

Pure helpers: the hang-up cause of an unanswered call as a system outcome; the endpoint of an
operator's channel; inbound callers waiting per queue (app_queue's join and leave events).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict, deque
from collections.abc import Mapping

from ivr.ami.facts import operator_of
from ivr.campaigns.model import BUSY, HUNG_UP, MACHINE, NO_ANSWER, UNREACHABLE
from ivr.campaigns.predict import INBOUND_HANDLE, Forecast
from ivr.campaigns.store import ACCOUNT_PREFIX

CAMPAIGN_QUEUE_PREFIX = "cmp-"
# Q.850 causes of a call that was never answered.
BUSY_CAUSES = frozenset({"17"})
NO_ANSWER_CAUSES = frozenset({"16", "18", "19", "21", "0", ""})
# Anything else (1 unallocated number, 3 no route, 27 destination out of order, 28 invalid
# number, 34 no circuit, 38 network out of order, 41/42 failure, congestion): unreachable.


def is_campaign_call(linkedid: str) -> bool:
    return linkedid.startswith(ACCOUNT_PREFIX)


def unanswered_outcome(cause: str) -> str:
    if cause in BUSY_CAUSES:
        return BUSY
    if cause in NO_ANSWER_CAUSES:
        return NO_ANSWER
    return UNREACHABLE


def ended_outcome(cause: str, answered: bool, amd: str | None) -> str:
    """A campaign call's system outcome from its hang-up (connected and dropped calls are
    decided from the rows: store.close_attempt)."""
    if not answered:
        return unanswered_outcome(cause)
    if (amd or "").startswith("MACHINE"):
        return MACHINE
    return HUNG_UP  # answered, and gone before an operator took it


def endpoint_of(channel: str) -> str | None:
    return operator_of(channel) if channel.startswith("PJSIP/") else None


class Waiting:
    """Inbound callers waiting in each queue, from QueueCallerJoin/Leave/Abandon; the
    campaigns' own queues are not inbound and are left out. Also the inbound arrivals of the
    latest minutes (the blending's forecast) and the latest inbound talk times."""

    def __init__(self) -> None:
        self.callers: dict[str, set[str]] = defaultdict(set)
        self.forecast = Forecast()
        self.talks: deque[float] = deque(maxlen=50)

    def apply(self, event: Mapping[str, str], t: float | None = None) -> bool:
        """`t`: the services' clock (POSIX seconds), for the arrivals' forecast."""
        name = event.get("Event", "")
        queue = event.get("Queue", "")
        if not queue or queue.startswith(CAMPAIGN_QUEUE_PREFIX):
            return False
        caller = event.get("Uniqueid") or event.get("Linkedid") or ""
        if name == "AgentComplete":
            with contextlib.suppress(ValueError):
                self.talks.append(float(event.get("TalkTime", "")))
            return False
        if name in ("QueueCallerJoin", "QueueEntry"):
            if name == "QueueCallerJoin" and t is not None:
                self.forecast.arrive(t)
            self.callers[queue].add(caller)
            return True
        if name in ("QueueCallerLeave", "QueueCallerAbandon"):
            self.callers[queue].discard(caller)
            return True
        return False

    def reset(self, entries: list[Mapping[str, str]]) -> None:
        self.callers.clear()
        for entry in entries:
            self.apply(entry)

    def count(self, queue: str) -> int:
        return len(self.callers.get(queue, ()))

    def inbound_handle(self, wrapup: float) -> float:
        """Seconds an inbound call holds an operator: the latest talks and half the wrap-up
        pause (most save the message before it ends), a prior until there are a few."""
        if len(self.talks) < 5:
            return INBOUND_HANDLE
        return sum(self.talks) / len(self.talks) + wrapup / 2
