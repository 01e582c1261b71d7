"""Every call on record, through the real Asterisk: whatever number the carrier sends, a
caller who hangs up in a menu, /metrics during a call, and the records rebuilt from
Asterisk's own account when the engine was away.

One stack for the module. op1 answers the desk at once; op3, the fallback, never answers, so
a call the engine did not route ends in the message box within seconds.
"""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from wire.agi_peer import AgiPeer, default_env

from ivr.account.cel import account_path, archives, pending_path
from ivr.account.privacy import blank_old
from ivr.agi.server import AGI_TOKEN
from ivr.control import bearer
from ivr.harness.sipp import SCENARIOS
from ivr.harness.stack import Stack, stack_settings
from ivr.records import repo

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
RULES = Path(__file__).resolve().parent / "rules"
ACME = "0611000001"
SHOP = "0611000003"
NEVER = 3_600_000  # ring_ms of a phone nobody picks up
ROTATE_AT = 4096  # bytes: a few calls' worth of Asterisk's account


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, asterisk_available: None
) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("account")
    # a small account, rotated by the reconciliations of these tests
    settings = stack_settings(tmp, RULES, ring_timeout=3, account_rotate_bytes=ROTATE_AT)
    running = Stack(settings, tmp / "work")
    running.extra_env["IVR_ACCOUNT_ROTATE_BYTES"] = str(ROTATE_AT)  # the engine process's
    try:
        await running.start()
        await running.phone("op1", ring_ms=200)
        await running.phone("op3", ring_ms=NEVER)
        yield running
    finally:
        await running.close()


def caller_scenario(folder: Path, user: str) -> Path:
    """caller.xml with this request-URI user part ('' for none at all)."""
    text = (SCENARIOS / "caller.xml").read_text()
    text = text.replace("sip:[service]@", f"sip:{user}@" if user else "sip:")
    path = folder / f"caller-{abs(hash(user))}.xml"
    path.write_text(text)
    return path


def finished(caller: str):  # type: ignore[no-untyped-def]
    """The record of this caller's call, once it has ended."""
    return lambda r: r.caller_number == caller and r.ended_at is not None


# What carriers have been seen to send, and worse; %20 is a space in a SIP URI.
DIALLED = {
    "comma": "+1,2",
    "ampersand": "0611000001&2",
    "slash": "06/11000001",
    "spaces": "06%2011%20000001",
    "letters": "abc",
    "hundred-digits": "9" * 100,
    "empty": "",
}


async def test_any_dialled_number_reaches_a_human_or_the_message_box_and_its_record_ends(
    stack: Stack, tmp_path: Path
) -> None:
    callers = {name: f"06130000{n:02d}" for n, name in enumerate(DIALLED)}
    results = await asyncio.gather(
        *(
            stack.call(
                "x",
                caller_num=callers[name],
                hold_ms=1500,
                timeout=90,
                scenario=caller_scenario(tmp_path, user),
            )
            for name, user in DIALLED.items()
        )
    )
    for name, result in zip(DIALLED, results, strict=True):
        assert result.ok, f"{name}: {result.output[-1500:]}"  # answered: 200 OK, then BYE
    for name in DIALLED:
        record = await stack.wait_record(finished(callers[name]), timeout=60)
        assert record.ended_at is not None, name
        assert record.outcome in {"answered", "message-left", "abandoned"}, (name, record)
        assert record.route is not None, (name, record)  # the engine decided it
    spaced = await stack.wait_record(finished(callers["spaces"]))
    assert (spaced.client_id, spaced.operator) == ("acme", "op1")  # its digits are Acme's
    comma = await stack.wait_record(finished(callers["comma"]))
    assert comma.client_id is None and comma.called == "12"


async def test_a_caller_who_hangs_up_in_the_menu_is_still_the_clients(stack: Stack) -> None:
    result = await stack.call(SHOP, caller_num="0612400001", hold_ms=1000)

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(finished("0612400001"))
    assert (record.client_id, record.client_name) == ("nightshop", "Night Shop")
    assert record.outcome == "abandoned"
    assert record.route is None  # gone before the menu led anywhere


def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://{stack.settings.bind}:{stack.settings.ports.http}/metrics"
    request = urllib.request.Request(url, headers=bearer(stack.settings.control_token))
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_during_a_real_call(stack: Stack) -> None:
    call = asyncio.create_task(stack.call(ACME, caller_num="0612500001", hold_ms=4000))
    await stack.wait_record(lambda r: r.caller_number == "0612500001" and r.operator == "op1")

    during = await asyncio.to_thread(scrape, stack)
    assert during[("ivr_calls_in_progress", ())] >= 1
    assert during[("ivr_agi_route_seconds_count", (("route", "inbound"),))] >= 1
    assert during[("ivr_ami_events_total", ())] > 0
    assert during[("ivr_record_batches_total", (("result", "ok"),))] > 0
    assert ("ivr_ami_queue_depth", ()) in during and ("ivr_records_rebuilt_total", ()) in during
    ended = during.get(("ivr_calls_total", (("client", "acme"), ("outcome", "answered"))), 0)

    assert (await call).ok
    await stack.wait_record(finished("0612500001"))
    after = await asyncio.to_thread(scrape, stack)
    assert after[("ivr_calls_total", (("client", "acme"), ("outcome", "answered")))] == ended + 1


async def test_a_fastagi_claim_for_a_call_asterisk_never_had_is_closed(stack: Stack) -> None:
    # With the instance's token: a request our own Asterisk could have made, for a call it
    # never had (a channel gone before the engine looked, a confused peer).
    script = f"inbound?{AGI_TOKEN}={stack.settings.agi_token}"
    env = default_env(stack.settings.ports.agi, script, "1700000000.999")
    env.update(agi_extension=ACME, agi_callerid="0612600001", agi_calleridname="Nobody")
    peer = await AgiPeer.connect(stack.settings.ports.agi, env)
    await peer.rest_answering()
    await peer.close()

    claimed = await stack.wait_record(lambda r: r.linkedid == "1700000000.999")
    assert claimed.client_id == "acme"
    closed = await stack.wait_record(
        lambda r: r.linkedid == "1700000000.999" and r.outcome != "in-progress", timeout=30
    )
    assert closed.outcome == "unknown" and closed.end_inferred
    assert closed.ended_at is not None


async def test_calls_while_the_engine_is_down_are_rebuilt_from_asterisks_account(
    stack: Stack,
) -> None:
    await stack.stop_engine(signal.SIGKILL)
    # The failure context rings op3 (no answer); the message box answers, says its prompt
    # (about 6 s), and the caller leaves a message.
    result = await stack.call(ACME, caller_num="0612700001", hold_ms=12000, timeout=60)
    assert result.ok, result.output[-1500:]
    seen = await repo.list_calls(stack.sessions, limit=1000)
    assert not [r for r in seen if r.caller_number == "0612700001"]  # nobody wrote it down

    await stack.start_engine()
    record = await stack.wait_record(finished("0612700001"), timeout=60)
    assert record.rebuilt
    assert (record.client_id, record.called, record.outcome) == ("acme", ACME, "message-left")
    # nothing on record came from the engine: the record says it was down
    assert record.route == "fallback"
    assert record.failure_reason is not None and "engine unreachable" in record.failure_reason
    assert record.message_path is not None and record.message_path.endswith(".wav")
    assert record.arrived_at is not None and record.ended_at is not None
    assert record.arrived_at < record.ended_at


async def test_a_call_the_engine_lost_sight_of_is_completed_from_the_account(
    stack: Stack,
) -> None:
    call = asyncio.create_task(stack.call(ACME, caller_num="0612800001", hold_ms=3000))
    live = await stack.wait_record(
        lambda r: r.caller_number == "0612800001" and r.operator == "op1"
    )
    await stack.stop_engine(signal.SIGKILL)  # it never hears of the hang-up
    assert (await call).ok
    assert (await repo.get_call(stack.sessions, live.linkedid)).outcome == "answered"
    assert (await repo.get_call(stack.sessions, live.linkedid)).ended_at is None

    await stack.start_engine()
    record = await stack.wait_record(
        lambda r: r.linkedid == live.linkedid and r.ended_at is not None, timeout=60
    )
    assert record.rebuilt and not record.end_inferred
    assert (record.outcome, record.operator, record.route) == ("answered", "op1", "operators")
    assert record.answered_at == live.answered_at  # what the engine built live is kept


async def test_the_account_rotates_across_a_reconciliation_and_nothing_is_missed(
    stack: Stack,
) -> None:
    path = account_path(stack.settings)

    def archived() -> list[Path]:
        return [p for p in archives(path) if p.name != pending_path(path).name]

    async def away_call(number: str) -> None:
        """A call while the engine is away: on record once the engine is back."""
        await stack.stop_engine(signal.SIGKILL)
        result = await stack.call(ACME, caller_num=number, hold_ms=300)
        assert result.ok, result.output[-1500:]
        await stack.start_engine()
        record = await stack.wait_record(finished(number), timeout=60)
        assert record.rebuilt and record.client_id == "acme"

    # calls the engine learns of from the account alone, until a reconciliation has rotated
    # it (past ROTATE_AT bytes): each one on record, before and after the rotation
    had = len(archived())
    for n in range(12):
        await away_call(f"06129{n:05d}")
        if len(archived()) > had:
            break
    assert len(archived()) > had, sorted(p.name for p in path.parent.iterdir())
    assert not path.exists() or path.stat().st_size < ROTATE_AT
    # the next one is read from the new file's start
    await away_call("0612999999")
    assert path.exists() and path.stat().st_size < ROTATE_AT
    # the daily purge's blanking reads the files that may hold an old line: none here
    assert blank_old(path, datetime.now(UTC) - timedelta(days=1)) == 0
