"""The FastAGI server: one asyncio task per connection, routed by the script path.

Whatever goes wrong on our side, the dialplan is told so (IVR_ROUTE=failure) while the
channel still listens, so the caller reaches the failure context instead of being dropped.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from ivr import variables
from ivr.agi.call import AgiCall
from ivr.agi.protocol import AgiError, AgiHangup, parse_env

logger = logging.getLogger(__name__)

Handler = Callable[[AgiCall], Awaitable[None]]
FailureHook = Callable[[AgiCall, BaseException | None, str], Awaitable[None]]
ServedHook = Callable[[str, float], None]  # (route, seconds the route held the call)

MAX_ENV_LINES = 256
# The query parameter of every AGI URL in the dialplan that carries the instance's token:
# agi://host:port/inbound?token=... . A request without it is not from our Asterisk.
AGI_TOKEN = "token"
CLOSE_TIMEOUT = 2.0
# The reason lands inside dialplan function arguments (IF, UserEvent): keep it plain.
_REASON_UNSAFE = re.compile(r"[^A-Za-z0-9 _.-]")


class AgiServer:
    """Serve FastAGI on host:port (0: any free port), one handler per route."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        read_timeout: float = 10.0,
        on_failure: FailureHook | None = None,
        on_served: ServedHook | None = None,
        token: str | None = None,
    ) -> None:
        """`token`: requests must carry it (AGI_TOKEN in the script's query) or are closed
        unanswered; None accepts any (the wire tests' scripted peers)."""
        self._routes = dict(routes)
        self._token = token.encode() if token is not None else None
        self._host = host
        self._port = port
        self.read_timeout = read_timeout
        self._on_failure = on_failure
        self._on_served = on_served
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls_handled = 0
        self.calls_failed = 0
        self.calls_refused = 0  # requests without the instance's token

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("AgiServer already started")
        self._server = await asyncio.start_server(self._connection, self._host, self._port)
        logger.info("FastAGI listening on %s:%d", self._host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AgiServer is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_calls(self) -> int:
        return len(self._tasks)

    async def close(self, grace: float = 5.0) -> None:
        """Stop accepting; let calls in flight finish for `grace` seconds, then cancel them."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace)
        try:
            async with asyncio.timeout(grace):
                await server.wait_closed()
        except TimeoutError:
            logger.warning("FastAGI server: connections still open after %.1f s", grace)

    async def __aenter__(self) -> AgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- one connection -------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            env = await self._read_env(reader)
            if env is not None:
                await self._serve(AgiCall(env, reader, writer, read_timeout=self.read_timeout))
        finally:
            await _close(writer)
            self._tasks.discard(task)

    async def _read_env(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        """The agi_* block, read in one go up to its blank line."""
        try:
            async with asyncio.timeout(self.read_timeout):
                try:
                    raw = await reader.readuntil(b"\n\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        raise AgiError("connection closed inside the AGI environment") from exc
                    return None  # a bare connect and close: a port probe, not a call
                except asyncio.LimitOverrunError as exc:
                    raise AgiError("AGI environment too long") from exc
            lines = raw.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
            lines = [line for line in lines if line]
            if len(lines) > MAX_ENV_LINES:
                raise AgiError("AGI environment too long")
            return parse_env(lines)
        except (AgiError, TimeoutError, ValueError, ConnectionError) as exc:
            self.calls_failed += 1
            logger.warning("FastAGI: dropping a connection with a bad environment: %r", exc)
            return None

    def _authorised(self, call: AgiCall) -> bool:
        """Does the request carry the instance's token? Constant time; never logged."""
        given = call.query.pop(AGI_TOKEN, None)  # routes never see it, so never log it
        if self._token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self._token)

    async def _serve(self, call: AgiCall) -> None:
        if not self._authorised(call):
            self.calls_refused += 1
            logger.warning(
                "FastAGI: refused a %r request without the instance's token (channel %s)",
                call.route[:40],
                _channel(call)[:80],
            )
            return  # closed unanswered: it is not a call of our Asterisk
        began = time.perf_counter()
        try:
            await self._route(call)
        finally:
            if self._on_served is not None:
                self._on_served(call.route, time.perf_counter() - began)

    async def _route(self, call: AgiCall) -> None:
        handler = self._routes.get(call.route)
        if handler is None:
            self.calls_failed += 1
            logger.error("FastAGI: unknown route %r for %s", call.route, _channel(call))
            await self._fail(call, None, "unknown route")
            return
        try:
            await handler(call)
        except AgiHangup as exc:
            self.calls_handled += 1
            logger.info("FastAGI %s: %s hung up (%s)", call.route, _channel(call), exc)
        except Exception as exc:
            self.calls_failed += 1
            logger.exception("FastAGI %s: handler failed for %s", call.route, _channel(call))
            await self._fail(call, exc, type(exc).__name__)
        else:
            self.calls_handled += 1

    async def _fail(self, call: AgiCall, exc: BaseException | None, reason: str) -> None:
        reason = _REASON_UNSAFE.sub("_", reason)[:80]
        if call.hung_up or not call.in_step:
            logger.info("FastAGI %s: cannot tell the dialplan (%s)", call.route, reason)
        else:
            try:
                await call.set_variable(variables.ROUTE, "failure")
                await call.set_variable(variables.FAILURE_REASON, reason)
            except AgiError as err:
                logger.info("FastAGI %s: failure variables not set: %s", call.route, err)
        if self._on_failure is not None:
            try:
                async with asyncio.timeout(self.read_timeout):
                    await self._on_failure(call, exc, reason)
            except Exception:
                logger.exception("FastAGI %s: on_failure hook failed", call.route)


def _channel(call: AgiCall) -> str:
    return call.env.get("agi_channel", "?")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError):
        pass
