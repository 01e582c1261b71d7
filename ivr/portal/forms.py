"""The outcome form: what an operator may save about a call, checked before it is stored.

Text is kept exactly as typed (it is escaped where it is shown, never cleaned here): a message
that contains markup is saved as the text it is, and the operator is told so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.i18n import tr
from ivr.routing.dispatch import CATEGORIES

__all__ = ["CATEGORIES", "OutcomeForm", "read_outcome"]

LIMITS = {"caller_name": 100, "callback": 32, "message": 2000}
_CALLBACK = re.compile(r"^\+?[0-9][0-9 ./-]{2,30}$")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!][^>]*>")


@dataclass
class OutcomeForm:
    linkedid: str = ""
    caller_name: str = ""
    callback: str = ""
    message: str = ""
    category: str = "message"
    urgent: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def callback_digits(self) -> str:
        """The number to call back, as it is dialled: digits, and a leading + if given."""
        plus = "+" if self.callback.startswith("+") else ""
        return plus + re.sub(r"[^0-9]", "", self.callback)


def category_labels(lang: str) -> dict[str, str]:
    return {
        "message": tr(lang, "message"),
        "callback": tr(lang, "call back"),
        "appointment": tr(lang, "appointment"),
        "order": tr(lang, "order"),
        "complaint": tr(lang, "complaint"),
        "other": tr(lang, "other"),
    }


def call_outcome_labels(lang: str) -> dict[str, str]:
    """What happened to a call (its record's outcome), as the card's history shows it."""
    return {
        "answered": tr(lang, "answered"),
        "message-left": tr(lang, "message left"),
        "abandoned": tr(lang, "abandoned"),
        "failed": tr(lang, "failed"),
        "in-progress": tr(lang, "in progress"),
    }


def read_outcome(data: Mapping[str, str], lang: str = "en") -> OutcomeForm:
    """The submitted form, checked; errors name the field and say what is wrong."""
    form = OutcomeForm(
        linkedid=str(data.get("linkedid", "")).strip(),
        caller_name=str(data.get("caller_name", "")).strip(),
        callback=str(data.get("callback", "")).strip(),
        message=str(data.get("message", "")).strip(),
        category=str(data.get("category", "")).strip(),
        urgent=str(data.get("urgent", "")).lower() in {"1", "on", "yes", "true"},
    )
    if not form.linkedid:
        form.errors["linkedid"] = tr(
            lang, "This form is not about a call: wait for a call, then save it."
        )
    labels = {
        "caller_name": tr(lang, "Caller's name"),
        "callback": tr(lang, "Callback number"),
        "message": tr(lang, "Message"),
    }
    for name, label in labels.items():
        value = getattr(form, name)
        if not value:
            form.errors[name] = tr(lang, "%(label)s is required.", label=label)
        elif len(value) > LIMITS[name]:
            form.errors[name] = tr(
                lang,
                "%(label)s is too long: %(length)d characters, at most %(most)d.",
                label=label,
                length=len(value),
                most=LIMITS[name],
            )
        elif any(ord(c) < 32 and c not in "\r\n\t" for c in value):
            form.errors[name] = tr(lang, "%(label)s contains control characters.", label=label)
    if "callback" not in form.errors and not _CALLBACK.match(form.callback):
        form.errors["callback"] = tr(
            lang,
            "Callback number: digits only, with an optional leading + (spaces, dots and "
            "dashes are allowed between digits).",
        )
    if form.category not in CATEGORIES:
        names = ", ".join(category_labels(lang).values())
        form.errors["category"] = tr(lang, "Category must be one of: %(names)s.", names=names)
    if "message" not in form.errors and _MARKUP.search(form.message):
        form.notes.append(
            tr(lang, "The message contains HTML-like text; it is saved and shown as plain text.")
        )
    return form
