"""What the router is asked and what it answers: plain frozen data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallInfo:
    """Everything evaluate() may know about a call; the caller of evaluate() gathers it."""

    called: str  # the diverted number that was dialled (digits only, E.164 without '+' or local)
    caller: str  # caller's number; "" when withheld or anonymous
    caller_name: str = ""
    digits: str = ""  # DTMF chosen so far in IVR menus, one character per menu level
    # Seconds since this caller last called this number's client; None if never (repeat caller).
    seconds_since_last_call: float | None = None


@dataclass(frozen=True)
class Step:
    """One destination in the chain; the dialplan tries them in order.

    kind is one of: "operators" (ring a group, or one operator), "message" (take a message),
    "menu" (play a prompt and collect a digit, then evaluate again with it), "announce"
    (play then hang up), "forward" (ring an outside number), "escalate" (take a message and
    start the contacts' ladder), "hangup".
    """

    kind: str
    operators: tuple[str, ...] = ()  # PJSIP endpoint names, in preference order
    group: str | None = None  # the operator group (an Asterisk queue) when kind == operators
    timeout: int = 20  # seconds this step may take before the next one
    number: str | None = None  # outside number for "forward"
    prompt: str | None = None  # prompt name (sound file or text-to-speech) for menu/announce
    max_seconds: int = 120  # longest recorded message for message/escalate
    ladder: str | None = None  # escalation ladder name for "escalate"
    options: tuple[str, ...] = ()  # valid DTMF choices for "menu"
    retries: int = 3  # how many times a "menu" prompt is offered before giving up
    invalid_prompt: str | None = None  # prompt played after a wrong key in a "menu"
    person: str | None = None  # a "forward" to a number of this person of the client's


@dataclass(frozen=True)
class ClientCard:
    id: str
    name: str
    language: str = "en"
    timezone: str = "UTC"
    greeting: str = ""
    instructions: str = ""


@dataclass(frozen=True)
class Decision:
    client: ClientCard | None  # None: the number belongs to nobody
    open: bool
    why: str  # why open or closed: "opening hours 08:00-12:30", "holiday: Christmas", ...
    rule: str  # where the matching rule is: "clients/rossi.yaml: rules[2]"
    chain: tuple[Step, ...] = field(default_factory=tuple)
    priority: int = 0  # queue priority: higher is answered first
    explanation: str = ""  # one line for a person
