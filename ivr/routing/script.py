"""A client's compiled script: its fields, how an answer is checked, and where the answers
lead. Pure: no I/O, no words for users (problems are codes the console translates).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from ivr.routing.patterns import CONTROLS, EMAIL

YES_NO = ("yes", "no")
LIMITS = {"text": 2000, "address": 300, "email": 254, "phone": 32, "number": 30}
_PHONE = re.compile(r"^\+?[0-9][0-9 ./-]{2,30}$")
_EMAIL = re.compile(EMAIL)
_CONTROL = re.compile(f"[{CONTROLS}]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]*)\}")
DATE_TIME = "%Y-%m-%dT%H:%M"  # what a browser's datetime-local box sends


@dataclass(frozen=True)
class Field:
    id: str
    type: str
    label: str
    required: bool = False
    pattern: str | None = None
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)

    def check(self, raw: str) -> tuple[str, str | None]:
        """The answer as stored, and a problem code (None: fine). Codes: required, long,
        control, phone, email, choice, yes-no, date-time, number, pattern."""
        value = raw.replace("\r\n", "\n").strip()
        if self.type != "text":
            value = " ".join(value.split()) if "\n" in value else value
        if not value:
            return "", "required" if self.required else None
        if len(value) > LIMITS.get(self.type, 200):
            return value, "long"
        bad = _CONTROL_BUT_LINES if self.type == "text" else _CONTROL
        if bad.search(value):
            return value, "control"
        if self.type == "phone" and not _PHONE.match(value):
            return value, "phone"
        if self.type == "email" and not _EMAIL.match(value):
            return value, "email"
        if self.type == "choice" and value not in dict(self.choices):
            return value, "choice"
        if self.type == "yes-no" and value not in YES_NO:
            return value, "yes-no"
        if self.type == "date-time":
            try:
                value = datetime.strptime(value, DATE_TIME).strftime(DATE_TIME)
            except ValueError:
                return value, "date-time"
        if self.type == "number":
            try:
                number = Decimal(value.replace(",", "."))
            except InvalidOperation:
                return value, "number"
            if not number.is_finite():
                return value, "number"
            value = format(number, "f")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return value, "pattern"
        return value, None

    def shown(self, value: str) -> str:
        """The answer as a person reads it: a choice's label rather than its value."""
        if self.type == "choice":
            return dict(self.choices).get(value, value)
        return value


@dataclass(frozen=True)
class End:
    """How a call ends: a message (always kept), maybe a put-through or a ladder."""

    message: bool = True
    put_through: str | None = None  # a person's id, or "on-call"
    ladder: str | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Branch:
    when: tuple[tuple[str, frozenset[str]], ...]  # every field holds one of its values
    goto: str | None = None
    end: End | None = None

    def taken(self, answers: Mapping[str, str]) -> bool:
        return all(answers.get(name, "") in values for name, values in self.when)


@dataclass(frozen=True)
class ScriptStep:
    id: str
    say: str
    ask: tuple[str, ...]
    branches: tuple[Branch, ...]
    goto: str | None  # the next step when no branch is taken (None: end)
    end: End | None

    def after(self, answers: Mapping[str, str]) -> str | End:
        """The step that follows, or how the call ends, once this step's answers are in."""
        for branch in self.branches:
            if branch.taken(answers):
                return branch.goto if branch.goto is not None else branch.end or End()
        if self.goto is not None:
            return self.goto
        return self.end or End()


@dataclass(frozen=True)
class Script:
    fields: dict[str, Field]
    steps: dict[str, ScriptStep]  # in the file's order; the first is where it starts
    message_fields: tuple[str, ...] = ()

    @property
    def first(self) -> str:
        return next(iter(self.steps))

    def path(self, answers: Mapping[str, str], until: str | None = None) -> list[str]:
        """The steps the answers lead through from the first, up to `until` if met, else
        to the step whose answers are not all in (or the last before an end)."""
        seen: list[str] = []
        at: str | End = self.first
        while isinstance(at, str) and at not in seen:
            seen.append(at)
            if at == until:
                break
            at = self.steps[at].after(answers)
        return seen

    def say(self, step: ScriptStep, operator: str, caller: str, answers: Mapping[str, str]) -> str:
        """What the operator says at `step`, placeholders filled in."""
        values = {"operator": operator, "caller": caller}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            field = self.fields.get(name)
            return field.shown(answers.get(name, "")) if field else match.group(0)

        return _PLACEHOLDER.sub(fill, step.say)

    def columns(self) -> list[tuple[str, str]]:
        """(field id, label) of every field, in the order they are first asked."""
        order = [name for step in self.steps.values() for name in step.ask]
        ids = list(dict.fromkeys([*order, *self.fields]))
        return [(name, self.fields[name].label) for name in ids]


def placeholders(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)
