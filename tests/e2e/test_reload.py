"""Reloading the rules while calls go through the real Asterisk loses no call.

30 calls at 5 a second; meanwhile the rules file is rewritten after every new call record,
in turn: valid (op1 answers), invalid, valid (op2 answers), invalid... and each version is
reloaded through `ivr reload` or POST /api/reload, while the engine's file watcher sees the
same writes. Every call must be answered, every invalid version refused with the running rules
kept in force. The steps ring one operator each (Dial), not a group: a group is a queue that
rings only idle phones, and 5 calls a second would outrun two phones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.control import call_engine
from ivr.harness.stack import Stack, poll
from ivr.records import repo

pytestmark = pytest.mark.e2e
RULES = Path(__file__).resolve().parent / "rules"
ACME = "0611000001"
CALLS = 30
ALWAYS = "    to:\n      - {group: desk, timeout: 3}\n      - message\n"


def rings(operator: str) -> str:
    return f"    to:\n      - {{operator: {operator}, timeout: 10}}\n      - message\n"


class RulesFile:
    """acme.yaml in the test's own copy of the rules, replaced atomically like an editor does."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "clients" / "acme.yaml"
        self.original = self.path.read_text()
        assert ALWAYS in self.original

    def write(self, operator: str, *, valid: bool = True) -> None:
        text = self.original.replace(ALWAYS, rings(operator))
        if not valid:
            text = text.replace("timezone:", "timezon:")  # an unknown key: refused
        tmp = self.path.with_suffix(".tmp")  # not *.yaml: the watcher ignores it
        tmp.write_text(text)
        os.replace(tmp, self.path)


@pytest_asyncio.fixture
async def rules(tmp_path: Path) -> RulesFile:
    shutil.copytree(RULES, tmp_path / "rules")
    file = RulesFile(tmp_path / "rules")
    file.write("op1")
    return file


@pytest.fixture
def rules_folder(rules: RulesFile) -> Path:
    return rules.path.parents[1]  # the test's own copy, edited while calls go through


async def reload_by_cli(stack: Stack) -> tuple[bool, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "reload",
        env=stack.engine_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode == 0, out.decode().strip()


async def reload_by_http(stack: Stack) -> tuple[bool, str]:
    s = stack.settings
    code, body = await asyncio.to_thread(call_engine, s, "/api/reload", "POST")
    return code == 200, body["message"]


async def records(stack: Stack) -> list[repo.CallRecord]:
    return await repo.list_calls(stack.sessions, limit=CALLS * 2)


async def wait_records(stack: Stack, more_than: int) -> int:
    """Wait for the (more_than + 1)th call record; a row, not a sleep."""
    found = await poll(lambda: records(stack), lambda seen: len(seen) > more_than, 60)
    return len(found)


async def test_reloads_during_calls_lose_no_call(stack: Stack, rules: RulesFile) -> None:
    for operator in ("op1", "op2"):
        await stack.phone(operator, ring_ms=200)
    first = stack.status()
    assert first is not None and first["rules"]["last_error"] is None
    digests = {"op1": first["rules"]["digest"]}

    calls = asyncio.create_task(stack.call(ACME, count=CALLS, rate=5, hold_ms=1000, timeout=120))
    refused = accepted = 0
    seen = 0
    versions = [("op2", True), ("op2", False), ("op1", True), ("op1", False)]
    turn = 0
    while not calls.done():
        try:
            seen = await asyncio.wait_for(wait_records(stack, seen), 5)
        except TimeoutError:
            continue  # all records are in; the last calls are still hanging up
        operator, valid = versions[turn % len(versions)]
        reload = reload_by_cli if turn % 2 else reload_by_http
        turn += 1
        rules.write(operator, valid=valid)
        ok, message = await reload(stack)
        status = stack.status()
        assert status is not None
        if valid:
            assert ok, message
            assert message.startswith(("reloaded", "unchanged")), message  # the watcher may win
            assert status["rules"]["last_error"] is None
            digests.setdefault(operator, status["rules"]["digest"])
            assert status["rules"]["digest"] == digests[operator]
            accepted += 1
        else:
            assert not ok and "kept the running rules" in message, message
            assert "unknown key 'timezon'" in status["rules"]["last_error"]
            assert status["rules"]["digest"] == digests[operator]  # still the last valid one
            refused += 1
    result = await calls

    assert result.ok and result.successful == CALLS, result.output[-2000:]
    assert accepted >= 4 and refused >= 4, (accepted, refused)
    assert digests["op1"] != digests["op2"]
    ended = await poll(
        lambda: records(stack),
        lambda seen: sum(r.outcome != "in-progress" for r in seen) >= CALLS,
        30,
        "every call to end",
    )
    done = [r for r in ended if r.outcome != "in-progress"]
    assert len(await records(stack)) == CALLS
    assert {r.outcome for r in done} == {"answered"}
    assert {r.operator for r in done} == {"op1", "op2"}  # both versions answered calls
    assert all(r.client_id == "acme" and r.route == "operators" for r in done)
    status = stack.status()
    assert status is not None and status["agi"]["calls_failed"] == 0


async def test_the_file_watcher_alone_reloads_and_refuses(stack: Stack, rules: RulesFile) -> None:
    await stack.phone("op2", ring_ms=200)
    before = stack.status()
    assert before is not None
    digest = before["rules"]["digest"]

    rules.write("op2", valid=False)
    refused = await stack.wait_for(lambda s: s["rules"]["last_error"] is not None, 10, "refusal")
    assert refused["rules"]["digest"] == digest
    assert "unknown key 'timezon'" in refused["rules"]["last_error"]

    rules.write("op2")
    loaded = await stack.wait_for(lambda s: s["rules"]["digest"] != digest, 10, "a reload")
    assert loaded["rules"]["last_error"] is None

    result = await stack.call(ACME, caller_num="0612777000")
    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(lambda r: r.outcome != "in-progress")
    assert (record.outcome, record.operator) == ("answered", "op2")


async def ivr(stack: Stack, *argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", *argv,
        env=stack.engine_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    return out.decode()


def settled(caller: str) -> Callable[[repo.CallRecord], bool]:
    """The call's record once its outcome is known (a hang-up may be stored before the message)."""
    return lambda r: r.caller_number == caller and r.outcome not in {"in-progress", "abandoned"}


async def test_an_override_set_from_the_shell_routes_the_next_call(stack: Stack) -> None:
    """`ivr override` writes the state folder's file; the engine reads it at the next call."""
    await stack.phone("op1", ring_ms=200)
    said = await ivr(
        stack, "override", "set", "acme", "message", "--for", "1h", "--reason", "flood"
    )
    assert said.startswith("acme: message")
    status = await stack.wait_for(lambda s: "acme" in s["overrides"]["in_force"], 10, "override")
    assert status["overrides"]["in_force"] == {"acme": "message"}

    result = await stack.call(ACME, caller_num="0612888001", hold_ms=7000, timeout=60)
    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(settled("0612888001"))
    assert (record.route, record.outcome, record.operator) == ("message", "message-left", None)

    await ivr(stack, "override", "clear", "acme")
    await stack.wait_for(lambda s: s["overrides"]["in_force"] == {}, 10, "override cleared")
    result = await stack.call(ACME, caller_num="0612888002")
    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(settled("0612888002"))
    assert (record.route, record.outcome, record.operator) == ("operators", "answered", "op1")
