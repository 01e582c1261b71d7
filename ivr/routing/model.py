"""The loaded rules: frozen, cross-referenced, precomputed for evaluate()."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ivr.dialpolicy import DialPolicy
from ivr.routing.clock import ALWAYS, HolidayBook, Schedule
from ivr.routing.decision import ClientCard, Step
from ivr.routing.dispatch import DispatchRule
from ivr.routing.oncall import OnCall
from ivr.routing.script import Script
from ivr.routing.source import Problem, Where


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    endpoint: str  # PJSIP endpoint name
    languages: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    id: str
    members: tuple[str, ...]  # operator ids, in order
    strategy: str = "ringall"
    timeout: int = 20
    skill: str | None = None  # members with it are offered calls first (queue penalty 0)


@dataclass(frozen=True)
class Prompt:
    id: str
    file: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Contact:
    name: str
    number: str
    wait: int = 300
    email: str | None = None
    on_call: Window | None = None  # None: always on call (in the client's time zone)
    on_call_now: bool = False  # stands for the client's person on call when the ladder starts


@dataclass(frozen=True)
class Ladder:
    id: str
    contacts: tuple[Contact, ...]
    repeat: int = 1
    attempts: int = 1  # calls to each contact in one round
    pause: int = 60  # seconds between rounds


@dataclass(frozen=True)
class Window:
    """When a rule or a step applies: weekdays bitmask and minutes-of-day ranges."""

    days: int = 0x7F
    ranges: tuple[tuple[int, int], ...] = ()  # empty: all day; each (start, end), end > start

    def contains(self, weekday: int, minute: int) -> bool:
        if not self.days >> weekday & 1:
            return False
        if not self.ranges:
            return True
        return any(a <= minute < b for a, b in self.ranges)


@dataclass(frozen=True)
class Menu:
    id: str
    prompt: str
    options: dict[str, tuple[Target, ...]]
    default: tuple[Target, ...]
    timeout: int = 5
    retries: int = 3
    invalid: str | None = None
    where: str = ""


@dataclass(frozen=True)
class Target:
    """A compiled step: the Step to emit, and when it applies, or the menu it enters."""

    step: Step
    window: Window | None = None
    menu: str | None = None  # a menu of the client (by id: menus may lead back to each other)


@dataclass(frozen=True)
class Condition:
    open: bool | None = None
    holiday: bool | None = None
    window: Window | None = None
    callers: frozenset[str] = frozenset()  # exact numbers
    prefixes: tuple[str, ...] = ()
    withheld: bool | None = None
    repeat_within: int | None = None

    @property
    def catch_all(self) -> bool:
        return self == CATCH_ALL


CATCH_ALL = Condition()


@dataclass(frozen=True)
class Rule:
    index: int
    name: str
    where: str  # "clients/rossi.yaml: rules[2]"
    at: Where
    condition: Condition
    chain: tuple[Target, ...]
    priority: int = 0
    static_chain: tuple[Step, ...] | None = None  # the chain when no step depends on time/menu


@dataclass(frozen=True)
class Person:
    """Someone of the client's that calls may be put through to: numbers rung in order."""

    id: str
    name: str
    role: str = ""
    numbers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    ring: int = 20  # seconds each number rings


@dataclass(frozen=True)
class Screening:
    """Callers of some lists: always put through (to a person), never, or only when urgent."""

    lists: tuple[str, ...]
    callers: frozenset[str]
    prefixes: tuple[str, ...]
    action: str  # always, never, urgent
    to: str | None = None  # a person's id
    why: str = ""

    def matches(self, caller: str) -> bool:
        return bool(caller) and (caller in self.callers or caller.startswith(self.prefixes))


@dataclass(frozen=True)
class Retention:
    """Days personal data is kept before the daily purge removes it."""

    recordings: int = 90  # recorded messages (sound files)
    messages: int = 365  # what operators wrote down (outcomes)
    numbers: int = 365  # callers' numbers and names on the records


@dataclass(frozen=True)
class Client:
    id: str
    card: ClientCard
    file: str
    zone: ZoneInfo
    numbers: tuple[str, ...]
    rules: tuple[Rule, ...]
    schedule: Schedule = ALWAYS
    holidays: HolidayBook = field(default_factory=HolidayBook)
    menus: dict[str, Menu] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)  # the client's own
    # The client's own exceptions to the center's outbound dial policy (E.164 prefixes).
    dial_allow: tuple[str, ...] = ()
    dial_deny: tuple[str, ...] = ()
    escalate_withheld: bool = False  # a withheld caller may start a ladder
    retention: Retention | None = None  # None: the center's
    people: dict[str, Person] = field(default_factory=dict)
    screening: tuple[Screening, ...] = ()
    script: Script | None = None  # what the operator asks; None: the plain message form
    dispatch: tuple[DispatchRule, ...] = ()  # how messages leave the center; () the default
    on_call: OnCall | None = None  # who of the people is on call, by rotation and periods

    def screen(self, caller: str) -> Screening | None:
        """What the client says of this caller: the first screening whose lists hold it."""
        return next((s for s in self.screening if s.matches(caller)), None)

    @property
    def name(self) -> str:
        return self.card.name


@dataclass(frozen=True)
class Rules:
    """Everything load_rules() read. Treat as read-only: calls share it across tasks."""

    operators: dict[str, Operator]
    groups: dict[str, Group]
    fallback_group: str
    clients: dict[str, Client]
    number_index: dict[str, str]  # called number -> client id
    source_digest: str
    warnings: tuple[Problem, ...] = ()
    prompts: dict[str, Prompt] = field(default_factory=dict)
    ladders: dict[str, Ladder] = field(default_factory=dict)
    priorities: dict[str, int] = field(default_factory=dict)
    calendars: tuple[str, ...] = ()
    source: str = ""  # the path it was loaded from
    unknown_chain: tuple[Step, ...] = ()  # what a number nobody claims gets
    dial_policy: DialPolicy = field(default_factory=DialPolicy)  # every number dialled out
    retention: Retention = field(default_factory=Retention)  # the center's default

    def retention_for(self, client_id: str | None) -> Retention:
        client = self.clients.get(client_id) if client_id else None
        return client.retention if client and client.retention else self.retention

    def dial_policy_for(self, client_id: str | None) -> DialPolicy:
        """The center's policy with the client's own allow/deny prefixes on top."""
        client = self.clients.get(client_id) if client_id else None
        if client is None:
            return self.dial_policy
        return self.dial_policy.merged(client.dial_allow, client.dial_deny)

    def ladders_of(self, client_id: str | None) -> tuple[str, ...]:
        """The escalation ladders the client's rules and menus may start, in rules order."""
        client = self.clients.get(client_id) if client_id else None
        if client is None:
            return ()
        chains = [rule.chain for rule in client.rules]
        for menu in client.menus.values():
            chains += [*menu.options.values(), menu.default]
        found = [t.step.ladder for chain in chains for t in chain if t.step.kind == "escalate"]
        return tuple(dict.fromkeys(ladder for ladder in found if ladder))

    def prompt(self, client_id: str | None, name: str) -> Prompt | None:
        """A prompt by name: the client's own first, then the shared ones."""
        if client_id is not None:
            client = self.clients.get(client_id)
            if client is not None and name in client.prompts:
                return client.prompts[name]
        return self.prompts.get(name)

    def summary(self) -> str:
        numbers = len(self.number_index)
        warn = len(self.warnings)
        return (
            f"{len(self.clients)} clients, {numbers} numbers, {len(self.operators)} operators, "
            f"{len(self.groups)} groups ({warn} warning{'' if warn == 1 else 's'})"
        )
