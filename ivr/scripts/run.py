"""One script being gone through on a call: the answers so far, the step shown, and what a
submitted step leads to. Pure apart from the clock it is given: the console keeps one per
call while the operator works through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.i18n import tr
from ivr.records.fields import Answer
from ivr.routing.script import End, Script

FIELD_PREFIX = "f-"  # the form's input names: f-<field id>


@dataclass
class Draft:
    """The operator's work on one call's script."""

    linkedid: str
    client_id: str
    at: str  # the step shown
    answers: dict[str, str] = field(default_factory=dict)
    trail: list[str] = field(default_factory=list)  # the steps passed, in order
    errors: dict[str, str] = field(default_factory=dict)  # field id -> what is wrong
    extra: tuple[str, ...] = ()  # message fields still wanted before the end
    end: End | None = None  # set once the script has ended


def problem_text(lang: str, code: str, label: str, help_text: str = "") -> str:
    """What the card says of a wrong answer, in the operator's language."""
    texts = {
        "required": tr(lang, "%(label)s is required.", label=label),
        "long": tr(lang, "%(label)s is too long.", label=label),
        "control": tr(lang, "%(label)s contains control characters.", label=label),
        "phone": tr(lang, "%(label)s: digits only, with an optional leading +.", label=label),
        "email": tr(lang, "%(label)s: an address like name@example.org.", label=label),
        "choice": tr(lang, "%(label)s: choose one of the options.", label=label),
        "yes-no": tr(lang, "%(label)s: yes or no.", label=label),
        "date-time": tr(lang, "%(label)s: a date and a time.", label=label),
        "number": tr(lang, "%(label)s: a number.", label=label),
        "pattern": tr(lang, "%(label)s is not in the expected form.", label=label),
        "message": tr(lang, "%(label)s: the message must carry it.", label=label),
    }
    text = texts.get(code, code)
    return f"{text} {help_text}".strip() if code == "pattern" and help_text else text


def start(script: Script, linkedid: str, client_id: str, callback: str) -> Draft:
    draft = Draft(linkedid, client_id, script.first)
    if "callback" in script.fields and callback:
        draft.answers["callback"] = callback  # the caller's number, as a starting point
    return draft


def submit(
    script: Script, draft: Draft, data: Mapping[str, str], lang: str, back: bool = False
) -> None:
    """The operator sent the step shown: check its answers, then go on, back, or end."""
    step = script.steps[draft.at]
    asked = [*step.ask, *draft.extra]
    for name in asked:
        draft.answers[name] = data.get(FIELD_PREFIX + name, "")
    if back:
        draft.errors, draft.extra = {}, ()
        if draft.trail:
            draft.at = draft.trail.pop()
        return
    draft.errors = {}
    for name in asked:
        fld = script.fields[name]
        value, problem = fld.check(draft.answers[name])
        draft.answers[name] = value
        if problem is not None:
            draft.errors[name] = problem_text(lang, problem, fld.label, fld.help)
    if draft.errors:
        return
    following = step.after(draft.answers)
    if isinstance(following, str):
        draft.trail.append(draft.at)
        draft.at, draft.extra = following, ()
        return
    kept = on_path(script, draft)
    missing = tuple(n for n in script.message_fields if n not in kept or not draft.answers.get(n))
    if missing:  # not asked on the way taken, or left empty: asked now, before the end
        draft.extra = tuple(n for n in missing if n not in step.ask)
        for name in missing:
            draft.errors[name] = problem_text(lang, "message", script.fields[name].label)
        return
    draft.end = following


def on_path(script: Script, draft: Draft) -> set[str]:
    """The fields asked on the way taken (an answer given on a branch left is not kept)."""
    steps = [*draft.trail, draft.at]
    return {n for s in steps for n in script.steps[s].ask} | set(draft.extra)


def answers_of(script: Script, draft: Draft, lang: str) -> list[Answer]:
    """The answers given, in the script's order of fields: what is stored with the call.
    `lang`: the client's language, the one its labels are written in (a yes is "sì")."""
    kept = on_path(script, draft)
    out = []
    for name, label in script.columns():
        value = draft.answers.get(name, "")
        if name not in kept or not value:
            continue
        shown = script.fields[name].shown(value)
        if script.fields[name].type == "yes-no":
            shown = tr(lang, value)
        out.append(Answer(name, label, value, shown))
    return out
