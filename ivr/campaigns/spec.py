"""The shape of a campaign file (routing_rules/campaigns/<id>.yaml), as frozen dataclasses.

The same machinery as the routing rules (ivr/routing/source.py): the type hints drive the
decoder (every problem as FILE:LINE:COL) and the published JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ivr.campaigns.terms_spec import BillingSpec
from ivr.routing.source import Spec, doc
from ivr.routing.spec import DIGITS, NAME, TIME_RANGE

DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
Kind = Literal["reminder", "appointment", "promotion"]
Mode = Literal["preview", "progressive", "ratio", "predictive"]
FieldType = Literal["text", "number", "date", "choice", "yesno"]


@dataclass(frozen=True, kw_only=True)
class PacingSpec(Spec):
    mode: Mode = field(
        default="progressive",
        metadata=doc(
            "preview: the operator sees the card, then presses call; progressive: one call per"
            " free operator (never a dropped call); ratio: several lines per free operator,"
            " adjusted so that dropped calls stay within the day's limit; predictive: as many"
            " lines as the answers to expect can be given an operator (each busy operator's"
            " chance of freeing in time, the inbound callers to expect), the drop limit aimed"
            " at evenly over the day (docs/occupancy.md)."
        ),
    )
    ratio: float = field(default=1.5, metadata=doc("ratio: lines per free operator to start."))
    max_ratio: float = field(
        default=3.0, metadata=doc("ratio and predictive: never more lines than this.")
    )
    ring: int = field(default=25, metadata=doc("Seconds a contact's phone rings."))
    preview_seconds: int = field(
        default=0,
        metadata=doc("preview: dial by itself after so many seconds; 0: the operator decides."),
    )


@dataclass(frozen=True, kw_only=True)
class AttemptsSpec(Spec):
    max: int = field(default=5, metadata=doc("Calls to one contact in the whole campaign."))
    per_day: int = field(default=2, metadata=doc("Calls to one contact in one day."))
    retry: dict[str, int] = field(
        default_factory=dict,
        metadata=doc(
            "Minutes before calling again after: no-answer, busy, unreachable, machine,"
            " hung-up, unknown (a dropped call always waits the days the law says).",
            keys=r"^(no-answer|busy|unreachable|machine|hung-up|unknown)$",
            keys_hint="no-answer, busy, unreachable, machine, hung-up or unknown",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class FieldSpec(Spec):
    label: str = field(metadata=doc("What the operator reads beside the field."))
    type: FieldType = field(default="text", metadata=doc("text, number, date, choice, yesno."))
    choices: tuple[str, ...] = field(default=(), metadata=doc("choice: the options."))
    required: bool = field(default=False, metadata=doc("The outcome cannot be saved without it."))


@dataclass(frozen=True, kw_only=True)
class SalespersonSpec(Spec):
    name: str = field(metadata=doc("As the contact is told it."))
    hours: dict[str, tuple[str, ...]] = field(
        metadata=doc(
            "When appointments may start: day(s) -> HH:MM-HH:MM, in the campaign's time zone.",
            pattern=TIME_RANGE,
        )
    )
    slot: int = field(default=60, metadata=doc("Minutes one appointment takes."))


@dataclass(frozen=True, kw_only=True)
class RecordingSpec(Spec):
    enabled: bool = field(default=False, metadata=doc("Record the answered calls."))
    announcement: str = field(
        default="",
        metadata=doc(
            "Words added after the fixed recording notice (which is always said first, in the"
            " campaign's language); never a replacement for it."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class CampaignSpec(Spec):
    id: str | None = field(
        default=None,
        metadata=doc("Campaign id; the file name without .yaml when absent.", pattern=NAME),
    )
    name: str = field(metadata=doc("What operators and the client read."))
    client: str = field(metadata=doc("The client the calls are made for (its id)."))
    kind: Kind = field(metadata=doc("reminder, appointment or promotion."))
    groups: tuple[str, ...] = field(metadata=doc("Operator groups that work the campaign."))
    caller_id: str = field(
        metadata=doc(
            "The number presented: one of the center's (not a client's), accepted by the dial"
            " policy; a call back to it reaches the callback IVR.",
            pattern=DIGITS,
        )
    )
    start: str | None = field(default=None, metadata=doc("First day (YYYY-MM-DD).", pattern=DATE))
    end: str | None = field(default=None, metadata=doc("Last day (YYYY-MM-DD).", pattern=DATE))
    timezone: str = field(
        default="Europe/Rome", metadata=doc("The contacts' time zone unless a row says another.")
    )
    hours: dict[str, tuple[str, ...]] | None = field(
        default=None,
        metadata=doc(
            "Calling window: day(s) -> HH:MM-HH:MM (mon-fri, sat, ...; eve: a day before a"
            " holiday). Absent: the center's defaults for the kind. Never on a holiday, and"
            " never wider than the law's floor for the kind (a wider file is refused).",
            pattern=TIME_RANGE,
        ),
    )
    calendars: tuple[str, ...] | None = field(
        default=None, metadata=doc("Holiday calendars; absent: the client's.")
    )
    pacing: PacingSpec = field(default_factory=PacingSpec, metadata=doc("How calls are placed."))
    attempts: AttemptsSpec = field(
        default_factory=AttemptsSpec, metadata=doc("How often one contact is called.")
    )
    amd: bool | None = field(
        default=None,
        metadata=doc(
            "Answering-machine detection: a machine is a retry and hears nothing; not sure: an"
            " operator. Absent: on for reminders, off for the other kinds."
        ),
    )
    own_customers: bool = field(
        default=False,
        metadata=doc(
            "The contacts are the client's own customers: a row with a customer_until date is"
            " called without the opposition-register check until own_customers_days after it"
            " (reminders never need one)."
        ),
    )
    language: str | None = field(
        default=None, metadata=doc("Language of what contacts hear; absent: the client's.")
    )
    script: str = field(default="", metadata=doc("What the operator says, shown on the card."))
    form: dict[str, FieldSpec] = field(
        default_factory=dict, metadata=doc("Extra fields of the outcome form.", keys=NAME)
    )
    recording: RecordingSpec = field(
        default_factory=RecordingSpec, metadata=doc("Recording and its announcement.")
    )
    callback: str = field(
        default="",
        metadata=doc(
            "What a contact calling back hears the call was about (never a debt);"
            " a default for the kind if empty. Reminders: always the catalogue's words."
        ),
    )
    salespeople: dict[str, SalespersonSpec] = field(
        default_factory=dict,
        metadata=doc("appointment: the client's salespeople and their calendars.", keys=NAME),
    )
    billing: BillingSpec | None = field(
        default=None,
        metadata=doc(
            "Paid per result: what a result is, its price bands, how long the client may"
            " contest a statement, and (appointments) the verification sample."
        ),
    )
