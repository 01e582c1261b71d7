"""The real AgiServer on a loopback port, driven by a scripted peer playing Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agi_peer import GUARD, HOSTILE_NAME, default_env

from ivr import variables as v
from ivr.agi import AgiCall, AgiCommandError, AgiHangup, AgiTimeout, Handler, Reply

Body = Callable[[AgiCall, dict[str, Any]], Awaitable[Any]]


@dataclass
class Outcome:
    call: AgiCall
    value: Any = None
    error: BaseException | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class Outcomes:
    """Handlers record what happened here; the test body makes the assertions."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Outcome] = asyncio.Queue()

    def handler(self, body: Body) -> Handler:
        async def handle(call: AgiCall) -> None:
            notes: dict[str, Any] = {}
            try:
                value = await body(call, notes)
            except BaseException as exc:
                self.queue.put_nowait(Outcome(call, error=exc, notes=notes))
                raise
            self.queue.put_nowait(Outcome(call, value, notes=notes))

        return handle

    async def next(self) -> Outcome:
        async with asyncio.timeout(GUARD):
            return await self.queue.get()


class Failures:
    """An on_failure hook that remembers its arguments."""

    def __init__(self) -> None:
        self.seen: list[tuple[AgiCall, BaseException | None, str]] = []

    async def __call__(self, call: AgiCall, exc: BaseException | None, reason: str) -> None:
        self.seen.append((call, exc, reason))


async def test_set_variable_round_trip(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> str | None:
        name = await call.get_variable("CALLERID(name)")
        await call.set_variable(v.CLIENT_NAME, name or "")
        await call.set_variable(v.ROUTE, "operators")
        return name

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port, default_env(server.port, "inbound?x=1", "1700000000.1"))

    first = await peer.exchange("200 result=1 (Rossi (Milano))")
    second = await peer.exchange("200 result=1")
    third = await peer.exchange("200 result=1")
    rest = await peer.rest()
    outcome = await outcomes.next()

    assert first == b"GET VARIABLE CALLERID(name)\n"
    assert second == b'SET VARIABLE IVR_CLIENT_NAME "Rossi (Milano)"\n'
    assert third == b'SET VARIABLE IVR_ROUTE "operators"\n'
    assert rest == b""
    assert outcome.error is None
    assert outcome.value == "Rossi (Milano)"
    call = outcome.call
    assert (call.route, call.query, call.args) == ("inbound", {"x": "1"}, ["1700000000.1"])
    assert call.env["agi_calleridname"] == HOSTILE_NAME
    assert call.env["agi_accountcode"] == ""
    assert not call.hung_up
    assert (server.calls_handled, server.calls_failed) == (1, 0)


async def test_set_variables_sends_plain_values_in_one_mset(agi_server, agi_peer) -> None:
    """One round trip for the engine's own words; what a caller could have typed, or what
    MSet would split (a comma, '='), still goes alone and quoted."""
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.set_variables(
            {
                v.ROUTE: "operators",
                f"{v.TARGETS}_1": "PJSIP/op1&PJSIP/op2",
                v.MESSAGE_FILE: "/srv/ivr/demo/messages/acme/1700000000.1",
                v.CLIENT_NAME: "Rossi, Bianchi & C.",
                "CALLERID(name)": 'Evil "Bob",IVR_ROUTE=hangup',
                v.PRIORITY: "0",
                "CALLERID(num)": "Caffè Roma: 0612",  # plain text, whoever typed it
                "CONNECTEDLINE(name)": "${SHELL(id)}",
            }
        )

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    lines = await peer.rest_answering("200 result=0")
    outcome = await outcomes.next()

    assert lines == [
        b'SET VARIABLE IVR_CLIENT_NAME "Rossi, Bianchi & C."\n',
        b'SET VARIABLE CALLERID(name) "Evil \\"Bob\\",IVR_ROUTE=hangup"\n',
        b'SET VARIABLE CONNECTEDLINE(name) "${SHELL(id)}"\n',
        b'EXEC MSet "IVR_ROUTE=operators,IVR_TARGETS_1=PJSIP/op1&PJSIP/op2,'
        b"IVR_MESSAGE_FILE=/srv/ivr/demo/messages/acme/1700000000.1,IVR_PRIORITY=0,"
        + 'CALLERID(num)=Caffè Roma: 0612"\n'.encode(),
    ]
    assert outcome.error is None


async def test_hostile_caller_name_goes_out_as_one_line(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.set_variable(v.CLIENT_NAME, 'Evil "Bob"\nEXEC Dial PJSIP/x\\')
        await call.set_variable(v.CLIENT_NAME, call.env["agi_calleridname"])
        await call.set_variable(v.CLIENT_NAME, "a\r\nHANGUP\0")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    lines = await peer.rest_answering("200 result=1")
    outcome = await outcomes.next()

    assert lines == [
        b'SET VARIABLE IVR_CLIENT_NAME "Evil \\"Bob\\" EXEC Dial PJSIP/x\\\\"\n',
        b'SET VARIABLE IVR_CLIENT_NAME "\\"Bob\\" O\'Brien; SET VARIABLE IVR_ROUTE'
        b' \\\\\\"hangup\\\\\\" (x)"\n',
        b'SET VARIABLE IVR_CLIENT_NAME "a  HANGUP "\n',
    ]
    assert outcome.error is None
    assert server.calls_failed == 0


async def test_unprompted_hangup_does_not_shift_replies(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        notes["value"] = await call.get_variable("DIALSTATUS")
        notes["hung_up"] = call.hung_up
        await call.set_variable(v.ROUTE, "operators")

    failures = Failures()
    server = await agi_server({"inbound": outcomes.handler(inbound)}, on_failure=failures)
    peer = await agi_peer(server.port)

    command = await peer.exchange("HANGUP", "200 result=1 (ANSWER)")
    rest = await peer.rest()
    outcome = await outcomes.next()

    assert command == b"GET VARIABLE DIALSTATUS\n"
    assert outcome.notes == {"value": "ANSWER", "hung_up": True}
    assert isinstance(outcome.error, AgiHangup)
    assert rest == b""  # neither the refused SET VARIABLE nor failure variables went out
    assert (server.calls_handled, server.calls_failed) == (1, 0)
    assert failures.seen == []


async def test_hangup_then_511_is_a_hangup(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.stream_file("welcome")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    command = await peer.exchange(
        "HANGUP", "511 Command Not Permitted on a dead channel or intercepted"
    )
    rest = await peer.rest()
    outcome = await outcomes.next()

    assert command == b'STREAM FILE "welcome" ""\n'
    assert isinstance(outcome.error, AgiHangup)
    assert outcome.call.hung_up
    assert rest == b""
    assert (server.calls_handled, server.calls_failed) == (1, 0)


async def test_unknown_route_sets_failure_variables(agi_server, agi_peer) -> None:
    failures = Failures()
    server = await agi_server({"inbound": Outcomes().handler(_never)}, on_failure=failures)
    peer = await agi_peer(server.port, default_env(server.port, "nosuch?x=1"))

    lines = await peer.rest_answering("200 result=1")

    assert lines == [
        b'SET VARIABLE IVR_ROUTE "failure"\n',
        b'SET VARIABLE IVR_FAILURE_REASON "unknown route"\n',
    ]
    assert (server.calls_handled, server.calls_failed) == (0, 1)
    assert [(call.route, exc, reason) for call, exc, reason in failures.seen] == [
        ("nosuch", None, "unknown route")
    ]


async def test_handler_error_sets_failure_variables(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.set_variable(v.ROUTE, "operators")
        raise RuntimeError("database down while serving 'Bob', \"x\"")

    failures = Failures()
    server = await agi_server({"inbound": outcomes.handler(inbound)}, on_failure=failures)
    peer = await agi_peer(server.port)

    lines = await peer.rest_answering("200 result=1")
    outcome = await outcomes.next()

    assert lines == [
        b'SET VARIABLE IVR_ROUTE "operators"\n',
        b'SET VARIABLE IVR_ROUTE "failure"\n',
        b'SET VARIABLE IVR_FAILURE_REASON "RuntimeError"\n',
    ]
    assert (server.calls_handled, server.calls_failed) == (0, 1)
    assert len(failures.seen) == 1
    assert failures.seen[0][1] is outcome.error
    assert failures.seen[0][2] == "RuntimeError"


async def test_silent_peer_times_out(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        notes["sent"] = asyncio.get_running_loop().time()
        await call.get_variable("CALLERID(num)")

    failures = Failures()
    server = await agi_server(
        {"inbound": outcomes.handler(inbound)}, read_timeout=0.2, on_failure=failures
    )
    peer = await agi_peer(server.port)

    command = await peer.read_command()
    outcome = await outcomes.next()
    waited = asyncio.get_running_loop().time() - outcome.notes["sent"]
    rest = await peer.rest()

    assert command == b"GET VARIABLE CALLERID(num)\n"
    assert isinstance(outcome.error, AgiTimeout)
    assert waited >= 0.19
    assert not outcome.call.in_step
    # A late reply could be taken for the next command's: nothing more is sent.
    assert rest == b""
    assert (server.calls_handled, server.calls_failed) == (0, 1)
    assert [reason for _, _, reason in failures.seen] == ["AgiTimeout"]


async def test_peer_disconnecting_mid_call(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.get_variable("CALLERID(num)")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    command = await peer.read_command()
    await peer.close()
    outcome = await outcomes.next()
    await server.close()

    assert command == b"GET VARIABLE CALLERID(num)\n"
    assert isinstance(outcome.error, AgiHangup)
    assert outcome.call.hung_up
    assert (server.calls_handled, server.calls_failed) == (1, 0)
    assert server.active_calls == 0


async def test_fifty_concurrent_calls(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        name = await call.get_variable("CALLERID(name)")
        await call.set_variable(v.CLIENT_ID, f"{call.args[0]}:{name}")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peers = await asyncio.gather(
        *(agi_peer(server.port, default_env(server.port, "inbound", str(n))) for n in range(50))
    )

    firsts = await asyncio.gather(*(peer.read_command() for peer in peers))
    in_flight = server.active_calls

    async def finish(n: int) -> list[bytes]:
        await peers[n].reply(f"200 result=1 (caller {n})")
        return await peers[n].rest_answering("200 result=1")

    rests = await asyncio.gather(*(finish(n) for n in range(50)))
    await server.close()

    assert firsts == [b"GET VARIABLE CALLERID(name)\n"] * 50
    assert in_flight == 50
    assert rests == [[f'SET VARIABLE IVR_CLIENT_ID "{n}:caller {n}"\n'.encode()] for n in range(50)]
    assert (server.calls_handled, server.calls_failed, server.active_calls) == (50, 0, 0)
    assert sorted(int(outcomes.queue.get_nowait().call.args[0]) for _ in range(50)) == list(
        range(50)
    )


async def test_usage_reply_keeps_the_conversation_in_step(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> str | None:
        try:
            await call.command("GET DATA")
        except AgiCommandError as exc:
            notes["reply"] = exc.reply
        return await call.get_variable("AGISTATUS")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    first = await peer.exchange(
        "520-Invalid command syntax.  Proper usage follows:",
        "Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
        "520 End of proper usage.",
    )
    second = await peer.exchange("200 result=1 (SUCCESS)")
    outcome = await outcomes.next()

    assert (first, second) == (b"GET DATA\n", b"GET VARIABLE AGISTATUS\n")
    assert outcome.value == "SUCCESS"
    reply = outcome.notes["reply"]
    assert isinstance(reply, Reply)
    assert reply.code == 520
    assert reply.extra["usage"] == "Usage: GET DATA <file to be streamed> [timeout] [maxdigits]"


async def test_media_commands(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        notes["digits"] = await call.get_data("enter-code", 3000, 4)
        notes["none"] = await call.get_data("enter-code", 3000, 4)
        notes["pressed"] = await call.stream_file("menu", "12#")
        notes["exec"] = await call.exec("Set", 'A=b "c"', "d")
        notes["record"] = await call.record_file("/srv/ivr/m/x", "wav", "#", 120000, True, 3)
        await call.get_data("enter-code", 3000, 4)

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    lines = [
        await peer.exchange("200 result=12"),
        await peer.exchange("200 result= (timeout)"),
        await peer.exchange("200 result=50 endpos=8000"),
        await peer.exchange("200 result=0"),
        await peer.exchange("200 result=0 (timeout) endpos=96000"),
        await peer.exchange("200 result=-1"),
    ]
    rest = await peer.rest()
    outcome = await outcomes.next()

    assert lines == [
        b'GET DATA "enter-code" 3000 4\n',
        b'GET DATA "enter-code" 3000 4\n',
        b'STREAM FILE "menu" "12#"\n',
        b'EXEC Set "A=b \\"c\\",d"\n',
        b'RECORD FILE "/srv/ivr/m/x" wav "#" 120000 BEEP s=3\n',
        b'GET DATA "enter-code" 3000 4\n',
    ]
    assert rest == b""
    notes = outcome.notes
    assert (notes["digits"], notes["none"], notes["pressed"]) == ("12", "", "2")
    assert notes["exec"].result == "0"
    assert (notes["record"].data, notes["record"].extra) == ("timeout", {"endpos": "96000"})
    assert isinstance(outcome.error, AgiHangup)  # result=-1 on GET DATA: the caller left
    assert (server.calls_handled, server.calls_failed) == (1, 0)


async def test_malformed_environment_is_dropped(agi_server, agi_peer) -> None:
    server = await agi_server({"inbound": Outcomes().handler(_never)})
    peer = await agi_peer(server.port, send_env=False)

    await peer.send(b"agi_network: yes\nthis line has no colon\n\n")
    rest = await peer.rest()

    assert rest == b""
    assert (server.calls_handled, server.calls_failed) == (0, 1)


async def test_silent_connection_is_dropped_after_read_timeout(agi_server, agi_peer) -> None:
    server = await agi_server({"inbound": Outcomes().handler(_never)}, read_timeout=0.2)
    peer = await agi_peer(server.port, send_env=False)

    rest = await peer.rest()

    assert rest == b""
    assert (server.calls_handled, server.calls_failed) == (0, 1)


async def test_close_cancels_calls_in_flight(agi_server, agi_peer) -> None:
    outcomes = Outcomes()

    async def inbound(call: AgiCall, notes: dict[str, Any]) -> None:
        await call.get_variable("CALLERID(num)")

    server = await agi_server({"inbound": outcomes.handler(inbound)})
    peer = await agi_peer(server.port)

    command = await peer.read_command()
    in_flight = server.active_calls
    await server.close(grace=0.1)
    outcome = await outcomes.next()
    rest = await peer.rest()

    assert command == b"GET VARIABLE CALLERID(num)\n"
    assert in_flight == 1
    assert isinstance(outcome.error, asyncio.CancelledError)
    assert rest == b""
    assert server.active_calls == 0
    assert (server.calls_handled, server.calls_failed) == (0, 0)


async def _never(call: AgiCall, notes: dict[str, Any]) -> None:
    raise AssertionError("this route must not run")
