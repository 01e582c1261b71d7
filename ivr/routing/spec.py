"""The shape of the rules files, as frozen dataclasses.

These classes are the single description of the language: source.py decodes YAML into them,
schema.py turns them into routing_rules/schema.json, compile.py turns them into the fast
runtime objects of model.py. A field's `doc` metadata becomes its schema description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from ivr.routing.dispatch import DispatchSpec
from ivr.routing.oncall import OnCallSpec
from ivr.routing.patterns import (  # noqa: F401  (spec.LINE and the like are used elsewhere)
    CALLER,
    CONTROLS,
    DIGITS,
    EMAIL,
    FILE,
    LANGUAGE,
    LINE,
    NAME,
    PERSON,
    PHONE,
    PREFIX,
    TEXT,
    TIME,
    TIME_RANGE,
    ZONE,
)
from ivr.routing.scriptspec import ScriptSpec
from ivr.routing.source import OneOrMany, Spec, doc

Strategy = Literal["ringall", "linear", "rrmemory", "leastrecent", "fewestcalls", "random"]
DialClass = Literal[
    "landline",
    "mobile",
    "toll-free",
    "shared-cost",
    "premium",
    "special",
    "nomadic",
    "international",
    "unknown",
]
# The loader checks these values itself, with messages more precise than a pattern's; the
# pattern is for editors (the JSON schema).
CHECKED = {"compiled": True}


@dataclass(frozen=True, kw_only=True)
class OperatorSpec(Spec):
    name: str = field(
        default="",
        metadata=doc(
            "Name shown to colleagues and in records.",
            pattern=PERSON,
            hint="one line, no quotes, angle brackets or backslashes",
        ),
    )
    endpoint: str | None = field(
        default=None,
        metadata=doc(
            "PJSIP endpoint to ring; the operator's id when absent.",
            pattern=NAME,
            hint="one word: letters, digits, _ . - (not first)",
        ),
    )
    languages: tuple[str, ...] = field(
        default=(), metadata=doc("Languages spoken: it, en...", pattern=LANGUAGE)
    )
    skills: tuple[str, ...] = field(
        default=(), metadata=doc("Free skill tags: plumbing...", pattern=NAME)
    )


@dataclass(frozen=True, kw_only=True)
class GroupSpec(Spec):
    members: tuple[str, ...] = field(metadata=doc("Operator ids, in preference order."))
    strategy: Strategy = field(default="ringall", metadata=doc("Asterisk queue strategy."))
    timeout: int = field(default=20, metadata=doc("Seconds to ring before the next step."))
    skill: str | None = field(
        default=None,
        metadata=doc(
            "Members with this skill are offered the group's calls first; the others (queue"
            " penalty 1) only when no member with the skill is free.",
            pattern=NAME,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class HolidaySpec(Spec):
    name: str = field(metadata=doc("Said in the decision: 'holiday: <name>'.", pattern=LINE))
    date: str | None = field(
        default=None,
        metadata=doc(
            "MM-DD every year, or YYYY-MM-DD once.",
            pattern=r"^([0-9]{4}-)?[0-9]{2}-[0-9]{2}$",
            **CHECKED,
        ),
    )
    through: str | None = field(
        default=None,
        metadata=doc("Last day of a closure starting at `date` (same form as date)."),
    )
    easter: int | None = field(
        default=None, metadata=doc("Days after Easter Sunday: 0 Easter, 1 Easter Monday.")
    )
    until: str | None = field(
        default=None,
        metadata=doc("Partial day: usual hours, but closed from HH:MM.", pattern=TIME, **CHECKED),
    )
    hours: tuple[str, ...] | None = field(
        default=None,
        metadata=doc(
            "Partial day: these hours replace the usual ones.", pattern=TIME_RANGE, **CHECKED
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CalendarSpec(Spec):
    include: tuple[str, ...] = field(
        default=(), metadata=doc("Other calendars whose days this one also has.")
    )
    holidays: tuple[HolidaySpec, ...] = field(default=(), metadata=doc("Closed days."))


@dataclass(frozen=True, kw_only=True)
class PromptSpec(Spec):
    file: str | None = field(
        default=None,
        metadata=doc(
            "Sound file, without extension.",
            pattern=FILE,
            hint="a sound's name or path: letters, digits, _ . / - and no '..'",
        ),
    )
    text: str | None = field(
        default=None,
        metadata=doc("Text spoken in the client's language.", pattern=TEXT),
    )


@dataclass(frozen=True, kw_only=True)
class ContactSpec(Spec):
    name: str = field(metadata=doc("Who is called.", pattern=LINE))
    number: str = field(
        default="",
        metadata=doc(
            "Outside number: national (0612345678) or E.164 with its + (+41441234567).",
            pattern=PHONE,
            hint="digits, with an optional leading +",
        ),
    )
    on_call_now: bool = field(
        default=False,
        metadata=doc(
            "Whoever of the client's people is on call when the ladder starts (their first"
            " number) instead of a fixed number; nobody on call: skipped."
        ),
    )
    wait: int = field(default=300, metadata=doc("Seconds to wait for an answer before the next."))
    email: str | None = field(
        default=None,
        metadata=doc(
            "Told by email when a ladder starts.", pattern=EMAIL, hint="an address: name@host"
        ),
    )
    days: str | None = field(
        default=None, metadata=doc("On call only on these days: mon-fri, sat,sun...")
    )
    hours: tuple[str, ...] | None = field(
        default=None,
        metadata=doc(
            "On call only at these local times (HH:MM-HH:MM).", pattern=TIME_RANGE, **CHECKED
        ),
    )


@dataclass(frozen=True, kw_only=True)
class LadderSpec(Spec):
    contacts: tuple[ContactSpec, ...] = field(metadata=doc("Called in order until one answers."))
    repeat: int = field(default=1, metadata=doc("How many times to go through the ladder."))
    attempts: int = field(default=1, metadata=doc("Calls to each contact in one round."))
    pause: int = field(default=60, metadata=doc("Seconds between one round and the next."))


@dataclass(frozen=True, kw_only=True)
class PersonSpec(Spec):
    """Someone of the client's that calls may be put through to."""

    name: str = field(
        metadata=doc(
            "The person's name, as the operator says it.",
            pattern=PERSON,
            hint="one line, no quotes, angle brackets or backslashes",
        )
    )
    role: str = field(
        default="", metadata=doc("Role: owner, accountant, site manager...", pattern=LINE)
    )
    numbers: tuple[str, ...] = field(
        metadata=doc(
            "Numbers to ring, in order: national (0612345678) or E.164 with its +.",
            pattern=PHONE,
            hint="digits, with an optional leading +",
        )
    )
    languages: tuple[str, ...] = field(
        default=(), metadata=doc("Languages spoken: it, en...", pattern=LANGUAGE)
    )
    ring: int = field(default=20, metadata=doc("Seconds each number rings before the next."))


@dataclass(frozen=True, kw_only=True)
class ScreeningSpec(Spec):
    """What to do with the callers of some caller lists: the operator's card says it."""

    callers: tuple[str, ...] = field(metadata=doc("Caller lists of the client (callers:)."))
    action: Literal["always", "never", "urgent"] = field(
        metadata=doc(
            "always: put through; never: take a message; urgent: put through only when urgent."
        )
    )
    to: str | None = field(default=None, metadata=doc("The person they are put through to."))
    why: str = field(default="", metadata=doc("Shown to the operator.", pattern=LINE))


@dataclass(frozen=True, kw_only=True)
class DestinationSpec(Spec):
    """One step of a chain; exactly one of the kind keys (group ... hangup) is set."""

    group: str | None = field(default=None, metadata=doc("Ring this operator group."))
    operator: str | None = field(default=None, metadata=doc("Ring this one operator."))
    skill: str | None = field(
        default=None,
        metadata=doc("Only operators with this skill (of the group, or all).", pattern=NAME),
    )
    language: str | None = field(
        default=None,
        metadata=doc(
            "Only operators speaking this language; 'client': the client's language.",
            pattern=LANGUAGE,
        ),
    )
    message: bool = field(default=False, metadata=doc("Take a message."))
    max_seconds: int | None = field(default=None, metadata=doc("Longest message, in seconds."))
    escalate: str | None = field(
        default=None, metadata=doc("Take a message and start this escalation ladder.")
    )
    announce: str | None = field(default=None, metadata=doc("Play this prompt, then hang up."))
    forward: str | None = field(
        default=None,
        metadata=doc(
            "Ring this outside number (the dial policy decides whether it may be).",
            pattern=PHONE,
            hint="digits, with an optional leading +",
        ),
    )
    menu: str | None = field(default=None, metadata=doc("Go into this menu of the client."))
    put_through: str | None = field(
        default=None,
        metadata=doc(
            "Ring this person of the client's, each number in turn (the dial policy applies);"
            " the steps after it are the fallback."
        ),
    )
    hangup: bool = field(default=False, metadata=doc("Hang up."))
    timeout: int | None = field(default=None, metadata=doc("Seconds before the next step."))
    hours: tuple[str, ...] | None = field(
        default=None,
        metadata=doc(
            "Use this step only at these local times (HH:MM-HH:MM).", pattern=TIME_RANGE, **CHECKED
        ),
    )
    days: str | None = field(
        default=None, metadata=doc("Use this step only on these days: mon-fri, sat,sun...")
    )


# A chain: a list of steps; a step written as a plain word is a group name, or `message`,
# or `hangup`.
Destinations = Annotated[tuple[str | DestinationSpec, ...], OneOrMany]


@dataclass(frozen=True, kw_only=True)
class MenuSpec(Spec):
    prompt: str = field(metadata=doc("Prompt played to offer the options."))
    options: dict[str, Destinations] = field(
        metadata=doc(
            "DTMF key (0-9, *, #) -> chain.", keys=r"^[0-9*#]$", keys_hint="one key, 0-9, * or #"
        )
    )
    timeout: int = field(default=5, metadata=doc("Seconds to wait for a key."))
    retries: int = field(default=3, metadata=doc("How many times the prompt is offered."))
    invalid: str | None = field(default=None, metadata=doc("Prompt played after a wrong key."))
    default: Destinations = field(
        default=("message",), metadata=doc("Chain when no valid key is pressed.")
    )


@dataclass(frozen=True, kw_only=True)
class WhenSpec(Spec):
    """All the conditions written must hold; no condition at all matches every call."""

    open: bool | None = field(default=None, metadata=doc("Within opening hours (after holidays)."))
    holiday: bool | None = field(default=None, metadata=doc("Today is a holiday or closure."))
    days: str | None = field(default=None, metadata=doc("Days: mon-fri, sat,sun, daily..."))
    hours: tuple[str, ...] | None = field(
        default=None,
        metadata=doc("Local times HH:MM-HH:MM; may span midnight.", pattern=TIME_RANGE, **CHECKED),
    )
    caller_in: tuple[str, ...] = field(
        default=(), metadata=doc("The caller is in one of these caller lists of the client.")
    )
    caller: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "Caller numbers; a trailing * makes a prefix: 0039*.", pattern=CALLER, **CHECKED
        ),
    )
    withheld: bool | None = field(default=None, metadata=doc("The caller withheld the number."))
    repeat_within: int | None = field(
        default=None, metadata=doc("The caller called this client within so many seconds.")
    )


@dataclass(frozen=True, kw_only=True)
class RuleSpec(Spec):
    name: str = field(
        default="", metadata=doc("A label for people reading decisions.", pattern=TEXT)
    )
    when: WhenSpec = field(default_factory=WhenSpec, metadata=doc("Conditions."))
    to: Destinations = field(metadata=doc("The chain: steps tried in order."))
    priority: str | None = field(default=None, metadata=doc("A priority level name."))


@dataclass(frozen=True, kw_only=True)
class ClientSpec(Spec):
    id: str | None = field(
        default=None,
        metadata=doc("Client id; the file name without .yaml when absent.", pattern=NAME),
    )
    name: str = field(
        metadata=doc(
            "Company name, as the operator says it.",
            pattern=PERSON,
            hint="one line, no quotes, angle brackets or backslashes",
        )
    )
    numbers: tuple[str, ...] = field(
        metadata=doc(
            "Numbers diverted to us, digits only.",
            pattern=DIGITS,
            hint="digits only (no +, spaces or dashes)",
            what="number",
        )
    )
    timezone: str = field(
        default="UTC", metadata=doc("IANA time zone: Europe/Rome.", pattern=ZONE, **CHECKED)
    )
    language: str = field(
        default="en", metadata=doc("Language of prompts and operators.", pattern=LANGUAGE)
    )
    greeting: str = field(
        default="", metadata=doc("What the operator says on answering.", pattern=TEXT)
    )
    instructions: str = field(
        default="", metadata=doc("Notes shown to the operator.", pattern=TEXT)
    )
    hours: dict[str, tuple[str, ...]] | None = field(
        default=None,
        metadata=doc(
            "Weekly hours: day(s) -> HH:MM-HH:MM ranges (mon-fri, sat, daily...); "
            "absent: always open.",
            pattern=TIME_RANGE,
            **CHECKED,
        ),
    )
    calendars: tuple[str, ...] = field(default=(), metadata=doc("Shared holiday calendars."))
    closures: tuple[HolidaySpec, ...] = field(
        default=(), metadata=doc("This client's own closed days.")
    )
    callers: dict[str, tuple[str, ...]] = field(
        default_factory=dict,
        metadata=doc(
            "Named caller lists (vip, blocked...): numbers; trailing * for a prefix.",
            pattern=CALLER,
            keys=NAME,
            **CHECKED,
        ),
    )
    prompts: dict[str, PromptSpec] = field(
        default_factory=dict, metadata=doc("This client's own prompts.", keys=NAME)
    )
    menus: dict[str, MenuSpec] = field(default_factory=dict, metadata=doc("IVR menus.", keys=NAME))
    rules: tuple[RuleSpec, ...] = field(
        default=(), metadata=doc("Tried in order; the first that matches decides.")
    )
    dial_allow: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "E.164 prefixes this client's calls may dial although the center's policy refuses"
            " them (+41: Switzerland).",
            pattern=PREFIX,
            hint="a + and digits: +41, +39800",
        ),
    )
    dial_deny: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "E.164 prefixes this client's calls never dial.",
            pattern=PREFIX,
            hint="a + and digits: +39333",
        ),
    )
    escalate_withheld: bool = field(
        default=False,
        metadata=doc("A caller who withholds the number may start an escalation ladder."),
    )
    retention: RetentionSpec | None = field(
        default=None, metadata=doc("This client's own retention; the center's when absent.")
    )
    people: dict[str, PersonSpec] = field(
        default_factory=dict,
        metadata=doc("The people calls may be put through to: id -> person.", keys=NAME),
    )
    screening: tuple[ScreeningSpec, ...] = field(
        default=(), metadata=doc("Who is always put through, who never, who only when urgent.")
    )
    on_call: OnCallSpec | None = field(
        default=None,
        metadata=doc(
            "Who of the people is on call: a weekly rotation and periods (holidays, cover)"
            " that take precedence; scripts put through to 'on-call'."
        ),
    )
    dispatch: tuple[DispatchSpec, ...] = field(
        default=(),
        metadata=doc(
            "How messages leave the center, by category, urgency or a script's answer: the"
            " first rule that matches decides; none: emails as the users chose and the"
            " webhook if one is set."
        ),
    )
    script: ScriptSpec | None = field(
        default=None,
        metadata=doc(
            "What the operator asks, step by step, with typed answers; absent: the plain"
            " message form."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class DialPolicySpec(Spec):
    """Which numbers the engine may dial: ladder contacts, callbacks, forward steps."""

    allow: tuple[DialClass, ...] = field(
        default=("landline", "mobile"),
        metadata=doc("Kinds of number that may be dialled (the Italian numbering plan)."),
    )
    allow_prefixes: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "E.164 prefixes allowed whatever their kind; the longest match wins.",
            pattern=PREFIX,
            hint="a + and digits: +41, +39800",
        ),
    )
    deny_prefixes: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "E.164 prefixes refused whatever their kind (a deny wins a tie).",
            pattern=PREFIX,
            hint="a + and digits: +39899",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class RetentionSpec(Spec):
    """Days personal data is kept; the daily purge removes what is older."""

    recordings: int | None = field(default=None, metadata=doc("Recorded messages, in days."))
    messages: int | None = field(
        default=None, metadata=doc("Messages taken by operators (the outcomes), in days.")
    )
    numbers: int | None = field(
        default=None, metadata=doc("Callers' numbers and names on the call records, in days.")
    )


@dataclass(frozen=True, kw_only=True)
class SharedSpec(Spec):
    fallback_group: str = field(
        metadata=doc("Group rung when the engine is down or fails, and for unknown numbers.")
    )
    operators: dict[str, OperatorSpec] = field(metadata=doc("Operator id -> operator.", keys=NAME))
    groups: dict[str, GroupSpec] = field(metadata=doc("Group id -> group.", keys=NAME))
    calendars: dict[str, CalendarSpec] = field(
        default_factory=dict, metadata=doc("Holiday calendars.", keys=NAME)
    )
    prompts: dict[str, PromptSpec] = field(
        default_factory=dict, metadata=doc("Prompts.", keys=NAME)
    )
    ladders: dict[str, LadderSpec] = field(
        default_factory=dict, metadata=doc("Escalation ladders.", keys=NAME)
    )
    priorities: dict[str, int] = field(
        default_factory=lambda: {"normal": 0, "high": 5, "vip": 10, "urgent": 20},
        metadata=doc(
            "Priority level name -> queue priority (higher is answered first).", keys=NAME
        ),
    )
    clients: tuple[ClientSpec, ...] = field(
        default=(), metadata=doc("Clients, when everything is in one file.")
    )
    dial_policy: DialPolicySpec | None = field(
        default=None,
        metadata=doc(
            "What the engine may dial; absent: Italian landlines and mobiles only (no"
            " international, premium, shared-cost or short numbers)."
        ),
    )
    retention: RetentionSpec | None = field(
        default=None,
        metadata=doc(
            "Days personal data is kept, for every client that says nothing of its own"
            " (absent: recordings 90, messages 365, numbers 365)."
        ),
    )
