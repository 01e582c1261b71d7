"""What the operator says at each step, as the client's admin last wrote it in the area
(versioned and audited with the client's other texts); the file's text otherwise."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ivr.routing.script import Script, ScriptStep, placeholders
from ivr.selfservice.store import Sessions, current

KIND = "script"
SAY_MAX = 1000


async def says_for(sessions: Sessions, client_id: str) -> dict[str, str]:
    """step id -> the admin's text, for the steps it rewrote."""
    found = await current(sessions, client_id, KIND)
    says = found.data.get("say", {}) if found is not None else {}
    return {str(k): str(v) for k, v in says.items()} if isinstance(says, dict) else {}


def with_says(step: ScriptStep, says: Mapping[str, str]) -> ScriptStep:
    text = says.get(step.id)
    return step if text is None else dataclasses.replace(step, say=text)


def problem(script: Script, text: str) -> str:
    """Why an admin's text cannot be used ("" when it can): a code the page translates."""
    if len(text) > SAY_MAX:
        return "long"
    if any(ord(c) < 32 and c not in "\n\t" for c in text) or "\u2028" in text:
        return "control"
    known = {"operator", "caller", *script.fields}
    if any(name not in known for name in placeholders(text)):
        return "placeholder"
    return ""
