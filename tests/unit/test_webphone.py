"""The browser phone's parts that need no Asterisk: the vendored JsSIP bundle is the one its
manifest names, the relay reads a SIP request's method, From and dialog, the operator's two
phones are one operator and one state, the rendered config takes WebRTC."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from ivr import config
from ivr.ami.facts import operator_of
from ivr.asterisk.render import Operator, render
from ivr.asterisk.webrtc import PHONES_AMI_USER, auth_value, phones_ami_secret
from ivr.portal.board import IDLE, IN_USE, OFFLINE, ON_HOLD, RINGING, combined
from ivr.variables import dial_string, phones
from ivr.webphone.relay import REGISTER_MAX, Limits
from ivr.webphone.sip import request_of

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "ivr" / "portal" / "static"


def test_the_vendored_jssip_bundle_is_the_one_its_manifest_names() -> None:
    manifest = json.loads((STATIC / "vendor.json").read_text())
    built = json.loads((ROOT / "webphone" / "package.json").read_text())
    for name, entry in manifest.items():
        data = (STATIC / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{name} was changed"
        assert built["dependencies"][entry["package"]] == entry["version"]
        assert entry["version"] in name
        assert f'version:"{entry["version"]}"' in data.decode()  # the package's own word
    # The console loads the bundle by the manifest's name, from its own static folder.
    console = (ROOT / "ivr" / "portal" / "templates" / "console.html").read_text()
    assert all(f"/static/{name}" in console for name in manifest)


def test_the_relay_reads_a_requests_method_from_and_dialog() -> None:
    register = (
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n"
        "From: <sip:op1-web@127.0.0.1>;tag=a\r\nTo: <sip:op1-web@127.0.0.1>\r\n\r\n"
    )
    found = request_of(register)
    assert found is not None
    assert (found.method, found.from_user, found.in_dialog) == ("REGISTER", "op1-web", False)
    compact = 'INVITE sip:x@y SIP/2.0\r\nf: "Eve" <sip:op2-web@h>;tag=1\r\nt: <sip:x@y>\r\n\r\n'
    invite = request_of(compact)
    assert invite is not None and invite.from_user == "op2-web" and not invite.in_dialog
    bye = "BYE sip:x@y SIP/2.0\r\nFrom: <sip:abc@h.invalid>;tag=1\r\nTo: <sip:t@y>;tag=2\r\n\r\n"
    in_dialog = request_of(bye)
    assert in_dialog is not None and in_dialog.in_dialog
    assert request_of("SIP/2.0 200 OK\r\nFrom: <sip:a@b>\r\n\r\n") is None
    assert request_of("hello") is None


def test_an_operators_two_phones_are_one_operator_and_one_state() -> None:
    assert phones("op1") == ("op1", "op1-web")
    assert dial_string(["op1"]) == "PJSIP/op1&PJSIP/op1-web"
    assert operator_of("PJSIP/op1-web-0000002b") == "op1"
    assert operator_of("PJSIP/op1-0000002a") == "op1"
    assert combined([OFFLINE, IDLE]) == IDLE  # the browser is registered, the desk is not
    assert combined([IN_USE, IDLE]) == IN_USE
    assert combined([RINGING, OFFLINE]) == RINGING
    assert combined([ON_HOLD, IDLE]) == ON_HOLD
    assert combined([OFFLINE, OFFLINE]) == OFFLINE


def test_a_cluster_nodes_browser_endpoint_points_at_the_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_SIP_PASSWORD_OP1", "pw")
    settings = config.load(
        environ={}, instance="unitwrtcc", db_url="sqlite+aiosqlite:///:memory:",
        asterisk_root=tmp_path, ami_secret="s3cret", home=config.PROJECT_HOME,
        operator_proxy="127.0.0.1:17000", phone_proxy="ws://127.0.0.1:17066",
    )  # fmt: skip
    etc = render(settings, [Operator("op1", "Anna")], ["op1"])
    web = (etc / "pjsip.conf").read_text().split("[op1-web]", 1)[1]
    assert "webrtc = yes" in web
    assert "contact = sip:op1-web@127.0.0.1:17000" in web  # every node reaches it there
    assert "transport-ws" not in web and "auth = " not in web
    with pytest.raises(config.ConfigError, match="phone_proxy"):
        config.validate(dataclasses.replace(settings, phone_proxy="http://127.0.0.1:1"))


def test_the_rendered_config_takes_webrtc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_SIP_PASSWORD_OP1", "pw")  # no generated secret in the project
    settings = config.load(
        environ={}, instance="unitwrtc", db_url="sqlite+aiosqlite:///:memory:",
        asterisk_root=tmp_path, ami_secret="s3cret", home=config.PROJECT_HOME,
    )  # fmt: skip
    etc = render(settings, [Operator("op1", "Anna")], ["op1"])
    pjsip = (etc / "pjsip.conf").read_text()
    web = pjsip.split("[op1-web]", 1)[1]
    assert "webrtc = yes" in web and "auth = op1-web" in web
    assert "password" not in web.split("[op1-web]")[0]  # no password rendered for the browser
    assert "protocol = ws" in pjsip
    http = (etc / "http.conf").read_text()
    assert f"bindaddr = {settings.bind}" in http and "bindport" in http
    assert "icesupport = yes" in (etc / "rtp.conf").read_text()
    modules = (etc / "modules.conf").read_text()
    assert "res_http_websocket" not in modules
    assert "res_pjsip_transport_websocket" not in modules
    assert "auth = astdb,ivr_web" in (etc / "sorcery.conf").read_text()
    manager = (etc / "manager.conf").read_text()
    phones_user = manager.split(f"[{PHONES_AMI_USER}]", 1)[1]
    assert "write = system" in phones_user and "originate" not in phones_user
    assert phones_ami_secret("s3cret") in phones_user
    main_write = manager.split("write = ", 1)[1].split("\n", 1)[0]
    assert "system" not in main_write.split(",") and "originate" in main_write
    assert json.loads(auth_value("op1-web", "pw")) == {
        "auth_type": "userpass",
        "username": "op1-web",
        "password": "pw",
    }


async def test_registrations_are_limited_per_operator() -> None:
    limits = Limits()
    assert all(limits.register_allowed("op1") for _ in range(REGISTER_MAX))
    assert not limits.register_allowed("op1")  # one more within the minute is refused
    assert limits.throttled("op1") and not limits.throttled("op2")
    assert limits.register_allowed("op2")  # another operator has their own count
