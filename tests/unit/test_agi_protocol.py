"""The FastAGI wire format, checked against a model of what Asterisk's res_agi does with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.agi.call import split_script
from ivr.agi.protocol import (
    MAX_LINE_BYTES,
    AgiError,
    Token,
    format_command,
    parse_env,
    parse_reply,
    quote,
)
from ivr.agi.routes import dialplan_routes, route_table

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"


def asterisk_parse_args(line: str) -> list[str]:
    """res_agi.c parse_args(): backslash escapes the next character, a double quote toggles
    quoting (and opens a word), space or tab outside quotes ends a word."""
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in line:
        if char == "\\" and not escaped:
            escaped = True
            continue
        if char == '"' and not escaped:
            quoted = not quoted
            if current is None:
                current = []
            continue
        if char in " \t" and not quoted and not escaped:
            if current is not None:
                words.append("".join(current))
                current = None
            continue
        if current is None:
            current = []
        current.append(char)
        escaped = False
    if current is not None:
        words.append("".join(current))
    return words


def asterisk_reads(data: bytes) -> list[list[str]]:
    """Commands as run_agi() sees them: one per line, each split by parse_args()."""
    lines = data.decode().split("\n")
    assert lines[-1] == ""
    return [asterisk_parse_args(line) for line in lines[:-1]]


# -- quoting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a;b;c", '"a;b;c"'),
        ("line\nbreak", '"line break"'),
        ("crlf\r\nend", '"crlf  end"'),
        ("nul\0byte", '"nul byte"'),
        ("Zoë Ünïcødé ☎", '"Zoë Ünïcødé ☎"'),
        ("trailing\\", '"trailing\\\\"'),
        (42, '"42"'),
    ],
)
def test_quote(value: str | int, quoted: str) -> None:
    assert quote(value) == quoted


@pytest.mark.parametrize(
    "value",
    ['Evil "Bob"\nEXEC Dial PJSIP/x', "a\\", '\\"', "x\r\nHANGUP", "tab\there", "  spaces  "],
)
def test_hostile_value_stays_one_argument(value: str) -> None:
    line = format_command("SET VARIABLE", Token("IVR_CLIENT_NAME"), value)
    expected = value.replace("\r", " ").replace("\n", " ")
    assert asterisk_reads(line) == [["SET", "VARIABLE", "IVR_CLIENT_NAME", expected]]


@given(st.text())
def test_any_text_is_one_line_and_one_argument(value: str) -> None:
    line = format_command("SET VARIABLE", Token("X"), value)
    assert line.count(b"\n") == 1
    assert line.endswith(b"\n")
    expected = value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    assert asterisk_reads(line) == [["SET", "VARIABLE", "X", expected]]


@given(st.lists(st.text(max_size=40), max_size=5))
def test_any_arguments_keep_their_count_and_order(values: list[str]) -> None:
    line = format_command("EXEC", Token("NoOp"), *values)
    cleaned = [v.replace("\r", " ").replace("\n", " ").replace("\0", " ") for v in values]
    assert asterisk_reads(line) == [["EXEC", "NoOp", *cleaned]]


def test_format_command_bare_words_and_numbers() -> None:
    assert format_command("GET DATA", "beep", 5000, 4) == b'GET DATA "beep" 5000 4\n'
    assert format_command("SET VARIABLE", Token("CALLERID(name)"), "x") == (
        b'SET VARIABLE CALLERID(name) "x"\n'
    )
    assert format_command("ANSWER") == b"ANSWER\n"


@pytest.mark.parametrize("name", ["", "answer", "SET\nVARIABLE", "EXEC;", " ANSWER", "GET-DATA"])
def test_format_command_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        format_command(name)


@pytest.mark.parametrize("word", ["", "a b", 'x"', "x\\", "x\n", "\tx", "(x)"])
def test_token_refuses_words_that_would_need_quoting(word: str) -> None:
    with pytest.raises(ValueError):
        Token(word)


def test_format_command_refuses_non_text_arguments() -> None:
    with pytest.raises(TypeError):
        format_command("VERBOSE", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_command("VERBOSE", True)


def test_a_line_asterisk_would_split_is_refused() -> None:
    # Past AGI_BUF_LEN, Asterisk would run the tail of the line as a second command.
    format_command("SET VARIABLE", Token("X"), "a" * (MAX_LINE_BYTES - 20))
    with pytest.raises(ValueError, match="bytes"):
        format_command("SET VARIABLE", Token("X"), "a" * MAX_LINE_BYTES)
    with pytest.raises(ValueError):  # the limit counts bytes, not characters
        format_command("SET VARIABLE", Token("X"), "☎" * (MAX_LINE_BYTES // 2))


# -- replies -------------------------------------------------------------------------------


def test_reply_success() -> None:
    reply = parse_reply("200 result=1\n")
    assert (reply.code, reply.result, reply.data, reply.extra) == (200, "1", None, {})
    assert reply.ok
    assert reply.raw == "200 result=1"


def test_reply_minus_one() -> None:
    reply = parse_reply("200 result=-1")
    assert (reply.code, reply.result, reply.data) == (200, "-1", None)


def test_reply_with_value() -> None:
    reply = parse_reply("200 result=1 (Rossi & Figli (Milano))")
    assert (reply.result, reply.data) == ("1", "Rossi & Figli (Milano)")


def test_reply_with_empty_value() -> None:
    assert parse_reply("200 result=1 ()").data == ""


def test_reply_endpos() -> None:
    reply = parse_reply("200 result=0 endpos=1234")
    assert (reply.result, reply.data, reply.extra) == ("0", None, {"endpos": "1234"})


def test_reply_value_and_endpos() -> None:
    reply = parse_reply("200 result=0 (timeout) endpos=8000\r\n")
    assert (reply.result, reply.data, reply.extra) == ("0", "timeout", {"endpos": "8000"})


def test_reply_get_data_timeout_without_digits() -> None:
    reply = parse_reply("200 result= (timeout)")
    assert (reply.result, reply.data) == ("", "timeout")


def test_reply_get_data_digits() -> None:
    assert parse_reply("200 result=1234").result == "1234"


def test_reply_510() -> None:
    reply = parse_reply("510 Invalid or unknown command")
    assert (reply.code, reply.result, reply.data, reply.ok) == (510, "", None, False)
    assert reply.message == "Invalid or unknown command"


def test_reply_511() -> None:
    reply = parse_reply("511 Command Not Permitted on a dead channel or intercepted")
    assert reply.code == 511
    assert reply.message == "Command Not Permitted on a dead channel or intercepted"


def test_reply_520_multiline() -> None:
    text = (
        "520-Invalid command syntax.  Proper usage follows:\n"
        "Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        "   Stream the given file, and receive DTMF data.\n"
        "520 End of proper usage."
    )
    reply = parse_reply(text)
    assert reply.code == 520
    assert not reply.ok
    assert reply.extra["usage"] == (
        "Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        "   Stream the given file, and receive DTMF data."
    )
    assert reply.message == "Invalid command syntax.  Proper usage follows:"
    assert reply.raw == text


@pytest.mark.parametrize("line", ["", "HANGUP", "20 result=1", "abc result=1", "200result=1"])
def test_reply_malformed(line: str) -> None:
    with pytest.raises(AgiError):
        parse_reply(line)


# -- environment ---------------------------------------------------------------------------


def test_env() -> None:
    lines = [
        "agi_network: yes\n",
        "agi_network_script: inbound?x=1\n",
        "agi_request: agi://127.0.0.1:14573/inbound?x=1\n",
        'agi_callerid: "Bob: the \\"boss\\"" <0612345678>\n',
        "agi_rdnis: \n",
        "agi_arg_1: 1700000000.1\r\n",
        "\n",
        "ignored: after the blank line\n",
    ]
    assert parse_env(lines) == {
        "agi_network": "yes",
        "agi_network_script": "inbound?x=1",
        "agi_request": "agi://127.0.0.1:14573/inbound?x=1",
        "agi_callerid": '"Bob: the \\"boss\\"" <0612345678>',
        "agi_rdnis": "",
        "agi_arg_1": "1700000000.1",
    }


@pytest.mark.parametrize(
    "lines",
    [
        ["agi_channel: PJSIP/a\n", "no colon here\n"],
        ["agi channel: x\n"],
        [": x\n"],
        ["agi_network_script: inbound\n", "agi_network_script: admin\n"],
    ],
)
def test_env_malformed(lines: list[str]) -> None:
    with pytest.raises(AgiError):
        parse_env(lines)


@pytest.mark.parametrize(
    ("script", "route", "query"),
    [
        ("inbound", "inbound", {}),
        ("inbound?x=1&y=", "inbound", {"x": "1", "y": ""}),
        ("/inbound?x=a%20b", "inbound", {"x": "a b"}),
        ("", "", {}),
    ],
)
def test_split_script(script: str, route: str, query: dict[str, str]) -> None:
    assert split_script(script) == (route, query)


# -- routes --------------------------------------------------------------------------------


async def _noop(call: object) -> None:
    return None


def test_route_table() -> None:
    table = route_table(("inbound", _noop), ("after-dial", _noop), ("msg_2", _noop))
    assert list(table) == ["inbound", "after-dial", "msg_2"]


def test_route_table_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="twice"):
        route_table(("inbound", _noop), ("inbound", _noop))


@pytest.mark.parametrize("name", ["", "Inbound", "1st", "in bound", "in/bound", "-x"])
def test_route_table_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        route_table((name, _noop))


def test_dialplan_routes() -> None:
    text = """
exten => s,1,AGI({{ agi_url }}/inbound,${CHANNEL(linkedid)})
 same => n,AGI(agi://127.0.0.1:14573/after-dial?x=1)
 same => n,AGI(agi://{{ s.bind }}:{{ s.ports.agi }}/message)
 same => n,agi({{agi_url}}/lower_case)
 same => n,EAGI({{ agi_url }}/speech)
 same => n,AGI(/usr/bin/not-fastagi.sh)
 same => n,NoOp(agi://host/not-a-call)
"""
    assert dialplan_routes(text) == {"inbound", "after-dial", "message", "lower_case", "speech"}


def test_dialplan_routes_of_the_shipped_dialplan() -> None:
    text = "\n".join(p.read_text() for p in sorted(DIALPLAN.glob("*.j2")))
    assert "inbound" in dialplan_routes(text)
