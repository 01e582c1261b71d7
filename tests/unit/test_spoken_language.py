"""What people hear on the engine's calls follows the client's language: an escalation's
contacts and the person a caller is put through to."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from agi_scripts.escalation import language_of
from ivr.escalation import speech as escalation
from ivr.escalation.store import RunRecord
from ivr.putthrough import speech as putthrough


def run(**changes: Any) -> RunRecord:
    values: dict[str, Any] = dict(
        id=7, key="k", linkedid="1.1", client_id="studio", client_name="Studio Rossi",
        ladder="urgent", plan=None, message_path="/m/1.1.wav", caller_name="Maria Bianchi",
        callback="0612345678", started_at=datetime(2026, 7, 1, tzinfo=UTC), status="running",
        ended_at=None, acknowledged_at=None, acknowledged_by=None, mailed_at=None,
        mail_result=None,
    )  # fmt: skip
    values.update(changes)
    return RunRecord(**values)


def test_escalation_prompts_speak_the_clients_language() -> None:
    italian = escalation.intro_text(run(), "it")
    assert italian == (
        "Messaggio urgente per Studio Rossi. Da Maria Bianchi. "
        "Numero da richiamare: 0 6 1 2 3 4 5 6 7 8. Segue il messaggio."
    )
    assert escalation.intro_text(run(), "en").startswith("Urgent message for Studio Rossi.")
    assert escalation.menu("it").text is not None and escalation.menu("it").text.startswith(
        "Prema 1 per confermare"
    )
    assert escalation.thanks("en").text == "Thank you. The message is acknowledged. Goodbye."
    # The same prompt in two languages is two files (cached by language and text).
    assert escalation.menu("it").text != escalation.menu("en").text


def test_the_contacts_hear_the_language_of_the_client_of_the_run() -> None:
    card = SimpleNamespace(language="en")
    services: Any = SimpleNamespace(
        rules=SimpleNamespace(current=SimpleNamespace(clients={"shop": SimpleNamespace(card=card)}))
    )
    assert language_of(services, "shop") == "en"
    assert language_of(services, "gone") == "it"  # a client no longer in the rules
    assert language_of(services, None) == "it"


def test_the_person_hears_who_calls_and_why_in_the_clients_language() -> None:
    client = SimpleNamespace(card=SimpleNamespace(name="Studio Rossi", language="it"))
    t: Any = SimpleNamespace(
        language="it", client=client, who="", why="il bilancio", caller_number="0612000100"
    )
    assert putthrough.announcement_text(t) == (
        "Una chiamata per Studio Rossi da numero 0 6 1 2 0 0 0 1 0 0. Motivo: il bilancio. "
        "Prema 1 per prendere la chiamata, 2 per rifiutarla."
    )
    t.language, t.why, t.caller_number = "en", "", ""
    assert putthrough.announcement_text(t) == (
        "A call for Studio Rossi from a caller who withheld the number. "
        "Press 1 to take the call, 2 to decline it."
    )
