"""The shape of a client's script in its rules file: the steps an operator goes through on
a call, what is said at each, the typed fields asked, the branches on the answers and the
ends (take a message, put through a person, start a ladder, mark urgent).

Decoded and published in the JSON schema like every other spec class (spec.py); checked and
compiled by scriptload.py into the runtime Script of script.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from ivr.routing.patterns import LINE, NAME, TEXT
from ivr.routing.source import OneOrMany, Spec, doc

FieldType = Literal["text", "phone", "email", "choice", "yes-no", "date-time", "number", "address"]
ON_CALL = "on-call"  # a put-through end to whoever is on call now


@dataclass(frozen=True, kw_only=True)
class FieldSpec(Spec):
    """One answer the operator types in: what kind of value it is and how it is checked."""

    type: FieldType = field(default="text", metadata=doc("The kind of value."))
    label: str = field(metadata=doc("What the card shows beside the box.", pattern=LINE))
    required: bool = field(default=False, metadata=doc("The step cannot be left empty."))
    pattern: str | None = field(
        default=None,
        metadata=doc(
            "A regular expression the whole answer must match: ^MI-[0-9]{4}$.", compiled=True
        ),
    )
    help: str = field(default="", metadata=doc("Shown under the box.", pattern=TEXT))
    choices: dict[str, str] = field(
        default_factory=dict,
        metadata=doc("For a choice: value -> what the operator reads.", keys=NAME, pattern=LINE),
    )


@dataclass(frozen=True, kw_only=True)
class EndSpec(Spec):
    """How the call ends: a message is always kept; at most one of put_through and ladder."""

    message: bool = field(default=True, metadata=doc("Keep a message with the answers."))
    put_through: str | None = field(
        default=None,
        metadata=doc(
            "Put the caller through to this person of the client's, or to 'on-call': whoever"
            " is on call now."
        ),
    )
    ladder: str | None = field(
        default=None, metadata=doc("Start this escalation ladder (the message goes with it).")
    )
    urgent: bool = field(default=False, metadata=doc("Mark the message urgent."))


Values = Annotated[tuple[str, ...], OneOrMany]


@dataclass(frozen=True, kw_only=True)
class BranchSpec(Spec):
    """Taken when every field named in `when` holds one of its values."""

    when: dict[str, Values] = field(
        metadata=doc("field -> value, or a list of values (yes/no for a yes-no).", keys=NAME)
    )
    goto: str | None = field(default=None, metadata=doc("The step to go to."))
    end: EndSpec | None = field(default=None, metadata=doc("Or: how the call ends."))


@dataclass(frozen=True, kw_only=True)
class StepSpec(Spec):
    id: str = field(metadata=doc("The step's name (branches go to it).", pattern=NAME))
    say: str = field(
        default="",
        metadata=doc(
            "What the operator says; {operator}, {caller} and {field} are filled in.",
            pattern=TEXT,
        ),
    )
    ask: tuple[str, ...] = field(default=(), metadata=doc("The fields asked at this step."))
    branches: tuple[BranchSpec, ...] = field(
        default=(), metadata=doc("Tried in order once the step's answers are in.")
    )
    goto: str | None = field(
        default=None,
        metadata=doc("Where to go when no branch is taken; absent: the next step in the list."),
    )
    end: EndSpec | None = field(
        default=None,
        metadata=doc("Or: how the call ends when no branch is taken (the last step: a message)."),
    )


@dataclass(frozen=True, kw_only=True)
class ScriptSpec(Spec):
    """What the operator asks on a call for this client, in place of the plain message form."""

    fields: dict[str, FieldSpec] = field(
        metadata=doc(
            "field id -> field. caller_name and callback fill the message's caller and"
            " number to call back.",
            keys=NAME,
        )
    )
    steps: tuple[StepSpec, ...] = field(metadata=doc("The steps; the first is where it starts."))
    message_fields: tuple[str, ...] = field(
        default=(),
        metadata=doc("The fields a message must carry (answered, whichever way was taken)."),
    )
