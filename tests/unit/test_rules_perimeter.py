"""What a rules file may not say: control characters, values that would bend Asterisk's
config or a Dial() string, reserved ids; and the dial policy and retention it may say.
Every refusal names FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from ivr.dialpolicy import DialPolicy, check
from ivr.routing import RulesError, load_rules
from ivr.routing.model import Retention

SHARED = """\
fallback_group: fallback
operators:
  op1: {name: Anna}
groups:
  fallback: {members: [op1]}
ladders:
  night:
    contacts: [{name: Mario, number: "3331234567"}]
"""
CLIENT = """\
name: Rossi
numbers: ["0611111111"]
rules:
  - to: [fallback, {escalate: night}]
"""


def write(tmp_path: Path, shared: str = SHARED, client: str = CLIENT) -> Path:
    (tmp_path / "shared.yaml").write_text(dedent(shared))
    (tmp_path / "clients").mkdir(exist_ok=True)
    (tmp_path / "clients" / "rossi.yaml").write_text(dedent(client))
    return tmp_path


def problems(path: Path) -> list[str]:
    with pytest.raises(RulesError) as info:
        load_rules(path)
    return [str(p).removeprefix(f"{path}/") for p in info.value.problems]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (
            "op1: {name: Anna}",
            'op1: {name: "Anna\\n[trunk]\\ntype=endpoint"}',
            "shared.yaml:3:15: name 'Anna\\n[trunk]\\ntype=endpoint': one line, no quotes,"
            " angle brackets or backslashes",
        ),
        (
            "op1: {name: Anna}",
            'op1: {name: Anna, endpoint: "op1&PJSIP/00881234567@trunk"}',
            "shared.yaml:3:31: endpoint 'op1&PJSIP/00881234567@trunk': one word: letters,"
            " digits, _ . - (not first)",
        ),
        (
            "op1: {name: Anna}",
            'op1: {name: "Anna \\"the boss\\""}',
            "shared.yaml:3:15: name 'Anna \"the boss\"': one line, no quotes, angle brackets"
            " or backslashes",
        ),
        (
            '[{name: Mario, number: "3331234567"}]',
            '[{name: Mario, number: "3331234567;x"}]',
            "shared.yaml:8:38: number '3331234567;x': digits, with an optional leading +",
        ),
        (
            '[{name: Mario, number: "3331234567"}]',
            '[{name: "Mario\\r\\nBcc: x@y", number: "3331234567"}]',
            "shared.yaml:8:23: name 'Mario\\r\\nBcc: x@y': must match",
        ),
    ],
)
def test_values_that_could_inject_are_refused_where_written(
    tmp_path: Path, before: str, after: str, expected: str
) -> None:
    found = problems(write(tmp_path, SHARED.replace(before, after)))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_control_characters_are_refused_in_any_text(tmp_path: Path) -> None:
    client = CLIENT + 'greeting: "Buongiorno\\u001b[2J"\n'
    assert problems(write(tmp_path, client=client)) == [
        "clients/rossi.yaml:5:11: greeting 'Buongiorno\\x1b[2J': must match"
        " ^[^\\x00-\\x08\\x0b-\\x1f\\x7f]*$"
    ]


def test_a_prompt_file_may_not_climb_out_of_the_sounds(tmp_path: Path) -> None:
    shared = SHARED + "prompts:\n  p: {file: ../../../etc/shadow}\n"
    [found] = problems(write(tmp_path, shared))
    assert found.startswith("shared.yaml:10:13: file '../../../etc/shadow': a sound's name")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("op1: {name: Anna}", "trunk: {name: Anna}", "shared.yaml:3:3: operator id 'trunk'"),
        ("op1: {name: Anna}", "Supervisor: {name: Anna}", "shared.yaml:3:3: operator id"),
        (
            "op1: {name: Anna}",
            "op1: {name: Anna, endpoint: trunk}",
            "shared.yaml:3:31: endpoint 'trunk'",
        ),
        ("fallback: {members: [op1]}", "general: {members: [op1]}", "shared.yaml:5:3: group id"),
    ],
)
def test_reserved_ids_are_refused(tmp_path: Path, before: str, after: str, expected: str) -> None:
    shared = SHARED.replace(before, after).replace("fallback_group: fallback", "fallback_group: x")
    found = problems(write(tmp_path, shared, "name: Rossi\nnumbers: ['0611111111']\n"))
    assert any(p.startswith(expected) and "is a reserved name" in p for p in found), found


def test_the_dial_policy_and_the_clients_prefixes_are_read(tmp_path: Path) -> None:
    shared = SHARED + dedent("""\
        dial_policy:
          allow: [landline, mobile, toll-free]
          deny_prefixes: ["+39333"]
        """)
    client = CLIENT + 'dial_allow: ["+41"]\ndial_deny: ["+39334"]\n'
    rules = load_rules(write(tmp_path, shared, client))

    center = rules.dial_policy_for(None)
    rossi = rules.dial_policy_for("rossi")
    assert check(center, "800123456") and not check(center, "333 1234567")
    assert not check(center, "+41 44 123 45 67") and check(rossi, "+41 44 123 45 67")
    assert check(center, "334 1234567") and not check(rossi, "334 1234567")
    assert rules.warnings != ()  # the ladder's contact (3331234567) will never be called
    assert "will not be called: refused by prefix +39333" in str(rules.warnings[0])


def test_default_policy_is_italian_landlines_and_mobiles(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path))
    assert rules.dial_policy == DialPolicy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dial_policy: {allow: [everything]}", "shared.yaml:9:23: dial_policy.allow[0]: expected"),
        ('dial_policy: {deny_prefixes: ["39899"]}', "shared.yaml:9:31: deny_prefixes '39899'"),
    ],
)
def test_a_malformed_dial_policy_names_its_place(tmp_path: Path, text: str, expected: str) -> None:
    [found] = problems(write(tmp_path, SHARED + text + "\n"))
    assert found.startswith(expected), found


def test_forward_to_a_refused_number_is_a_warning_at_its_place(tmp_path: Path) -> None:
    client = CLIENT.replace("{escalate: night}", '{forward: "899123456"}')
    rules = load_rules(write(tmp_path, client=client))
    assert [str(w).removeprefix(f"{tmp_path}/") for w in rules.warnings] == [
        "clients/rossi.yaml:4:30: warning: never forwarded: premium numbers are refused",
    ]


def test_retention_center_default_and_client_override(tmp_path: Path) -> None:
    shared = SHARED + "retention: {recordings: 30}\n"
    client = CLIENT + "retention: {numbers: 7}\nescalate_withheld: true\n"
    rules = load_rules(write(tmp_path, shared, client))
    assert rules.retention == Retention(recordings=30, messages=365, numbers=365)
    assert rules.retention_for("rossi") == Retention(recordings=30, messages=365, numbers=7)
    assert rules.retention_for(None) == rules.retention
    assert rules.clients["rossi"].escalate_withheld is True
    bad = problems(write(tmp_path, SHARED + "retention: {messages: 0}\n", CLIENT))
    assert bad == ["shared.yaml:9:23: messages: at least 1 day"]
