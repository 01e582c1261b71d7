"""load_rules() refuses bad rules and says exactly where: FILE:LINE:COL, 1-based."""

from pathlib import Path
from textwrap import dedent

import pytest

from ivr.routing import RulesError, load_rules

SHARED = """\
fallback_group: fallback
operators:
  op1: {name: Anna, languages: [it, en], skills: [plumbing]}
  op2: {name: Bruno, languages: [it]}
groups:
  day: {members: [op1, op2]}
  fallback: {members: [op2]}
calendars:
  italy:
    holidays:
      - {date: "12-25", name: Natale}
prompts:
  menu: {text: "Premere 1"}
ladders:
  night:
    contacts: [{name: Mario, number: "3331234567"}]
"""

CLIENT = """\
name: Rossi
numbers: ["0611111111"]
timezone: Europe/Rome
hours:
  mon-fri: ["08:00-18:00"]
rules:
  - when: {open: true}
    to: day
  - to: message
"""


def write(tmp_path: Path, shared: str = SHARED, **clients: str) -> Path:
    (tmp_path / "shared.yaml").write_text(dedent(shared))
    (tmp_path / "clients").mkdir(exist_ok=True)
    for name, text in clients.items():
        (tmp_path / "clients" / f"{name}.yaml").write_text(dedent(text))
    return tmp_path


def problems(path: Path) -> list[str]:
    with pytest.raises(RulesError) as info:
        load_rules(path)
    prefix = str(path) + "/"
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.problems)
    return [line.removeprefix(prefix) for line in lines]


def test_valid_rules_load(tmp_path):
    rules = load_rules(write(tmp_path, rossi=CLIENT))
    assert rules.number_index == {"0611111111": "rossi"}
    assert rules.warnings == ()
    assert rules.clients["rossi"].rules[0].where == "clients/rossi.yaml: rules[0]"


def test_unknown_key_names_the_typo_and_suggests_the_key(tmp_path):
    text = CLIENT.replace("timezone:", "timezon:")
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:3:1: unknown key 'timezon' (did you mean 'timezone'?)"
    ]


def test_nested_unknown_key_points_at_the_key(tmp_path):
    text = CLIENT.replace("when: {open: true}", "when: {opne: true}")
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:7:12: rules[0].when: unknown key 'opne' (did you mean 'open'?)"
    ]


def test_number_claimed_by_two_clients(tmp_path):
    other = CLIENT.replace("Rossi", "Verdi")
    assert problems(write(tmp_path, rossi=CLIENT, verdi=other)) == [
        "clients/verdi.yaml:2:11: number 0611111111 is already claimed at "
        f"{tmp_path}/clients/rossi.yaml:2:11"
    ]


def test_unknown_references(tmp_path):
    text = dedent("""\
        name: Rossi
        numbers: ["0611111111"]
        calendars: [italia]
        menus:
          night:
            prompt: menu-it
            options:
              "1": {escalate: nigth}
        rules:
          - to: [{group: dya}, {operator: op9}, {menu: night}]
            priority: top
        """)
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:3:13: unknown calendar 'italia'; known: italy",
        "clients/rossi.yaml:6:13: unknown prompt 'menu-it'; known: menu",
        "clients/rossi.yaml:8:23: unknown ladder 'nigth'; known: night",
        "clients/rossi.yaml:10:18: unknown group 'dya'; known: day, fallback",
        "clients/rossi.yaml:10:35: unknown operator 'op9'; known: op1, op2",
        "clients/rossi.yaml:11:15: unknown priority level 'top'; known: high, normal, urgent, vip",
    ]


def test_malformed_times_and_days(tmp_path):
    text = CLIENT.replace(
        'mon-fri: ["08:00-18:00"]', 'mon-fry: ["08:00-18:00"]\n  sat: ["8h-12:00", "09:00-25:00"]'
    )
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:5:3: malformed days 'mon-fry': expected mon..sun, a range like "
        "mon-fri, daily, weekdays or weekend, separated by commas",
        "clients/rossi.yaml:6:9: malformed time '8h': expected HH:MM",
        "clients/rossi.yaml:6:21: malformed time '25:00': no such time of day",
    ]


def test_wrong_types(tmp_path):
    text = CLIENT.replace('numbers: ["0611111111"]', "numbers: {a: 1}").replace(
        "rules:", "greeting: [hello]\nrules:"
    )
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:2:10: numbers: expected a list, got a mapping",
        "clients/rossi.yaml:6:11: greeting: expected a string, got a list",
    ]


def test_unquoted_numbers_and_times_keep_their_text(tmp_path):
    # YAML 1.1 would read 0611111111 as an octal integer and 12:30 as 750: not here.
    text = CLIENT.replace('["0611111111"]', "[0611111111]").replace(
        '["08:00-18:00"]', "[08:00-12:30, 14:00-18:00]"
    )
    rules = load_rules(write(tmp_path, rossi=text))
    assert rules.number_index == {"0611111111": "rossi"}
    assert [s.label for s in rules.clients["rossi"].schedule.shifts[:2]] == [
        "08:00-12:30",
        "14:00-18:00",
    ]


def test_number_with_a_plus_is_refused(tmp_path):
    text = CLIENT.replace('"0611111111"', '"+39 0611111111"')
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:2:11: number '+39 0611111111': digits only (no +, spaces or dashes)"
    ]


def test_shared_problems(tmp_path):
    shared = (
        SHARED.replace("fallback_group: fallback", "fallback_group: nobody")
        .replace("members: [op1, op2]", "members: [op1, op7]")
        .replace("strategy", "x")
    )
    shared = shared.replace("prompts:", "  loop:\n    include: [loop]\nprompts:")
    assert problems(write(tmp_path, shared, rossi=CLIENT)) == [
        "shared.yaml:1:17: fallback_group: unknown group 'nobody'; known: day, fallback",
        "shared.yaml:6:24: unknown operator 'op7'; known: op1, op2",
        "shared.yaml:13:15: calendar 'loop' includes itself through 'loop'",
    ]


def test_missing_required_key_points_at_the_mapping(tmp_path):
    text = CLIENT.replace('numbers: ["0611111111"]\n', "")
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:1:1: missing key 'numbers'"
    ]


def test_yaml_syntax_error_has_its_position(tmp_path):
    text = CLIENT.replace('numbers: ["0611111111"]', 'numbers: ["0611111111"')
    found = problems(write(tmp_path, rossi=text))
    assert len(found) == 1
    assert found[0].startswith("clients/rossi.yaml:3:")
    assert "YAML syntax" in found[0]


def test_a_step_has_exactly_one_destination(tmp_path):
    text = CLIENT.replace("to: day", 'to: {group: day, forward: "333"}')
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:8:9: a step has exactly one of group, operator, message, "
        "escalate, announce, forward, menu, put_through, hangup; got group and forward"
    ]


def test_bad_holidays(tmp_path):
    text = dedent("""\
        name: Rossi
        numbers: ["0611111111"]
        closures:
          - {date: "02-30", name: nope}
          - {name: neither}
          - {date: "2025-08-20", through: "2025-08-10", name: backwards}
        """)
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:4:12: malformed date '02-30': no such day",
        "clients/rossi.yaml:5:5: holiday 'neither': give either date or easter",
        "clients/rossi.yaml:6:35: through is before date",
    ]


def test_bad_menu_key(tmp_path):
    text = dedent("""\
        name: Rossi
        numbers: ["0611111111"]
        menus:
          m:
            prompt: menu
            options: {"12": message}
        rules:
          - to: {menu: m}
        """)
    assert problems(write(tmp_path, rossi=text)) == [
        "clients/rossi.yaml:6:15: options: '12' is not allowed here: one key, 0-9, * or #",
    ]


def test_warnings_do_not_stop_loading(tmp_path):
    shared = SHARED.replace(
        "  fallback: {members: [op2]}", "  fallback: {members: [op2]}\n  spare: {members: []}"
    )
    text = dedent("""\
        name: Rossi
        numbers: ["0611111111"]
        hours: {mon: []}
        rules:
          - to: day
          - when: {open: true}
            to: message
          - to: [{group: day, language: de}, message]
        """)
    rules = load_rules(write(tmp_path, shared, rossi=text))
    assert [str(w).removeprefix(f"{tmp_path}/") for w in rules.warnings] == [
        "clients/rossi.yaml:3:8: warning: these hours never open: every call is closed",
        "clients/rossi.yaml:6:5: warning: rule can never match: "
        "rules[0] before it matches every call",
        "clients/rossi.yaml:8:5: warning: rule can never match: "
        "rules[0] before it matches every call",
        "clients/rossi.yaml:8:10: warning: no operator in group 'day' has language 'de': "
        "this step is skipped",
        "shared.yaml:8:20: warning: group 'spare' has no operators",
    ]


def test_missing_shared_file(tmp_path):
    (tmp_path / "clients").mkdir()
    assert problems(tmp_path) == ["shared.yaml:1:1: missing file"]


def test_single_file_form(tmp_path):
    client = "".join("    " + line + "\n" for line in CLIENT.splitlines())
    text = SHARED + "clients:\n  -\n" + "    id: rossi\n" + client
    path = tmp_path / "all.yaml"
    path.write_text(text)
    rules = load_rules(path)
    assert rules.number_index == {"0611111111": "rossi"}
    assert rules.clients["rossi"].rules[1].where == "all.yaml: rules[1]"
