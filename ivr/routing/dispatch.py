"""How a client's messages leave the center: rules by category, urgency or a script's answer
that say which ways each message goes (an email at once, only the daily report, the client's
own system by webhook, a text). The spec (decoded from the client's file), what it compiles
to, and the pure choice for one message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal

from ivr.routing.source import OneOrMany, Spec, Where, doc

# What an operator's message is about (the console's outcome form offers these).
CATEGORIES = ("message", "callback", "appointment", "order", "complaint", "other")
Channel = Literal["email", "digest", "webhook", "sms"]
# No rule matches (or none written): the users' emails as they chose, and the client's webhook
# when its admin has set one.
DEFAULT: frozenset[str] = frozenset({"email", "digest", "webhook"})
Values = Annotated[tuple[str, ...], OneOrMany]


@dataclass(frozen=True, kw_only=True)
class DispatchWhenSpec(Spec):
    """All the conditions written must hold; none at all: every message."""

    category: Values = field(
        default=(), metadata=doc("The message's category: message, callback, order...")
    )
    urgent: bool | None = field(default=None, metadata=doc("The message is urgent (or not)."))
    answers: dict[str, Values] = field(
        default_factory=dict, metadata=doc("A script's field -> one of these values.")
    )


@dataclass(frozen=True, kw_only=True)
class DispatchSpec(Spec):
    when: DispatchWhenSpec = field(default_factory=DispatchWhenSpec, metadata=doc("Conditions."))
    send: Annotated[tuple[Channel, ...], OneOrMany] = field(
        metadata=doc(
            "email: the users who want each message are emailed at once; digest: only in the"
            " daily report (at each user's hour); webhook: the client's own system; sms: a"
            " text (needs a provider)."
        )
    )


@dataclass(frozen=True)
class DispatchRule:
    categories: frozenset[str]
    urgent: bool | None
    answers: tuple[tuple[str, frozenset[str]], ...]
    send: frozenset[str]

    def matches(self, category: str, urgent: bool, answers: Mapping[str, str]) -> bool:
        if self.categories and category not in self.categories:
            return False
        if self.urgent is not None and self.urgent != urgent:
            return False
        return all(answers.get(name, "") in values for name, values in self.answers)


def choose(
    rules: tuple[DispatchRule, ...], category: str, urgent: bool, answers: Mapping[str, str]
) -> frozenset[str]:
    """The ways one message goes: the first rule that matches decides."""
    for rule in rules:
        if rule.matches(category, urgent, answers):
            return rule.send
    return DEFAULT


def compile_dispatch(
    specs: tuple[DispatchSpec, ...],
    fields: Collection[str],
    categories: Collection[str],
    error: Callable[[Where, str], None],
) -> tuple[DispatchRule, ...]:
    from ivr.routing.compiling import unknown  # (it reads spec.py, which reads this module)

    out = []
    for spec in specs:
        when = spec.when
        for i, category in enumerate(when.category):
            if category not in categories:
                error(when.where(f"category[{i}]"), unknown("category", category, categories))
        for name in when.answers:
            if name not in fields:
                error(when.where(f"answers{{{name}}}"), unknown("script field", name, fields))
        if "sms" in spec.send:
            error(spec.where("send"), "sms: no text-message provider is configured")
        out.append(
            DispatchRule(
                frozenset(when.category),
                when.urgent,
                tuple((n, frozenset(v)) for n, v in when.answers.items()),
                frozenset(spec.send) - {"sms"},
            )
        )
    return tuple(out)
