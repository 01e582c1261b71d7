"""The perimeter through the real Asterisk: Asterisk runs as its own unprivileged user and
still plays the engine's prompts and hands it its recordings; the dial policy keeps
premium numbers from ever being dialled (a forward step, a ladder contact); the rate
limits refuse ladders, and say so in `ivr escalations` and on the supervisor page; rules
values that look like config reach Asterisk as plain values.

The contacts' phones are the escalation tests' sipp (contacts.xml) behind the trunk.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.account.cel import account_path
from ivr.asterisk.account import account
from ivr.asterisk.render import Trunk
from ivr.escalation.store import attempts_for_call, runs_for_call
from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import sipp_binary
from ivr.harness.stack import AmiEvents, Stack, poll, stack_settings
from ivr.portal.auth import portal_password
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
HERE = Path(__file__).resolve().parent
ESCALATION = HERE.parent / "escalation"
TRUNK = "127.0.0.2"
ACME = "0611000001"
FORWARDER = "0611000002"
OP1_NAME = "Anna; [trunk] type = endpoint; #include /etc/passwd"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("perimeter")
    work = folder / "work"
    work.mkdir()
    port = free_udp_port(TRUNK)
    phones = await asyncio.create_subprocess_exec(
        sipp_binary(), "-sf", str(ESCALATION / "contacts.xml"), "-i", TRUNK, "-p", str(port),
        "-mp", str(free_media_port(TRUNK)), "-nostdin",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, cwd=work,
    )  # fmt: skip
    settings = stack_settings(
        folder, HERE / "rules", escalation_tick=0.2, escalation_per_caller_hour=1
    )
    running = Stack(settings, work, trunk=Trunk(TRUNK, port))
    try:
        await running.start()
        await running.phone("op1", ring_ms=200)
        await running.phone("op3", ring_ms=200)
        yield running
    finally:
        await running.close()
        phones.terminate()
        await asyncio.wait_for(phones.wait(), 10)


async def emergency(stack: Stack, caller_num: str) -> datetime:
    """A caller who presses 1 in the menu and leaves a message (caller_emergency.xml);
    returns when the call started."""
    started = datetime.now(UTC)
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(), "-sf", str(ESCALATION / "caller_emergency.xml"),
        "-i", TRUNK, "-p", str(free_udp_port(TRUNK)), "-mp", str(free_media_port(TRUNK)),
        "-s", ACME, "-key", "caller_num", caller_num, "-key", "caller_name", "Maria Bianchi",
        "-d", "9000", "-m", "1", "-nostdin", f"{stack.sip[0]}:{stack.sip[1]}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode(errors="replace")[-2000:]
    return started


async def ladder_of(
    stack: Stack, caller: str, since: datetime, done=lambda run: run.status != "running"
):  # type: ignore[no-untyped-def]
    record = await stack.wait_record(
        lambda r: r.caller_number == caller and r.ended_at and r.arrived_at >= since
    )
    runs = await poll(
        lambda: runs_for_call(stack.sessions, record.linkedid),
        lambda found: bool(found) and done(found[0]),
        60,
        f"the ladder of {caller}",
    )
    return runs[0], await attempts_for_call(stack.sessions, record.linkedid)


async def test_asterisk_runs_unprivileged_and_shares_recordings_with_the_engine(
    stack: Stack,
) -> None:
    assert stack.asterisk.process is not None
    status = await asyncio.to_thread(Path(f"/proc/{stack.asterisk.process.pid}/status").read_text)
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    owner = account(stack.settings)
    assert os.geteuid() == 0 and owner is not None  # the suite runs as root: Asterisk drops it
    assert uid == owner.uid != 0

    since = await emergency(stack, "0612600001")
    run, attempts = await ladder_of(stack, "0612600001", since)

    # Asterisk wrote the message as its own user; the engine read it and played its own
    # prompts to the contact, who acknowledged after hearing them.
    assert run.message_path is not None
    recording = stack.settings.host_path(Path(run.message_path))
    assert recording.stat().st_uid == owner.uid and recording.read_bytes()[:4] == b"RIFF"
    assert run.status == "acknowledged"
    # The dial policy: the premium contact was never dialled, the next one was.
    assert [(a.contact_name, a.outcome) for a in attempts] == [
        ("Premium Line", "refused"),
        ("Mario Rossi", "acknowledged"),
    ]
    assert attempts[0].detail == "not dialled: premium numbers are refused"


async def test_a_forward_step_to_a_premium_number_is_never_dialled(stack: Stack) -> None:
    async with AmiEvents(stack) as events:
        result = await stack.call(FORWARDER, caller_num="0612600002")
        record = await stack.wait_record(lambda r: r.caller_number == "0612600002" and r.ended_at)

    assert result.ok, result.output[-1500:]
    assert (record.outcome, record.operator) == ("answered", "op1")  # the next step rang
    assert not events.all(lambda e: e.event == "DialBegin" and "899" in e.get("DialString", ""))
    assert not events.all(lambda e: e.get("Channel", "").startswith("PJSIP/trunk-") and
                          e.get("Linkedid") != e.get("Uniqueid"))  # fmt: skip
    assert "not forwarding to 899123456: premium numbers are refused" in stack.log_tail()


async def test_rate_limits_refuse_ladders_and_say_so(stack: Stack) -> None:
    # 0612600001 already started one this hour (the limit here is 1); a withheld caller
    # may not start any (acme does not say escalate_withheld). The two callers at once.
    since, since_withheld = await asyncio.gather(
        emergency(stack, "0612600001"), emergency(stack, "anonymous")
    )
    again, attempts = await ladder_of(stack, "0612600001", since)
    withheld, _ = await ladder_of(stack, "", since_withheld)

    assert (again.status, withheld.status, attempts) == ("refused", "refused", [])
    assert again.reason == "rate limit: this number started 1 ladders in the last hour (at most 1)"
    assert withheld.reason is not None and withheld.reason.startswith("withheld caller")
    shown = await run_ivr(stack, "escalations")
    assert f"refused: {again.reason}" in shown
    page = await asyncio.to_thread(supervisor_page, stack)
    assert "rate limit: this number started 1 ladders" in page
    assert "withheld caller" in page and "not dialled: premium numbers are refused" in page


async def run_ivr(stack: Stack, *args: str) -> str:
    """The `ivr` command as an admin runs it on this instance; its output."""
    env = {**stack.engine_env(), "PYTHONPATH": str(Path.cwd())}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    return out.decode()


def supervisor_page(stack: Stack) -> str:
    base = f"http://{stack.settings.bind}:{stack.settings.ports.http}/console"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base}/login", timeout=10) as response:  # the form's CSRF token
        csrf = re.search(r'name="csrf" value="([^"]+)"', response.read().decode())
    assert csrf is not None
    form = {
        "user": "supervisor",
        "password": portal_password(stack.settings, "supervisor"),
        "csrf": csrf[1],
    }
    opener.open(f"{base}/login", urllib.parse.urlencode(form).encode(), timeout=10)
    with opener.open(f"{base}/supervisor", timeout=10) as response:
        return str(response.read().decode())


async def test_config_looking_names_reach_asterisk_as_plain_values(stack: Stack) -> None:
    endpoints = await stack.asterisk.cli("pjsip show endpoints")
    shown = await stack.asterisk.cli("pjsip show endpoint op1")

    names = sorted(line.split()[1].split("/")[0] for line in endpoints.splitlines()
                   if line.strip().startswith("Endpoint:") and "<Endpoint" not in line)  # fmt: skip
    # each operator has a desk phone and a browser phone (NAME-web)
    assert names == ["op1", "op1-web", "op3", "op3-web", "trunk"]
    callerid = next(line for line in shown.splitlines() if line.strip().startswith("callerid "))
    assert callerid.split(":", 1)[1].strip() == f'"{OP1_NAME}" <op1>'
    trunk = await stack.asterisk.cli("pjsip show endpoint trunk")
    assert "identify_by" in trunk and " ip" in trunk.split("identify_by", 1)[1].splitlines()[0]


async def test_erase_removes_a_callers_calls_ladders_and_recordings(stack: Stack) -> None:
    calls = [r for r in await repo.list_calls(stack.sessions, limit=100)
             if r.caller_number == "0612600001"]  # fmt: skip
    runs = [run for call in calls for run in await runs_for_call(stack.sessions, call.linkedid)]
    recordings = [stack.settings.host_path(Path(c.message_path)) for c in calls if c.message_path]
    assert len(calls) == 2 and len(runs) == 2 and recordings and all(p.exists() for p in recordings)
    cel = account_path(stack.settings)
    written = cel.read_bytes()
    assert b'"0612600001"' in written  # Asterisk's own account names the caller too

    shown = await run_ivr(stack, "erase", "--number", "+39 06 1260 0001")

    assert "erased every trace of +39 06 1260 0001" in shown
    assert "  call records: 2\n" in shown and "  escalations: 2\n" in shown
    assert all(f"removed {path}" in shown for path in recordings)
    assert not any(path.exists() for path in recordings)
    after = cel.read_bytes()
    assert b"0612600001" not in after[: len(written)] and len(after) >= len(written)
    assert "  account lines: " in shown
    for call in calls:
        assert await repo.get_call(stack.sessions, call.linkedid) is None
        assert await runs_for_call(stack.sessions, call.linkedid) == []
