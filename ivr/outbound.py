"""Calls out through the trunk that are up right now, counted from Asterisk's own events, and
the one place that says whether the engine may dial a number now.

Every number the engine dials (a ladder's contact, a callback by "press 3", a forward step,
the outbound campaigns) passes `may_dial`: the rules' dial policy for the client (E.164, the
Italian ranges, the client's own prefixes), then the cap on calls out at once (setting
outbound_max_calls; 0 is no cap), counted over every engine of the center (this engine's
calls, and what the others last said: ivr/centercount.py). A refusal is logged with its
reason by the caller.

An outgoing trunk channel is one whose name starts with the trunk's (PJSIP/trunk-) and that
was created Down, to place a call (Dial, Originate: an INVITE from the carrier makes a
channel that is ringing), or, in Asterisk's list at login, that belongs to someone else's
call (Dial: its Linkedid is the caller's) or carries an account code (every Originate of
the engine has one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr import dialpolicy
from ivr.ami.client import AmiError
from ivr.feature import Feature

if TYPE_CHECKING:
    from ivr.ami.message import Message
    from ivr.centercount import CenterCount
    from ivr.config import Settings
    from ivr.routing.model import Rules
    from ivr.services import Services

log = logging.getLogger(__name__)
ANSWERED = "4"  # OriginateResponse Reason: the called party answered
DOWN = "0"  # ChannelState of a channel created to place a call


def trunk_prefix(outbound_dial: str) -> str:
    """'PJSIP/{number}@trunk' -> 'PJSIP/trunk-': how Asterisk names the trunk's channels."""
    tech, _, rest = outbound_dial.partition("/")
    endpoint = rest.rpartition("@")[2] if "@" in rest else rest.partition("/")[0]
    return f"{tech}/{endpoint}-"


@dataclass(frozen=True)
class Dial:
    """May the engine dial this number now: the number as dialled (E.164), or why not."""

    allowed: bool
    number: str
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class OutboundCalls:
    """The trunk's outgoing channels that are up, by name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = trunk_prefix(settings.outbound_dial)
        self.channels: set[str] = set()
        self.center: CenterCount | None = None  # the other engines' calls out

    @property
    def up(self) -> int:
        return len(self.channels)

    @property
    def center_up(self) -> int:
        """Calls out up in the whole center: this engine's and the others'."""
        return self.up + (self.center.others() if self.center is not None else 0)

    def outgoing(self, fields: Mapping[str, str], new: bool = False) -> bool:
        channel = fields.get("Channel", "")
        if not channel.startswith(self.prefix):
            return False
        if new and fields.get("ChannelState") == DOWN:
            return True  # made to call out (an INVITE from the carrier arrives ringing)
        dialled = fields.get("Linkedid", "") not in ("", fields.get("Uniqueid", ""))
        return dialled or bool(fields.get("AccountCode"))

    def note(self, event: Message) -> None:
        before = self.up
        self._note(event)
        if self.center is not None and self.up != before:
            self.center.changed.set()  # the other engines hear of it now

    def _note(self, event: Message) -> None:
        if event.event == "Newchannel" and self.outgoing(event, new=True):
            self.channels.add(event.get("Channel", ""))
        elif event.event == "OriginateResponse" and event.get("Reason") == ANSWERED:
            # An originated channel may get its account code only after its Newchannel.
            channel = event.get("Channel", "")
            if channel.startswith(self.prefix):
                self.channels.add(channel)
        elif event.event == "Hangup":
            self.channels.discard(event.get("Channel", ""))

    def reset(self, channels: Iterable[Mapping[str, str]]) -> None:
        self.channels = {c.get("Channel", "") for c in channels if self.outgoing(c)}
        if self.center is not None:
            self.center.changed.set()

    def full(self, pending: int = 0) -> bool:
        cap = self.settings.outbound_max_calls
        return bool(cap) and self.center_up + pending >= cap

    def may_dial(self, rules: Rules, client_id: str | None, raw: str, pending: int = 0) -> Dial:
        verdict = dialpolicy.check(rules.dial_policy_for(client_id), raw)
        if not verdict:
            return Dial(False, verdict.number, verdict.reason)
        if self.full(pending):
            cap = self.settings.outbound_max_calls
            up = self.center_up
            return Dial(False, verdict.number, f"{up} calls out already up in the center "
                        f"(at most {cap})")  # fmt: skip
        return Dial(True, verdict.number, verdict.reason)


class Outbound(Feature):
    """Keeps services.outbound in step with Asterisk: its events, and a full count at login."""

    name = "outbound"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from ivr.centercount import CenterCount

        outbound = self.services.outbound
        outbound.center = CenterCount(self.services.leases.me, self.services.wake)
        self._task = asyncio.get_running_loop().create_task(
            outbound.center.run(lambda: outbound.up), name="outbound-count"
        )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])

    async def on_events(self, events: Sequence[Message]) -> None:
        for event in events:
            self.services.outbound.note(event)

    async def on_ami_connected(self) -> None:
        ami = self.services.ami
        if ami is None:
            return
        try:
            channels = await ami.send_action_list({"Action": "CoreShowChannels"})
        except (AmiError, TimeoutError) as exc:
            log.warning("outbound calls: cannot list channels: %r", exc)
            return
        self.services.outbound.reset(channels)

    def status(self) -> dict[str, int]:
        outbound = self.services.outbound
        return {"up": outbound.up, "center_up": outbound.center_up,
                "max": self.services.settings.outbound_max_calls}  # fmt: skip
