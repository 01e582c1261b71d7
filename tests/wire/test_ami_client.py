"""AmiClient against a scripted AMI peer on 127.0.0.1: login, correlation, event order,
event lists, loss of the link, reconnection and a clean close."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ami_peer import AmiPeer, Lines, Recorder

from ivr.ami import AmiActionError, AmiClient, AmiDisconnected, Message
from ivr.harness.stack import poll

FAST = {"reconnect_delay": 0.01, "reconnect_max_delay": 0.05, "action_timeout": 2.0}


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    server = AmiPeer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., AmiClient]]:
    """Clients on the peer's port, fast to reconnect, all closed after the test."""
    made: list[AmiClient] = []

    def make(peer: AmiPeer, **options: Any) -> AmiClient:
        options = {"username": "ivr", "secret": peer.secret, **FAST, **options}
        client = AmiClient("127.0.0.1", peer.port, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def reply(*extra: tuple[str, str], response: str = "Success") -> Callable[[Message], list[Lines]]:
    def answer(action: Message) -> list[Lines]:
        return [[("Response", response), ("ActionID", action["ActionID"]), *extra]]

    return answer


async def test_login_then_events_reach_on_event(peer, make_client, recorder):
    client = make_client(peer, on_event=recorder.on_event, on_connect=recorder.on_connect)
    await client.start()
    await client.wait_connected(5)
    await peer.send([("Event", "Newchannel"), ("Channel", "PJSIP/trunk-00000001")])
    await recorder.wait_until(lambda: len(recorder.events) == 2)

    assert client.connected
    assert peer.logins == 1 and recorder.connects == 1
    assert [m.event for m in recorder.events] == ["FullyBooted", "Newchannel"]
    assert recorder.events[1]["Channel"] == "PJSIP/trunk-00000001"
    assert recorder.events[1].timestamp is not None


async def test_wrong_secret_is_logged_and_retried_without_crashing(peer, make_client, caplog):
    client = make_client(peer, secret="not-the-s3cret")
    await client.start()
    await peer.wait_until(lambda: peer.login_attempts >= 3)

    assert not client.connected
    with pytest.raises(TimeoutError):
        await client.wait_connected(0.01)
    with pytest.raises(AmiDisconnected):
        await client.send_action({"Action": "CoreStatus"})
    refusals = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert refusals and "Authentication failed" in refusals[0].getMessage()
    assert "'ivr'" in refusals[0].getMessage()
    assert "not-the-s3cret" not in caplog.text  # a secret is never logged

    peer.secret = "not-the-s3cret"  # manager.conf now agrees: the same loop logs in
    await client.wait_connected(5)
    assert peer.logins == 1


async def test_two_actions_answered_out_of_order_between_events(peer, make_client, recorder):
    client = make_client(peer, on_event=recorder.on_event)
    await client.start()
    await client.wait_connected(5)

    first = asyncio.create_task(client.send_action({"Action": "Getvar", "Variable": "A"}))
    second = asyncio.create_task(client.send_action({"Action": "Getvar", "Variable": "B"}))
    got = [await peer.next_action(), await peer.next_action()]
    ids = {action["Variable"]: action["ActionID"] for action in got}
    await peer.send([("Event", "VarSet"), ("ActionID", "someone-else"), ("Value", "x")])
    await peer.send([("Response", "Success"), ("ActionID", ids["B"]), ("Value", "bee")])
    await peer.send([("Event", "Newstate"), ("ChannelState", "6")])
    await peer.send([("Response", "Success"), ("ActionID", ids["A"]), ("Value", "ay")])

    assert (await second)["Value"] == "bee"
    assert (await first)["Value"] == "ay"
    assert ids["A"] != ids["B"]
    await recorder.wait_until(lambda: recorder.names() == ["VarSet", "Newstate"])


async def test_error_response_raises_with_the_message(peer, make_client):
    peer.on("Hangup", reply(("Message", "No such channel"), response="Error"))
    client = make_client(peer)
    await client.start()
    await client.wait_connected(5)

    with pytest.raises(AmiActionError, match="No such channel") as caught:
        await client.send_action({"Action": "Hangup", "Channel": "PJSIP/nobody-1"})
    assert caught.value.message.response == "Error"
    assert (await client.send_action({"Action": "Ping"}))["Ping"] == "Pong"


def queue_status(action: Message) -> list[Lines]:
    action_id = action["ActionID"]
    return [
        [("Response", "Success"), ("ActionID", action_id), ("EventList", "start")],
        [("Event", "QueueParams"), ("Queue", "ops"), ("ActionID", action_id)],
        [("Event", "Newchannel"), ("Channel", "PJSIP/a-1")],  # unrelated, in the middle
        [("Event", "QueueMember"), ("Queue", "ops"), ("Name", "alice"), ("ActionID", action_id)],
        [
            ("Event", "QueueStatusComplete"),
            ("ActionID", action_id),
            ("EventList", "Complete"),
            ("ListItems", "2"),
        ],
    ]


async def test_event_list_action_collects_its_events(peer, make_client, recorder):
    peer.on("QueueStatus", queue_status)
    client = make_client(peer, on_event=recorder.on_event)
    await client.start()
    await client.wait_connected(5)

    items = await client.send_action_list({"Action": "QueueStatus", "Queue": "ops"})

    assert [m.event for m in items] == ["QueueParams", "QueueMember"]
    assert items[1]["Name"] == "alice"
    await recorder.wait_until(lambda: recorder.names() == ["Newchannel"])


async def test_event_list_refused_raises(peer, make_client):
    peer.on("QueueStatus", reply(("Message", "Permission denied"), response="Error"))
    client = make_client(peer)
    await client.start()
    await client.wait_connected(5)

    with pytest.raises(AmiActionError, match="Permission denied"):
        await client.send_action_list({"Action": "QueueStatus"})


async def test_slow_handler_sees_events_one_at_a_time_in_order(peer, make_client):
    peer.on("CoreStatus", reply(("CoreCurrentCalls", "0")))
    seen: list[str] = []
    gate = asyncio.Event()
    first_started = asyncio.Event()
    all_done = asyncio.Event()

    async def on_event(message: Message) -> None:
        if message.event != "UserEvent":
            return
        seen.append("start " + message["N"])
        if message["N"] == "1":
            first_started.set()
            await gate.wait()
        seen.append("end " + message["N"])
        if message["N"] == "3":
            all_done.set()

    client = make_client(peer, on_event=on_event)
    await client.start()
    await client.wait_connected(5)
    for n in "123":
        await peer.send([("Event", "UserEvent"), ("UserEvent", "step"), ("N", n)])
    async with asyncio.timeout(5):
        await first_started.wait()
    # Responses still flow while the handler is stuck; events 2 and 3 wait their turn.
    status = await client.send_action({"Action": "CoreStatus"})
    assert status["CoreCurrentCalls"] == "0"
    assert seen == ["start 1"]

    gate.set()
    async with asyncio.timeout(5):
        await all_done.wait()
    assert seen == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]


async def test_handler_exception_is_logged_and_later_events_still_arrive(
    peer, make_client, recorder, caplog
):
    async def on_event(message: Message) -> None:
        if message.get("N") == "2":
            raise RuntimeError("database is locked")
        await recorder.on_event(message)

    client = make_client(peer, on_event=on_event)
    await client.start()
    await client.wait_connected(5)
    for n in "123":
        await peer.send([("Event", "UserEvent"), ("N", n)])
    await recorder.wait_until(lambda: len(recorder.names()) == 2)

    assert [m["N"] for m in recorder.events if m.event == "UserEvent"] == ["1", "3"]
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1 and "database is locked" in str(failures[0].exc_info[1])
    assert client.connected


async def test_restart_fails_pending_action_then_reconnects_on_same_port(peer, make_client):
    peer.on("CoreShowChannels", queue_status)  # any list will do as the resync answer
    resyncs: list[list[str]] = []
    resynced_twice = asyncio.Event()

    async def on_connect() -> None:
        items = await client.send_action_list({"Action": "CoreShowChannels"})
        resyncs.append([m.event or "" for m in items])
        if len(resyncs) == 2:
            resynced_twice.set()

    client = make_client(peer, on_connect=on_connect)
    await client.start()
    await peer.wait_until(lambda: peer.actions.qsize() == 1)
    assert (await peer.next_action())["Action"] == "CoreShowChannels"
    port = peer.port

    pending = asyncio.create_task(client.send_action({"Action": "Getvar", "Variable": "X"}))
    await peer.next_action()
    await peer.stop()  # Asterisk restarts
    with pytest.raises(AmiDisconnected):
        await pending
    assert not client.connected
    with pytest.raises(AmiDisconnected):
        await client.send_action({"Action": "Getvar", "Variable": "X"})

    await peer.start()
    await client.wait_connected(5)
    await peer.wait_until(lambda: peer.actions.qsize() == 1)  # the second resync

    assert peer.port == port
    assert peer.logins == 2
    assert (await peer.next_action())["Action"] == "CoreShowChannels"
    async with asyncio.timeout(5):
        await resynced_twice.wait()
    assert resyncs == [["QueueParams", "QueueMember"]] * 2


async def test_unanswered_ping_drops_a_dead_link_and_reconnects(peer, make_client, recorder):
    peer.answer_pings = False  # TCP stays up but nothing answers: a hung Asterisk
    client = make_client(
        peer, on_connect=recorder.on_connect, ping_interval=0.05, action_timeout=0.2
    )
    await client.start()
    await recorder.wait_until(lambda: recorder.connects >= 2)

    assert peer.connections >= 2 and peer.logins >= 2
    assert peer.pings >= 1


async def test_a_server_that_never_greets_is_left_and_retried(make_client):
    silent = AmiPeer(banner=None)
    await silent.start()
    try:
        client = make_client(silent, action_timeout=0.1)
        await client.start()
        await silent.wait_until(lambda: silent.connections >= 2)
        assert not client.connected
        assert silent.login_attempts == 0
    finally:
        await silent.stop()


async def test_timed_out_action_and_its_late_response_leave_the_link_usable(peer, make_client):
    peer.on("CoreStatus", reply(("CoreCurrentCalls", "3")))
    client = make_client(peer)
    await client.start()
    await client.wait_connected(5)

    with pytest.raises(TimeoutError):
        await client.send_action({"Action": "Getvar", "Variable": "SLOW"}, timeout=0.05)
    late = await peer.next_action()
    await peer.send([("Response", "Success"), ("ActionID", late["ActionID"]), ("Value", "x")])

    assert (await client.send_action({"Action": "CoreStatus"}))["CoreCurrentCalls"] == "3"
    assert client.connected


async def test_injected_header_is_refused_and_nothing_is_sent(peer, make_client):
    peer.on("CoreStatus", reply())
    client = make_client(peer)
    await client.start()
    await client.wait_connected(5)

    with pytest.raises(ValueError):
        await client.originate(
            "PJSIP/alice",
            context="ivr",
            exten="s",
            caller_id='"Eve\r\nAction: Hangup\r\nChannel: PJSIP/bob-1" <1>',
        )
    with pytest.raises(ValueError):
        await client.send_action({"Action": "CoreStatus", "ActionID": "mine"})
    await client.send_action({"Action": "CoreStatus"})

    assert (await peer.next_action())["Action"] == "CoreStatus"
    assert peer.actions.empty()


def originate_answer(action: Message) -> list[Lines]:
    action_id = action["ActionID"]
    return [
        [
            ("Response", "Success"),
            ("ActionID", action_id),
            ("Message", "Originate successfully queued"),
        ],
        [
            ("Event", "OriginateResponse"),
            ("ActionID", action_id),
            ("Response", "Success"),
            ("Channel", "PJSIP/alice-00000002"),
            ("Reason", "4"),
        ],
    ]


async def test_originate_sends_variables_and_its_outcome_reaches_on_event(
    peer, make_client, recorder
):
    peer.on("Originate", originate_answer)
    client = make_client(peer, on_event=recorder.on_event)
    await client.start()
    await client.wait_connected(5)

    answer = await client.originate(
        "PJSIP/alice",
        context="ivr-callback",
        exten="s",
        caller_id='"Answering service" <100>',
        variables={"IVR_CALL_ID": "42", "IVR_NOTE": "a=b c"},
    )
    await recorder.wait_until(lambda: recorder.names() == ["OriginateResponse"])

    sent = await peer.next_action()
    assert sent.getall("Variable") == ["IVR_CALL_ID=42", "IVR_NOTE=a=b c"]
    assert (sent["Channel"], sent["Context"], sent["Exten"], sent["Priority"]) == (
        "PJSIP/alice",
        "ivr-callback",
        "s",
        "1",
    )
    assert (sent["Async"], sent["Timeout"], sent["CallerID"]) == (
        "true",
        "30000",
        '"Answering service" <100>',
    )
    outcome = recorder.events[-1]
    assert outcome.action_id == answer.action_id and outcome["Reason"] == "4"


async def test_originate_needs_a_place_or_an_application(peer, make_client):
    client = make_client(peer)
    with pytest.raises(ValueError):
        await client.originate("PJSIP/alice", context="ivr")
    with pytest.raises(ValueError):
        await client.originate("PJSIP/alice", context="ivr", exten="s", application="Playback")
    with pytest.raises(ValueError):
        await client.originate("PJSIP/a", application="Wait", variables={"A=B": "1"})


async def test_close_fails_pending_logs_off_and_leaves_no_task(peer, make_client):
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    client = make_client(peer)
    await client.start()
    await client.wait_connected(5)
    pending = asyncio.create_task(client.send_action({"Action": "Getvar", "Variable": "X"}))
    await peer.next_action()

    await client.close()
    await client.close()  # twice is harmless

    with pytest.raises(AmiDisconnected):
        await pending
    assert not client.connected
    await peer.wait_until(lambda: peer.open_sessions == 0)
    ours = [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")]
    assert ours == []
    gc.collect()
    assert loop_errors == []


async def test_close_while_the_server_is_down(make_client):
    gone = AmiPeer()
    await gone.start()
    await gone.stop()  # nothing listens on this port now
    client = make_client(gone)
    await client.start()

    with pytest.raises(TimeoutError):
        await client.wait_connected(0.05)
    await client.close()
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")] == []


async def test_events_queued_behind_a_slow_batch_come_as_one_batch_in_order(peer, make_client):
    peer.on("CoreStatus", reply(("CoreCurrentCalls", "0")))
    batches: list[list[str]] = []
    gate = asyncio.Event()
    first_started = asyncio.Event()
    all_done = asyncio.Event()

    async def on_batch(messages: list[Message]) -> None:
        steps = [m["N"] for m in messages if m.event == "UserEvent"]
        if not steps:
            return
        batches.append(steps)
        if steps[0] == "1":
            first_started.set()
            await gate.wait()
        if steps[-1] == "5":
            all_done.set()

    client = make_client(peer, on_batch=on_batch)
    await client.start()
    await client.wait_connected(5)
    await peer.send([("Event", "UserEvent"), ("UserEvent", "step"), ("N", "1")])
    async with asyncio.timeout(5):
        await first_started.wait()
    for n in "2345":
        await peer.send([("Event", "UserEvent"), ("UserEvent", "step"), ("N", n)])
    # A reply after the four events: once it is back, all four are queued behind batch 1.
    await client.send_action({"Action": "CoreStatus"})

    gate.set()
    async with asyncio.timeout(5):
        await all_done.wait()
    assert batches == [["1"], ["2", "3", "4", "5"]]


async def test_a_full_event_queue_drops_and_resynchronises_once_drained(peer, make_client):
    """The consumer stuck (a handler waiting): events beyond the bound are dropped and
    counted, and on_connect runs again once the queue is empty."""
    release = asyncio.Event()
    handled: list[str] = []
    connects = 0

    async def on_event(message: Message) -> None:
        await release.wait()
        handled.append(message.get("N", ""))

    async def on_connect() -> None:
        nonlocal connects
        connects += 1

    client = make_client(peer, on_event=on_event, on_connect=on_connect, queue_max=5)
    await client.start()
    await client.wait_connected(5)
    for n in range(12):
        await peer.send([("Event", "Newchannel"), ("N", str(n))])
    await peer.send([("Event", "Hangup"), ("N", "last")])
    filled = await poll(lambda: _value(client.dropped), lambda n: n > 0, 5, "dropped events")
    assert filled > 0 and client.backlog == 5
    release.set()
    await poll(lambda: _value(connects), lambda n: n >= 2, 5, "a second on_connect")
    assert client.dropped > 0
    assert len(handled) + client.dropped == 13 + 1  # FullyBooted counts too


async def _value(value: int) -> int:
    return value
