"""Any value the rules schema accepts renders into Asterisk config that parses into exactly
the sections and keys intended, the value intact. Asterisk's parser is modelled below from
main/config.c as far as these files use it; tests/e2e/perimeter checks the real one."""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import config
from ivr.asterisk.render import Operator, Queue, QueueMember, RenderError, conf_value, render
from ivr.routing import spec

Section = tuple[str, list[tuple[str, str]]]


def parse(text: str) -> list[Section]:
    """Asterisk's config.c: ';' starts a comment unless written '\\;' (the backslash goes),
    ';--' opens a comment that '--;' closes, '[name]' (and '[name](...)') opens a section,
    a line starting '#' is a directive (#include, #exec), and 'key = value' or
    'key => value' have the blanks around key and value stripped."""
    sections: list[Section] = []
    in_block = False
    for raw in text.split("\n"):  # as config.c does: not at U+0085, U+2028 and the like
        line = ""
        i = 0
        while i < len(raw):
            if in_block:
                end = raw.find("--;", i)
                if end < 0:
                    i = len(raw)
                    continue
                in_block, i = False, end + 3
                continue
            char = raw[i]
            if char == ";":
                if line.endswith("\\"):
                    line = line[:-1] + ";"
                    i += 1
                    continue
                if raw.startswith(";--", i):
                    in_block, i = True, i + 3
                    continue
                break
            line += char
            i += 1
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            sections.append(("#directive", [("line", line)]))
        elif line.startswith("["):
            sections.append((line[1 : line.index("]")], []))
        else:
            key, _, value = line.partition("=")
            sections[-1][1].append((key.strip(), value.removeprefix(">").strip()))
    return sections


def names(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) < 80)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> config.Settings:
    return config.load(
        environ={},
        instance="unitinject",
        db_url="sqlite+aiosqlite:///:memory:",
        asterisk_root=tmp_path_factory.mktemp("root"),
        ami_secret="x",
        home=config.PROJECT_HOME,
    )


@pytest.fixture(scope="module", autouse=True)
def _clean(base: config.Settings):  # type: ignore[no-untyped-def]
    yield
    shutil.rmtree(base.state_dir, ignore_errors=True)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(names(spec.NAME), min_size=2, max_size=3, unique_by=str.lower),
    person=names(spec.PERSON),
    group=names(spec.NAME).filter(lambda g: g.lower() != "general"),
)
def test_any_accepted_value_renders_to_exactly_the_intended_config(
    base: config.Settings, ids: list[str], person: str, group: str
) -> None:
    ids = [i for i in ids if i.lower() not in {"trunk", "global", "transport-udp", "transport-ws"}]
    ids = [i for i in ids if not any(i.lower() == f"{j.lower()}-web" for j in ids)]
    if not ids:
        return
    operators = [Operator(op, person) for op in ids]
    queue = Queue(group, "linear", tuple(QueueMember(op, op, 0) for op in ids))
    etc = render(base, operators, ids[:1], queues=[queue])

    pjsip = parse((etc / "pjsip.conf").read_text())
    expected = ["global", "transport-udp", "transport-ws", "trunk", "trunk", "trunk"]
    for op in ids:
        expected += [op, op, op]
    for op in ids:
        expected += [f"{op}-web", f"{op}-web"]  # the browser phone: endpoint and aor
    assert [name for name, _ in pjsip] == expected
    for op in ids:
        endpoint, auth, aor = [keys for name, keys in pjsip if name == op]
        assert dict(endpoint)["callerid"] == f'"{person}" <{op}>'
        assert [k for k, _ in endpoint] == [
            "type", "context", "disallow", "allow", "direct_media", "rtp_symmetric",
            "media_address", "bind_rtp_to_media_address", "auth", "aors", "callerid",
        ]  # fmt: skip
        assert dict(auth) == {
            "type": "auth",
            "auth_type": "userpass",
            "username": op,
            "password": config.operator_password(base, op),
        }
        assert [k for k, _ in aor] == ["type", "max_contacts", "remove_existing"]
    queues = parse((etc / "queues.conf").read_text())
    assert [name for name, _ in queues] == ["general", group]
    members = [v for k, v in queues[1][1] if k == "member"]
    assert members == [
        f"PJSIP/{phone},0,{op},PJSIP/{phone}" for op in ids for phone in (op, f"{op}-web")
    ]
    dialplan = parse((etc / "extensions.conf").read_text())
    assert not [s for s in dialplan if s[0] == "#directive"]
    assert f"Dial(PJSIP/{ids[0]}&PJSIP/{ids[0]}-web," in (etc / "extensions.conf").read_text()


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\tbed", "nul\0", " padded", "padded "])
def test_a_value_that_would_break_its_line_is_refused(value: str) -> None:
    with pytest.raises(RenderError):
        conf_value(value)


@pytest.mark.parametrize(("value", "written"), [("a;b", "a\\;b"), ("a\\;b", "a\\\\;b")])
def test_a_semicolon_is_escaped_and_parses_back(value: str, written: str) -> None:
    assert conf_value(value) == written
    assert parse(f"[s]\nk = {written}\n") == [("s", [("k", value)])]


def test_an_endpoint_that_would_add_a_dial_target_is_refused(base: config.Settings) -> None:
    with pytest.raises(RenderError):
        render(base, [Operator("op1&PJSIP/00881234567@trunk", "x")], [])
    assert re.fullmatch(spec.NAME, "op1&PJSIP/00881234567@trunk") is None
