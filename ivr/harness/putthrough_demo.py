"""`make demo`'s put-through: a caller of a client with people asks for its owner; the
operator who answers announces the call; the owner's phone (a sipp behind the trunk) takes
it with 1, and the caller and the owner are bridged while the operator is free again."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.asterisk.render import Trunk
from ivr.harness.sipp import SCENARIOS, place_calls, sipp_binary
from ivr.harness.stack import until
from ivr.putthrough import store
from ivr.putthrough.models import ANNOUNCED
from ivr.records import repo

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.routing import Rules
    from ivr.routing.model import Client

CALLER = ("0612345679", "Anna Neri")
WAIT = 60.0


def put_through_client(rules: Rules) -> Client | None:
    """The client whose person the demo puts a call through to: the first with people."""
    return next((c for c in rules.clients.values() if c.people), None)


async def put_one_through(
    settings: Settings, rules: Rules, features: list[Any], workdir: Path, trunk: Trunk
) -> tuple[bool, str]:
    """One call put through, announced, to the person's phone at the `trunk` Asterisk calls
    out through; (it worked, what to print)."""
    feature = next((f for f in features if f.name == "put_through"), None)
    client = put_through_client(rules)
    if feature is None or client is None:
        return False, "No client has people to put calls through to: nothing to show."
    person = next(iter(client.people.values()))
    with open(workdir / "person.log", "wb") as out:
        phone = await asyncio.create_subprocess_exec(
            sipp_binary(), "-sf", str(SCENARIOS / "person.xml"), "-i", trunk.address,
            "-p", str(trunk.port), "-nostdin", cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    call = asyncio.create_task(
        place_calls((settings.bind, settings.ports.sip), client.numbers[0],
                    caller_num=CALLER[0], caller_name=CALLER[1], hold_ms=15_000, timeout=90)
    )  # fmt: skip
    try:
        board = feature.portal.board

        async def operator() -> str | None:
            return next((op for op in rules.operators if board.live(op).on_call), None)

        answering = await until(operator, WAIT)
        if answering is None:
            return False, "Nobody answered the caller to put through."
        problem = await feature.put_through(
            answering, person.id, ANNOUNCED, who=CALLER[1], why="una perdita in cucina"
        )
        if problem:
            return False, f"Put through refused: {problem}"
        linkedid = board.live(answering).on_call or board.live(answering).last_call

        async def closed() -> list[store.Attempt] | None:
            found = await store.for_call(feature.services.sessions, linkedid or "")
            return found if found and found[-1].outcome else None

        attempts = await until(closed, WAIT)
        result = await call
        record = await repo.get_call(feature.services.sessions, linkedid or "")
        if not attempts:
            return False, "The put-through did not end in time."
        a = attempts[-1]
        text = (
            f"  {CALLER[0]} ({CALLER[1]}) -> {client.numbers[0]}: answered by {answering}, "
            f"put through to {a.person_name} ({a.number}), announced: {a.outcome} after "
            f"{a.held_seconds or 0:.0f} s on hold; the call {record.outcome if record else '?'}"
        )
        return a.outcome == "accepted" and result.ok, text
    finally:
        if not call.done():
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call
        if phone.returncode is None:
            phone.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(phone.wait(), 10)
