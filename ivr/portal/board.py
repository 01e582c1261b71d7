"""What each operator is doing right now, from AMI events, and who wants to hear about it.

One uniform source for calls from a queue and from Dial(): app_queue publishes DialBegin and
DialEnd for the members it rings, exactly as Dial() does, so ringing and answering are read
from those (DestChannel names the operator's phone, Linkedid the call); the end of the call is
the Hangup of that operator's channel. Pauses come from QueueMemberPause: Asterisk's word, not
what the console asked for. The phone itself (registered or not, ringing, in use, on hold) is
its endpoint's DeviceStateChange: a phone that is not registered is offline, whatever the
console says.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.ami.facts import operator_of
from ivr.clock import Clock, utcnow
from ivr.variables import desk_endpoint

RINGING, ON_CALL, WRAP_UP = "ringing", "on call", "wrap-up"
PAUSED, AVAILABLE = "paused", "available"
OFFLINE, ON_HOLD, PUTTING_THROUGH = "offline", "on hold", "putting through"
STATES = (AVAILABLE, PAUSED, RINGING, ON_CALL, ON_HOLD, PUTTING_THROUGH, WRAP_UP, OFFLINE)
# Asterisk's device states of an operator's endpoint -> the phone as the console shows it.
IDLE, IN_USE = "idle", "in use"
DEVICES = {
    "NOT_INUSE": IDLE,
    "INUSE": IN_USE,
    "BUSY": IN_USE,
    "RINGING": RINGING,
    "RINGINUSE": RINGING,
    "ONHOLD": ON_HOLD,
    "UNAVAILABLE": OFFLINE,
    "INVALID": OFFLINE,
}


# An operator with a desk phone and a browser phone: the busiest of the two, offline only
# when both are (the order in which Asterisk aggregates a hint of several devices).
_PRECEDENCE = (ON_HOLD, IN_USE, RINGING, IDLE, OFFLINE)


def combined(states: Iterable[str]) -> str:
    """One phone state for the operator's phones' states."""
    present = set(states)
    return next((state for state in _PRECEDENCE if state in present), OFFLINE)


@dataclass
class Live:
    operator: str
    paused: bool = False
    paused_reason: str = ""
    ringing: str | None = None  # linkedid of a call ringing this operator's phone
    on_call: str | None = None  # linkedid of the call the operator is talking to
    last_call: str | None = None  # the latest call answered: the one the outcome form is for
    wrap_up: bool = False  # paused by the console until the outcome is saved or time is up
    wants_available: bool = True  # what the operator chose on the console
    sessions: int = 0  # console logins open
    since: datetime = field(default_factory=utcnow)  # the board gives its own clock's
    phone: str = ""  # the phone's device state (DEVICES); "" until Asterisk has told
    devices: dict[str, str] = field(default_factory=dict)  # each of the operator's phones
    held: bool = False  # the caller is on hold (the console's hold)
    phone_held: bool = False  # the operator's phone holds the caller (its own hold key)
    putting_through: str = ""  # the person the current call is being put through to

    @property
    def state(self) -> str:
        if self.on_call:
            if self.putting_through:
                return PUTTING_THROUGH
            held = self.held or self.phone_held or self.phone == ON_HOLD
            return ON_HOLD if held else ON_CALL
        if self.phone == OFFLINE:
            return OFFLINE
        if self.ringing:
            return RINGING
        if self.wrap_up:
            return WRAP_UP
        return PAUSED if self.paused else AVAILABLE

    def view(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "state": self.state,
            "linkedid": self.on_call or self.ringing or self.last_call,
            "since": self.since.isoformat(timespec="seconds"),
            "console": self.sessions > 0,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class Change:
    """What an event did to one operator: kind is ringing, connected, missed, ended, paused."""

    operator: str
    kind: str
    linkedid: str | None = None


class Board:
    def __init__(
        self, operator_of_endpoint: Callable[[str], str | None], clock: Clock = utcnow
    ) -> None:
        self._operator_of_endpoint = operator_of_endpoint
        self._now = clock  # the services' clock: how long each operator has been so
        self.operators: dict[str, Live] = {}
        self._channels: dict[str, tuple[str, str]] = {}  # operator channel -> (operator, call)
        self._listeners: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self.closing = False  # the engine is stopping: streams end, nobody is "gone"

    def live(self, operator: str) -> Live:
        found = self.operators.get(operator)
        if found is None:
            found = self.operators[operator] = Live(operator, since=self._now())
        return found

    # -- events ---------------------------------------------------------------------------

    def apply(self, event: Mapping[str, str]) -> Change | None:
        name = event.get("Event", "")
        if name == "DialBegin":
            return self._dial_begin(event)
        if name == "DialEnd":
            return self._dial_end(event)
        if name == "Hangup":
            return self._hangup(event)
        if name == "QueueMemberPause":
            return self._pause(event)
        if name == "DeviceStateChange":
            return self._device(event)
        if name in ("Hold", "Unhold"):
            return self._phone_hold(event, name == "Hold")
        return None

    def _phone_hold(self, event: Mapping[str, str], held: bool) -> Change | None:
        """The operator's phone put the caller on hold, or took them back."""
        found = self._channels.get(event.get("Channel", ""))
        if found is None:
            return None
        operator, linkedid = found
        live = self.live(operator)
        if live.on_call != linkedid or live.phone_held == held:
            return None
        live.phone_held = held
        return Change(operator, "phone", linkedid)

    def _device(self, event: Mapping[str, str]) -> Change | None:
        device = event.get("Device", "")
        if not device.startswith("PJSIP/"):
            return None
        endpoint = device[len("PJSIP/") :]
        operator = self._operator_of_endpoint(desk_endpoint(endpoint))
        state = DEVICES.get(event.get("State", "").upper())
        if operator is None or state is None:
            return None
        live = self.live(operator)
        live.devices[endpoint] = state
        phone = combined(live.devices.values())
        if live.phone == phone:
            return None
        was_offline = live.phone == OFFLINE or not live.phone
        live.phone = phone
        if phone == OFFLINE or was_offline:
            live.since = self._now()
        return Change(operator, "phone")

    def channel_of(self, operator: str, linkedid: str) -> str | None:
        """The operator's own channel in the call `linkedid` (their phone's leg)."""
        for channel, (who, call) in self._channels.items():
            if who == operator and call == linkedid:
                return channel
        return None

    def _dial_begin(self, event: Mapping[str, str]) -> Change | None:
        channel = event.get("DestChannel", "")
        endpoint = operator_of(channel) if channel.startswith("PJSIP/") else None
        operator = self._operator_of_endpoint(endpoint) if endpoint else None
        linkedid = event.get("Linkedid", "")
        if operator is None or not linkedid:
            return None
        self._channels[channel] = (operator, linkedid)
        live = self.live(operator)
        live.ringing, live.since = linkedid, self._now()
        return Change(operator, "ringing", linkedid)

    def _dial_end(self, event: Mapping[str, str]) -> Change | None:
        found = self._channels.get(event.get("DestChannel", ""))
        if found is None:
            return None
        operator, linkedid = found
        live = self.live(operator)
        if live.ringing == linkedid:
            live.ringing = None
        live.since = self._now()
        if event.get("DialStatus", "").upper() == "ANSWER":
            live.on_call = live.last_call = linkedid
            return Change(operator, "connected", linkedid)
        self._channels.pop(event.get("DestChannel", ""), None)
        return Change(operator, "missed", linkedid)

    def _hangup(self, event: Mapping[str, str]) -> Change | None:
        found = self._channels.pop(event.get("Channel", ""), None)
        if found is None:
            return None
        operator, linkedid = found
        live = self.live(operator)
        if live.ringing == linkedid:
            live.ringing = None
        if live.on_call != linkedid:
            return Change(operator, "missed", linkedid)
        live.on_call, live.since = None, self._now()
        live.held, live.phone_held, live.putting_through = False, False, ""
        return Change(operator, "ended", linkedid)

    def _pause(self, event: Mapping[str, str]) -> Change | None:
        operator = event.get("MemberName") or None
        if operator is None:
            return None
        live = self.live(operator)
        live.paused = event.get("Paused", "0") == "1"
        live.paused_reason = event.get("PausedReason", "") or event.get("Reason", "")
        if not (live.on_call or live.ringing):
            live.since = self._now()
        return Change(operator, "paused" if live.paused else "available")

    # -- listeners (the console's server-sent events) -----------------------------------

    def listen(self, operator: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=100)
        self._listeners.setdefault(operator, set()).add(queue)
        return queue

    def unlisten(self, operator: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._listeners.get(operator, set()).discard(queue)

    def listening(self, operator: str) -> bool:
        """Is a console page of this operator open (its event stream connected)?"""
        return bool(self._listeners.get(operator))

    def tell(self, operator: str, message: dict[str, Any]) -> None:
        for queue in list(self._listeners.get(operator, ())):
            if queue.full():  # a stalled page: drop its oldest news rather than block
                queue.get_nowait()
            queue.put_nowait(message)

    def close_listeners(self) -> None:
        self.closing = True
        for queues in self._listeners.values():
            for queue in queues:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)
