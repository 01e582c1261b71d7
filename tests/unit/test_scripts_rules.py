"""A client's script in its rules file: loaded, walked, and refused with FILE:LINE:COL."""

from pathlib import Path

from test_rules_loader import CLIENT, problems, write

from ivr.routing import load_rules
from ivr.routing.script import End

SCRIPT = """\
people:
  anna: {name: Anna Bianchi, numbers: ["3331112222"]}
script:
  fields:
    ref: {type: text, label: Riferimento, required: true, pattern: "^MI-[0-9]{4}$"}
    kind: {type: choice, label: Tipo, choices: {buy: Acquisto, rent: Affitto}}
    budget: {type: number, label: Budget}
    when: {type: date-time, label: Quando}
    urgent: {type: yes-no, label: Urgente}
  message_fields: [ref, kind]
  steps:
    - id: start
      say: "Buongiorno, sono {operator}. Il riferimento?"
      ask: [ref, kind]
      branches:
        - when: {kind: rent}
          goto: rent
    - id: buy
      say: "Che budget ha per {ref}?"
      ask: [budget]
      end: {message: true}
    - id: rent
      ask: [urgent, when]
      branches:
        - when: {urgent: "yes"}
          end: {put_through: anna, urgent: true}
        - when: {urgent: "no"}
          end: {ladder: night}
"""


def test_a_script_loads_and_walks(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, rossi=CLIENT + SCRIPT))
    script = rules.clients["rossi"].script
    assert script is not None
    assert script.first == "start"
    assert [c for c, _ in script.columns()] == ["ref", "kind", "budget", "urgent", "when"]
    assert script.steps["start"].after({"kind": "buy"}) == "buy"
    assert script.steps["start"].after({"kind": "rent"}) == "rent"
    assert script.steps["rent"].after({"urgent": "yes"}) == End(put_through="anna", urgent=True)
    assert script.steps["rent"].after({"urgent": "no"}) == End(ladder="night")
    assert script.steps["buy"].after({}) == End()
    assert script.path({"kind": "rent"}) == ["start", "rent"]
    assert script.path({"kind": "buy"}, until="start") == ["start"]
    step = script.steps["buy"]
    assert script.say(step, "Anna", "", {"ref": "MI-1234"}) == "Che budget ha per MI-1234?"


def test_answers_are_checked_by_type(tmp_path: Path) -> None:
    script = load_rules(write(tmp_path, rossi=CLIENT + SCRIPT)).clients["rossi"].script
    assert script is not None
    f = script.fields
    assert f["ref"].check("MI-1234") == ("MI-1234", None)
    assert f["ref"].check("MI-12") == ("MI-12", "pattern")
    assert f["ref"].check("  ") == ("", "required")
    assert f["kind"].check("sell")[1] == "choice"
    assert f["kind"].check("") == ("", None)
    assert f["budget"].check("250000,50") == ("250000.50", None)
    assert f["budget"].check("lots")[1] == "number"
    assert f["budget"].check("NaN")[1] == "number"
    assert f["when"].check("2026-12-09T10:30") == ("2026-12-09T10:30", None)
    assert f["when"].check("9/12")[1] == "date-time"
    assert f["urgent"].check("maybe")[1] == "yes-no"


def test_broken_scripts_are_refused_where_they_are_wrong(tmp_path: Path) -> None:
    broken = """\
script:
  fields:
    ref: {type: text, label: Rif, pattern: "MI-[0-9"}
    kind: {type: choice, label: Tipo}
    yn: {type: yes-no, label: Si, colour: red}
  message_fields: [ref, nope]
  steps:
    - id: a
      say: "Ciao {nobody}"
      ask: [ref, missing]
      branches:
        - when: {yn: maybe}
          goto: b
        - when: {ghost: x}
          goto: nowhere
    - id: b
      goto: a
    - id: c
      end: {put_through: zorro, ladder: unknown-ladder}
"""
    found = problems(write(tmp_path, rossi=CLIENT + broken))
    assert found == [
        "clients/rossi.yaml:14:35: script.fields.yn: unknown key 'colour'",
    ]
    broken = broken.replace(", colour: red", "")
    found = problems(write(tmp_path, rossi=CLIENT + broken))
    assert found == [
        "clients/rossi.yaml:12:44: pattern 'MI-[0-9' is not a regular expression:"
        " unterminated character set at position 3",
        "clients/rossi.yaml:13:18: choice field 'kind' lists no choices",
        "clients/rossi.yaml:15:25: unknown field 'nope'; known: kind, ref, yn",
        "clients/rossi.yaml:18:12: unknown placeholder {nobody}: {operator}, {caller} or a field",
        "clients/rossi.yaml:19:18: unknown field 'missing'; known: kind, ref, yn",
        "clients/rossi.yaml:21:22: yn is never 'maybe'; it is one of: yes, no",
        "clients/rossi.yaml:23:18: unknown field 'ghost'; known: kind, ref, yn",
        "clients/rossi.yaml:24:17: unknown step 'nowhere'; known: a, b, c",
        "clients/rossi.yaml:26:13: the script loops: a -> b -> a",
        "clients/rossi.yaml:27:11: step 'c' is unreachable: nothing leads to it",
        "clients/rossi.yaml:28:26: unknown person 'zorro'; no persons are defined (or 'on-call')",
        "clients/rossi.yaml:28:41: unknown ladder 'unknown-ladder'; known: night",
    ]


def test_ivr_check_names_a_looping_script(capsys, tmp_path: Path) -> None:
    import shutil

    from test_routing_cli import RULES, run

    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    plumber = rules / "clients" / "rossi-idraulica.yaml"
    text = plumber.read_text()
    line = text[: text.index("goto: note")].count("\n") + 1
    plumber.write_text(text.replace("goto: note", "goto: who"))
    code, out, err = run(capsys, "check", str(rules))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{plumber}:{line}:13: the script loops: who -> what -> who",
        "failed: 1 problem",
    ]


def test_dispatch_rules_choose_the_ways_out(tmp_path: Path) -> None:
    from ivr.routing.dispatch import DEFAULT, choose

    rules = """\
dispatch:
  - when: {urgent: true}
    send: [email, webhook]
  - when: {answers: {kind: rent}, category: [message, order]}
    send: digest
"""
    client = load_rules(write(tmp_path, rossi=CLIENT + SCRIPT + rules)).clients["rossi"]
    assert choose(client.dispatch, "message", True, {}) == {"email", "webhook"}
    assert choose(client.dispatch, "order", False, {"kind": "rent"}) == {"digest"}
    assert choose(client.dispatch, "complaint", False, {"kind": "rent"}) == DEFAULT
    broken = rules.replace("kind: rent", "nope: x").replace("order]", "gossip]")
    broken += "  - send: sms\n"
    assert problems(write(tmp_path, rossi=CLIENT + SCRIPT + broken)) == [
        "clients/rossi.yaml:41:22: unknown script field 'nope'; known: budget, kind, ref,"
        " urgent, when",
        "clients/rossi.yaml:41:52: unknown category 'gossip'; known: appointment, callback,"
        " complaint, message, order, other",
        "clients/rossi.yaml:43:11: sms: no text-message provider is configured",
    ]
