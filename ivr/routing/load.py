"""load_rules(): read the rules folder, check every reference, build the runtime Rules.

Layout of a folder:   shared.yaml          operators, groups, calendars, prompts, ladders
                      clients/<id>.yaml    one client per file
or a single file holding the shared definitions and a `clients:` list.
Every problem found is collected (not just the first) and reported as FILE:LINE:COL.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast
from zoneinfo import ZoneInfo

from ivr.routing import people as staff
from ivr.routing import perimeter
from ivr.routing import spec as s
from ivr.routing.calendars import CalendarParts
from ivr.routing.clock import (
    MINUTES_PER_DAY,
    ClockError,
    HolidayBook,
    Schedule,
    days_mask,
    parse_days,
    parse_range,
)
from ivr.routing.compiling import ClientContext, unknown
from ivr.routing.decision import ClientCard, Step
from ivr.routing.destinations import DestinationParts
from ivr.routing.dispatch import CATEGORIES, compile_dispatch
from ivr.routing.model import (
    Client,
    Condition,
    Contact,
    Group,
    Ladder,
    Menu,
    Operator,
    Prompt,
    Retention,
    Rule,
    Rules,
    Target,
    Window,
)
from ivr.routing.oncall import compile_on_call
from ivr.routing.scriptload import compile_script
from ivr.routing.source import Problem, RulesError, Where, decode_file

log = logging.getLogger(__name__)
T = TypeVar("T")

SHARED_NAMES = ("shared.yaml", "shared.yml")
KEYWORDS = {"message", "hangup"}


class ParseCache:
    """Decoded files by content: a reload parses again only the files that changed.

    Parsing YAML is most of the cost of loading (libyaml builds every node and mark in
    Python); the decoded spec objects are immutable, so reusing them is safe.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bytes, object | None, list[Problem]]] = {}
        self._seen: set[str] = set()
        # Compiled clients by file: (shared spec, client spec, client, its problems). A
        # client compiled from the very same spec objects (unchanged files) is reused.
        self.compiled: dict[str, tuple[object, object, Client | None, list[Problem]]] = {}

    def get(self, file: str, key: bytes) -> tuple[object | None, list[Problem]] | None:
        self._seen.add(file)
        entry = self._entries.get(file)
        if entry is None or entry[0] != key:
            return None
        return entry[1], entry[2]

    def put(self, file: str, key: bytes, value: object | None, problems: list[Problem]) -> None:
        self._entries[file] = (key, value, problems)

    def get_rules(self, source: str, version: str) -> Rules | None:
        """Rules compiled before from exactly these files; a memory cache has none."""
        return None

    def put_rules(self, source: str, version: str, rules: Rules) -> None:
        """Valid rules just compiled; a memory cache needs them not (the holder keeps them)."""

    def prune(self) -> None:
        """Forget the files the last load did not read (deleted clients)."""
        self._entries = {f: e for f, e in self._entries.items() if f in self._seen}
        self._seen = set()
        live = {id(entry[1]) for entry in self._entries.values()}
        self.compiled = {r: c for r, c in self.compiled.items() if id(c[1]) in live}


def load_rules(path: Path, cache: ParseCache | None = None) -> Rules:
    """Read and check the rules at `path` (a folder or one file); RulesError if unusable."""
    # Loading allocates millions of small objects and frees almost none, which makes the
    # cyclic garbage collector scan again and again for nothing: pause it (about a third of
    # the load time). Reference counting still frees everything as usual.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load(Path(path), cache)
    finally:
        if was_enabled:
            gc.enable()
        if cache is not None:
            cache.prune()


def _load(path: Path, cache: ParseCache | None) -> Rules:
    problems: list[Problem] = []
    if path.is_dir():
        shared_path = next((path / n for n in SHARED_NAMES if (path / n).is_file()), None)
        if shared_path is None:
            raise RulesError([Problem(str(path / SHARED_NAMES[0]), 1, 1, "missing file")])
        folder = path / "clients"
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
        sources = [_source(shared_path, shared_path.name, problems)]
        sources += [_source(file, f"clients/{file.name}", problems) for file in files]
    elif path.is_file():
        sources = [_source(path, path.name, problems)]
    else:
        raise RulesError([Problem(str(path), 1, 1, "no such file or folder")])
    digest = hashlib.sha256()
    for _, rel, data in sources:
        if data is not None:
            digest.update(rel.encode() + b"\0" + data + b"\0")
    version = digest.hexdigest()
    if cache is not None and not problems:
        compiled = cache.get_rules(str(path), version)
        if compiled is not None:  # the very same bytes were compiled before
            return compiled
    shared: s.SharedSpec | None = None
    clients: list[tuple[s.ClientSpec, str]] = []  # (spec, file name relative to the rules)
    for n, (file, rel, data) in enumerate(sources):
        if data is None:
            continue
        if n == 0:
            shared = _decode(file, data, s.SharedSpec, problems, cache)
        else:
            client = _decode(file, data, s.ClientSpec, problems, cache)
            if client is not None:
                clients.append((client, rel))
    if shared is None:
        raise RulesError(problems)
    if path.is_file():
        clients.extend((c, path.name) for c in shared.clients)
    elif shared.clients:
        problems.append(
            Problem.at(shared.where("clients"), "clients go in clients/<id>.yaml in a folder")
        )
    rules = Compiler(problems, str(path), memo=cache).build(shared, clients, version)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise RulesError(errors)
    if cache is not None:
        cache.put_rules(str(path), version, rules)
    return rules


def _source(file: Path, rel: str, problems: list[Problem]) -> tuple[Path, str, bytes | None]:
    try:
        return file, rel, file.read_bytes()
    except OSError as exc:
        problems.append(Problem(str(file), 1, 1, f"cannot read: {exc.strerror}"))
        return file, rel, None


def _decode(
    file: Path, data: bytes, cls: type[T], problems: list[Problem], cache: ParseCache | None
) -> T | None:
    key = hashlib.sha256(data).digest() + cls.__name__.encode()
    if cache is not None:
        hit = cache.get(str(file), key)
        if hit is not None:
            problems.extend(hit[1])
            return cast(T | None, hit[0])
    found: list[Problem] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        found.append(Problem(str(file), 1, 1, f"not UTF-8 text: {exc.reason}"))
        value = None
    else:
        value = decode_file(text, str(file), cls, found)
    if cache is not None:
        cache.put(str(file), key, value, found)
    problems.extend(found)
    return cast(T | None, value)


@dataclass
class Compiler(CalendarParts, DestinationParts):
    """Turns decoded specs into runtime objects, reporting every bad reference or value."""

    problems: list[Problem]
    source: str
    memo: ParseCache | None = None  # compiled clients of an earlier load, reused if unchanged
    operators: dict[str, Operator] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    prompts: dict[str, Prompt] = field(default_factory=dict)
    ladders: dict[str, Ladder] = field(default_factory=dict)
    priorities: dict[str, int] = field(default_factory=dict)
    calendars: dict[str, HolidayBook] = field(default_factory=dict)
    _schedules: dict[object, Schedule] = field(default_factory=dict)
    _books: dict[tuple[str, ...], HolidayBook] = field(default_factory=dict)
    _zones: dict[str, ZoneInfo] = field(default_factory=dict)
    _steps: dict[tuple[str, int | None], Step] = field(default_factory=dict)
    _chosen: dict[tuple[str | None, ...], tuple[str, ...]] = field(default_factory=dict)
    _center: Retention = field(default_factory=Retention)
    _specs: dict[str, s.ClientSpec] = field(default_factory=dict)

    def error(self, where: Where, message: str) -> None:
        self.problems.append(Problem.at(where, message))

    def warn(self, where: Where, message: str) -> None:
        self.problems.append(Problem.at(where, message, warning=True))

    # -- shared definitions -------------------------------------------------------------

    def build(
        self, shared: s.SharedSpec, clients: list[tuple[s.ClientSpec, str]], digest: str
    ) -> Rules:
        self._shared(shared)
        perimeter.check_shared(shared, self.error)
        center = self._center = perimeter.retention(shared.retention, Retention(), self.error)
        built: dict[str, Client] = {}
        numbers: dict[str, str] = {}
        claimed: dict[str, Where] = {}
        for spec, rel in clients:
            client = self._compiled(shared, spec, rel)
            if client is None:
                continue
            if client.id in built:
                self.error(
                    spec.where("id") if spec.id else spec.at, f"duplicate client {client.id!r}"
                )
                continue
            built[client.id] = client
            self._specs[client.id] = spec
            for i, number in enumerate(client.numbers):
                where = spec.where(f"numbers[{i}]")
                if number in claimed:
                    self.error(where, f"number {number} is already claimed at {claimed[number]}")
                    continue
                claimed[number] = where
                numbers[number] = client.id
        fallback = self.groups.get(shared.fallback_group)
        unknown_chain: tuple[Step, ...] = (Step(kind="message"),)
        if fallback is None:
            self.error(
                shared.where("fallback_group"),
                "fallback_group: " + unknown("group", shared.fallback_group, self.groups),
            )
        else:
            unknown_chain = (self._group_step(fallback, None), Step(kind="message"))
        policy = perimeter.policy(shared.dial_policy)
        perimeter.dial_warnings(policy, self.ladders, shared.ladders, built, self._specs, self.warn)
        staff.dial_warnings(policy, built, self._specs, self.warn)
        return Rules(
            operators=self.operators,
            groups=self.groups,
            fallback_group=shared.fallback_group,
            clients=built,
            number_index=numbers,
            source_digest=digest,
            warnings=tuple(sorted((p for p in self.problems if p.warning), key=_order)),
            prompts=self.prompts,
            ladders=self.ladders,
            priorities=self.priorities,
            calendars=tuple(self.calendars),
            source=self.source,
            unknown_chain=unknown_chain,
            dial_policy=policy,
            retention=center,
        )

    def _compiled(self, shared: s.SharedSpec, spec: s.ClientSpec, rel: str) -> Client | None:
        """The client compiled before from the same shared and client specs, or now."""
        memo = self.memo.compiled if self.memo is not None else None
        if memo is not None:
            found = memo.get(rel)
            if found is not None and found[0] is shared and found[1] is spec:
                self.problems.extend(found[3])
                return found[2]
        before = len(self.problems)
        client = self._client(spec, rel)
        if memo is not None:
            memo[rel] = (shared, spec, client, self.problems[before:])
        return client

    def _shared(self, shared: s.SharedSpec) -> None:
        for op_id, op in shared.operators.items():
            self.operators[op_id] = Operator(
                op_id, op.name or op_id, op.endpoint or op_id, op.languages, op.skills
            )
        for group_id, group in shared.groups.items():
            members = []
            for i, member in enumerate(group.members):
                if member not in self.operators:
                    self.error(
                        group.where(f"members[{i}]"), unknown("operator", member, self.operators)
                    )
                else:
                    members.append(member)
            if not group.members:
                self.warn(group.where("members"), f"group {group_id!r} has no operators")
            self._positive(group, "timeout", group.timeout)
            skilled = [m for m in members if group.skill in self.operators[m].skills]
            if group.skill is not None and members and not skilled:
                self.warn(
                    group.where("skill"),
                    f"no operator of group {group_id!r} has the skill {group.skill!r}",
                )
            self.groups[group_id] = Group(
                group_id, tuple(members), group.strategy, group.timeout, group.skill
            )
        for name, prompt in shared.prompts.items():
            self.prompts[name] = self._prompt(name, prompt)
        for name, ladder in shared.ladders.items():
            contacts = []
            for contact in ladder.contacts:
                self._positive(contact, "wait", contact.wait)
                on_call = self._window(contact, contact.days, contact.hours)
                if bool(contact.number) == contact.on_call_now:
                    self.error(contact.at, "a contact has a number, or on_call_now: true")
                contacts.append(
                    Contact(contact.name, contact.number, contact.wait, contact.email, on_call,
                            contact.on_call_now)
                )  # fmt: skip
            if not contacts:
                self.error(ladder.where("contacts"), f"ladder {name!r} has no contacts")
            self._positive(ladder, "repeat", ladder.repeat)
            self._positive(ladder, "attempts", ladder.attempts)
            if ladder.pause < 0:
                self.error(ladder.where("pause"), "pause is 0 or more seconds")
            self.ladders[name] = Ladder(
                name, tuple(contacts), ladder.repeat, ladder.attempts, ladder.pause
            )
        self.priorities = dict(shared.priorities)
        for name, value in shared.priorities.items():
            if value < 0:
                self.error(shared.where(f"priorities[{name}]"), "a priority is 0 or more")
        for name in shared.calendars:
            self._calendar(name, shared.calendars, ())

    def _prompt(self, name: str, spec: s.PromptSpec) -> Prompt:
        if (spec.file is None) == (spec.text is None):
            self.error(spec.at, f"prompt {name!r}: give either file or text")
        return Prompt(name, spec.file, spec.text)

    # -- clients ------------------------------------------------------------------------

    def _client(self, spec: s.ClientSpec, rel: str) -> Client | None:
        client_id = spec.id or Path(rel).stem
        if spec.id is None and not rel.startswith("clients/"):
            self.error(spec.at, "a client in a single rules file needs an id")
            return None
        zone = self._zone(spec)
        if zone is None:
            return None
        card = ClientCard(
            client_id, spec.name, spec.language, spec.timezone, spec.greeting, spec.instructions
        )
        numbers = []
        for i, number in enumerate(spec.numbers):
            if self._digits(spec.where(f"numbers[{i}]"), number):
                numbers.append(number)
        if not spec.numbers:
            self.warn(spec.where("numbers"), f"client {client_id!r} has no numbers")
        schedule = self._schedule(spec)
        book = self._book(spec)
        prompts = {name: self._prompt(name, p) for name, p in spec.prompts.items()}
        callers: dict[str, tuple[set[str], list[str]]] = {}
        for name, patterns in spec.callers.items():
            exact: set[str] = set()
            prefixes: list[str] = []
            for j, pattern in enumerate(patterns):
                self._pattern(spec.where(f"callers[{name}][{j}]"), pattern, exact, prefixes)
            callers[name] = (exact, prefixes)
        found = staff.people(spec, self.error)
        ctx = ClientContext(client_id, rel, spec, prompts, callers, found)
        menus = {name: self._menu(name, m, ctx) for name, m in spec.menus.items()}
        rules = tuple(self._rule(i, r, ctx) for i, r in enumerate(spec.rules))
        self._rule_warnings(rules, spec)
        perimeter.check_client(spec, client_id, self.error)
        script = None
        if spec.script is not None:
            script = compile_script(
                spec.script, found, self.ladders, self.error, on_call=spec.on_call is not None
            )
        own = None
        if spec.retention is not None:  # what it does not say is the center's
            own = perimeter.retention(spec.retention, self._center, self.error)
        return Client(
            client_id,
            card,
            rel,
            zone,
            tuple(numbers),
            rules,
            schedule,
            book,
            menus,
            prompts,
            spec.dial_allow,
            spec.dial_deny,
            spec.escalate_withheld,
            own,
            found,
            staff.screening(spec, callers, found, self.error),
            script,
            compile_dispatch(
                spec.dispatch, script.fields if script else (), CATEGORIES, self.error
            ),
            compile_on_call(spec.on_call, zone, found, self.error) if spec.on_call else None,
        )

    def _menu(self, name: str, spec: s.MenuSpec, ctx: ClientContext) -> Menu:
        self._prompt_ref(spec.where("prompt"), spec.prompt, ctx)
        if spec.invalid is not None:
            self._prompt_ref(spec.where("invalid"), spec.invalid, ctx)
        options: dict[str, tuple[Target, ...]] = {}
        for key, chain in spec.options.items():
            options[key] = self._chain(chain, spec, f"options[{key}]", ctx)
        if not options:
            self.warn(spec.where("options"), f"menu {name!r} offers no options")
        default = self._chain(spec.default, spec, "default", ctx)
        self._positive(spec, "timeout", spec.timeout)
        self._positive(spec, "retries", spec.retries)
        return Menu(
            name,
            spec.prompt,
            options,
            default,
            spec.timeout,
            spec.retries,
            spec.invalid,
            f"{ctx.rel}: menus.{name}",
        )

    def _rule(self, index: int, spec: s.RuleSpec, ctx: ClientContext) -> Rule:
        priority = 0
        if spec.priority is not None:
            if spec.priority not in self.priorities:
                self.error(
                    spec.where("priority"),
                    unknown("priority level", spec.priority, self.priorities),
                )
            else:
                priority = self.priorities[spec.priority]
        condition = self._condition(spec.when, ctx)
        chain = self._chain(spec.to, spec, "to", ctx)
        if spec.priority is None and any(t.step.person for t in chain):
            # a caller put through straight away who is not answered comes back first
            priority = max(self.priorities.values(), default=0)
        static = None
        if all(t.window is None and t.menu is None for t in chain):
            static = tuple(t.step for t in chain)
        return Rule(
            index,
            spec.name,
            f"{ctx.rel}: rules[{index}]",
            spec.at,
            condition,
            chain,
            priority,
            static,
        )

    def _condition(self, when: s.WhenSpec, ctx: ClientContext) -> Condition:
        window = self._window(when, when.days, when.hours)
        exact: set[str] = set()
        prefixes: list[str] = []
        for i, name in enumerate(when.caller_in):
            if name not in ctx.callers:
                self.error(when.where(f"caller_in[{i}]"), unknown("caller list", name, ctx.callers))
                continue
            exact.update(ctx.callers[name][0])
            prefixes.extend(ctx.callers[name][1])
        for i, pattern in enumerate(when.caller):
            self._pattern(when.where(f"caller[{i}]"), pattern, exact, prefixes)
        if when.repeat_within is not None:
            self._positive(when, "repeat_within", when.repeat_within)
        return Condition(
            open=when.open,
            holiday=when.holiday,
            window=window,
            callers=frozenset(exact),
            prefixes=tuple(sorted(set(prefixes), key=len, reverse=True)),
            withheld=when.withheld,
            repeat_within=when.repeat_within,
        )

    def _pattern(self, where: Where, pattern: str, exact: set[str], prefixes: list[str]) -> None:
        body = pattern[:-1] if pattern.endswith("*") else pattern
        if not body.isdigit() or not body.isascii():
            self.error(where, f"caller {pattern!r}: digits, with an optional trailing *")
        elif pattern.endswith("*"):
            prefixes.append(body)
        else:
            exact.add(body)

    def _window(
        self, spec: s.Spec, days: str | None, hours: tuple[str, ...] | None
    ) -> Window | None:
        if days is None and hours is None:
            return None
        mask = 0x7F
        ranges: list[tuple[int, int]] = []
        if days is not None:
            try:
                mask = days_mask(parse_days(days))
            except ClockError as exc:
                self.error(spec.where("days"), str(exc))
        for i, text in enumerate(hours or ()):
            try:
                first, last = parse_range(text)
            except ClockError as exc:
                self.error(spec.where(f"hours[{i}]"), str(exc))
                continue
            if last > first:
                ranges.append((first, last))
            else:  # past midnight: the evening part and the early-morning part
                ranges.extend([(first, MINUTES_PER_DAY), (0, last)])
        return Window(mask, tuple(ranges))

    def _rule_warnings(self, rules: tuple[Rule, ...], spec: s.ClientSpec) -> None:
        catch_all: Rule | None = None
        for rule in rules:
            if catch_all is not None:
                self.warn(
                    rule.at,
                    f"rule can never match: rules[{catch_all.index}] before it matches every call",
                )
                continue
            if rule.condition.catch_all:
                catch_all = rule
        if not rules:
            self.warn(spec.where("name"), "no rules: calls ring the fallback group, then a message")

    # -- small checks -------------------------------------------------------------------

    def _prompt_ref(self, where: Where, name: str, ctx: ClientContext) -> None:
        if name not in ctx.prompts and name not in self.prompts:
            self.error(where, unknown("prompt", name, {**self.prompts, **ctx.prompts}))

    def _digits(self, where: Where, number: str) -> bool:
        if not (number.isdigit() and number.isascii()):
            self.error(where, f"number {number!r}: digits only (no +, spaces or dashes)")
            return False
        return True

    def _positive(self, spec: s.Spec, key: str, value: int) -> None:
        if value <= 0:
            self.error(spec.where(key), f"{key}: must be more than 0")


def _order(p: Problem) -> tuple[str, int, int]:
    return (p.file, p.line, p.column)
