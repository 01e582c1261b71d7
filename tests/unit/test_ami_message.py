"""AMI message parsing and encoding, and the CR/LF injection guard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.ami.message import Message, encode, parse, unescape_c

NEWCHANNEL = (
    b"Event: Newchannel\r\n"
    b"Privilege: call,all\r\n"
    b"Timestamp: 1732640000.123456\r\n"
    b"Channel: PJSIP/trunk-00000001\r\n"
    b"CallerIDName: Dupont: Jean\r\n"
    b"Uniqueid: 1732640000.1\r\n"
    b"\r\n"
)


def test_parse_keeps_fields_in_order_and_splits_on_the_first_colon():
    msg = parse(NEWCHANNEL)

    assert msg.event == "Newchannel"
    assert msg.timestamp == pytest.approx(1732640000.123456)
    assert msg["CallerIDName"] == "Dupont: Jean"
    assert list(msg) == [
        "Event",
        "Privilege",
        "Timestamp",
        "Channel",
        "CallerIDName",
        "Uniqueid",
    ]
    assert msg.response is None and msg.action_id is None


def test_lookup_ignores_case():
    msg = parse("Response: Success\r\nActionID: a-1\r\n\r\n")

    assert msg["response"] == msg["RESPONSE"] == "Success"
    assert "actionid" in msg
    assert msg.action_id == "a-1"
    assert msg.get("Missing") is None
    with pytest.raises(KeyError):
        msg["Missing"]


def test_duplicate_keys_are_all_kept():
    msg = parse(
        "Action: Originate\r\nVariable: A=1\r\nvariable: B=2\r\nChannel: Local/1@x\r\n"
        "Variable: C=3\r\n\r\n"
    )

    assert msg["Variable"] == "A=1"
    assert msg.getall("VARIABLE") == ["A=1", "B=2", "C=3"]
    assert msg.getall("Nothing") == []
    assert len(msg) == 3  # Action, Variable, Channel
    assert msg.fields[1:3] == (("Variable", "A=1"), ("variable", "B=2"))


def test_parse_accepts_bare_lf_and_skips_lines_without_a_colon():
    msg = parse(b"Response: Success\njunk line\nMessage:   spaced value\n\n")

    assert dict(msg) == {"Response": "Success", "Message": "spaced value"}


def test_parse_replaces_bytes_that_are_not_utf8():
    msg = parse(b"Event: Newchannel\r\nCallerIDName: Andr\xe9\r\n\r\n")

    assert msg["CallerIDName"] == "Andr\ufffd"


def test_timestamp_absent_or_malformed_is_none():
    assert parse("Event: X\r\n\r\n").timestamp is None
    assert parse("Event: X\r\nTimestamp: soon\r\n\r\n").timestamp is None


def test_encode_writes_crlf_lines_and_a_blank_line():
    assert encode({"Action": "Ping", "ActionID": "a-1"}) == (
        b"Action: Ping\r\nActionID: a-1\r\n\r\n"
    )


def test_encode_repeats_keys_given_as_pairs():
    data = encode([("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2")])

    assert data == b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    assert parse(data).getall("Variable") == ["A=1", "B=2"]


def test_encode_keeps_utf8_caller_names():
    assert parse(encode({"CallerID": '"Zoë" <0612>'}))["CallerID"] == '"Zoë" <0612>'


@pytest.mark.parametrize(
    "value",
    ["Jean\r\nAction: Hangup", "Jean\nAction: Hangup", "Jean\rAction: Hangup", "\n", "x\r"],
)
def test_encode_refuses_cr_or_lf_in_a_value(value):
    with pytest.raises(ValueError, match="CR or LF"):
        encode([("Action", "Originate"), ("CallerID", value)])


@pytest.mark.parametrize("key", ["Caller\nID", "Caller\rID", "Action: Hangup", "", " "])
def test_encode_refuses_a_bad_key(key):
    with pytest.raises(ValueError):
        encode({key: "x"})


def test_encode_refuses_non_strings_and_empty_messages():
    with pytest.raises(TypeError):
        encode({"Priority": 1})
    with pytest.raises(ValueError):
        encode({})


def test_message_is_read_only_mapping_built_from_a_dict():
    msg = Message({"Event": "Hangup", "Cause": "16"})

    assert msg == {"Event": "Hangup", "Cause": "16"}
    assert "Hangup" in repr(msg)
    with pytest.raises(TypeError):
        msg["Cause"] = "17"


KEY = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters=":\r\n", exclude_categories=["Zs", "Cc"]
    ),
    min_size=1,
    max_size=20,
)
VALUE = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
        max_size=40,
    )
    | st.sampled_from(["a\u2028b", "x\x0cy", "\x85", "tab\there", "trailing  "])
).map(lambda value: value.lstrip(" \t"))
CONTROL = st.sampled_from(["\r", "\n", "\r\n"])


@given(st.lists(st.tuples(KEY, VALUE), min_size=1, max_size=8))
def test_encode_then_parse_gives_the_same_lines(pairs):
    assert parse(encode(pairs)).fields == tuple(pairs)


@given(VALUE, CONTROL, VALUE)
def test_no_value_can_add_a_line(before, control, after):
    with pytest.raises(ValueError):
        encode([("Action", "Originate"), ("CallerID", before + control + after)])


def ast_escape_c(value: str) -> str:
    """Asterisk's ast_escape_c (main/utils.c), as AMI applies it to caller names."""
    table = dict(zip("\a\b\f\n\r\t\v\\'\"?", "abfnrtv\\'\"?", strict=True))
    return "".join("\\" + table[c] if c in table else c for c in value)


@given(st.text())
def test_unescape_c_undoes_asterisks_escaping(value: str) -> None:
    assert unescape_c(ast_escape_c(value)) == value


def test_unescape_c_reads_a_name_as_asterisk_sent_it() -> None:
    sent = 'Mario \\\\\\"Boss\\\\\\"; DROP TABLE calls;-- \\\\n <b>'  # as in a real Newchannel
    assert unescape_c(sent) == 'Mario \\"Boss\\"; DROP TABLE calls;-- \\n <b>'
    assert unescape_c("line\\nbreak") == "line\nbreak"
    assert unescape_c("trailing\\") == "trailing\\"
