"""The AMI link through the real Asterisk: the engine's user has only the classes it uses
(Originate of System and the Command action are refused even with the secret), a CR/LF in an
action value never reaches Asterisk, and an Asterisk restart is survived."""

from __future__ import annotations

import configparser
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from fault_rig import running_stack

from ivr.ami.client import AmiActionError
from ivr.harness.stack import AmiEvents, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
ACME = "0611000001"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("faults-ami")) as running:
        await running.phone("op1", ring_ms=200)
        yield running


async def test_the_engines_ami_user_has_only_the_classes_it_uses(stack: Stack) -> None:
    path = stack.settings.host_run_dir / "etc" / "manager.conf"
    conf = configparser.ConfigParser(strict=False, comment_prefixes=(";",), interpolation=None)
    conf.read_string("\n".join(line for line in path.read_text().splitlines() if "(" not in line))
    user = conf[stack.settings.ami_user]
    assert set(user["read"].split(",")) == {"call", "agent", "user"}
    # call: Redirect, Bridge, Setvar, Hangup (holding callers, putting calls through)
    assert set(user["write"].split(",")) == {"originate", "agent", "reporting", "call"}
    assert path.stat().st_mode & 0o077 in (0, 0o040)  # the secret: root's, its group's at most


async def test_originate_of_system_and_the_command_action_are_refused(stack: Stack) -> None:
    proof = stack.settings.host_run_dir / "spool" / "pwned"
    async with AmiEvents(stack) as events:
        with pytest.raises(AmiActionError) as originate:
            await events.client.send_action(
                [
                    ("Action", "Originate"),
                    ("Channel", "Local/s@ivr-operators"),
                    ("Application", "System"),
                    ("Data", f"touch {stack.settings.run_dir}/spool/pwned"),
                ]
            )
        with pytest.raises(AmiActionError) as command:
            await events.client.send_action([("Action", "Command"), ("Command", "core stop now")])
        alive = await events.client.send_action({"Action": "Ping"})

    assert "Forbidden" in str(originate.value)
    assert "Permission denied" in str(command.value)
    assert alive["Response"] == "Success" and not proof.exists()
    assert not events.all(lambda e: e.event == "Newchannel")


async def test_cr_lf_in_an_action_value_never_reaches_asterisk(stack: Stack) -> None:
    injected = "Local/1@ivr-operators\r\n\r\nAction: Originate\r\nChannel: Local/2@ivr-operators"
    async with AmiEvents(stack) as events:
        with pytest.raises(ValueError):
            await events.client.send_action(
                [("Action", "Originate"), ("Channel", injected), ("Exten", "1")]
            )
        alive = await events.client.send_action({"Action": "Ping"})
        # A call placed right after bounds the wait for any channel the injection made.
        await stack.call(ACME, caller_num="0612500001")
        await events.wait(
            lambda e: e.event == "Newchannel" and e.get("CallerIDNum") == "0612500001"
        )

    assert alive["Response"] == "Success"
    assert not events.all(lambda e: e.event == "Newchannel" and "Local/" in e.get("Channel", ""))


async def test_ami_restart_the_engine_logs_in_again_and_records_calls(stack: Stack) -> None:
    await stack.asterisk.stop()
    await stack.wait_for(lambda s: not s["ami"]["connected"], 20, "the engine to see AMI go")
    await stack.asterisk.start()
    await stack.wait_for(lambda s: s["ami"]["connected"], 30, "the engine to log in again")
    await stack.phones[0].register()  # the new Asterisk has no registrations

    result = await stack.call(ACME, caller_num="0612500002")
    record = await stack.wait_record(lambda r: r.caller_number == "0612500002" and r.ended_at)

    assert result.ok, result.output[-1500:]
    assert (record.outcome, record.operator) == ("answered", "op1")
    status = stack.status()
    assert status is not None and status["outbound"] == {"up": 0, "max": 4}
