"""One message posted to a client's own system: JSON with the fields, signed with the
client's secret (HMAC-SHA256), with an idempotency key the receiver can use to drop a repeat.

Through the floor of guard.py: the address checked (and connected to as checked), redirects
never followed, short timeouts, at most ANSWER_READ bytes of the answer read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from ivr.dispatch.guard import Address, GuardedResolver, Refused, check_url

SIGNATURE = "X-Ivr-Signature"
IDEMPOTENCY = "Idempotency-Key"
ANSWER_READ = 4096  # bytes of the receiver's answer read, at most
TIMEOUT_MOST = 10.0  # seconds, whatever the setting says


@dataclass(frozen=True)
class Outcome:
    status: int | None
    answer: str
    error: str | None  # None: delivered (a 2xx)


def signature(secret: str, stamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">."""
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does with the header (documented; used by the tests' receiver)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        expected = signature(secret, int(parts.get("t", "")), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def ssl_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


async def post(
    url: str,
    secret: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    allowed: Collection[Address],
    own: Collection[Address],
    timeout: float,
    context: ssl.SSLContext,
) -> Outcome:
    """POST the payload once; what the receiver answered, or why it could not be sent."""
    try:
        check_url(url, allowed, own)
    except Refused as exc:
        return Outcome(None, "", f"refused: {exc}")
    body = body_of(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ivr-webhook/1",
        IDEMPOTENCY: key,
        SIGNATURE: signature(secret, int(now.timestamp()), body),
    }
    seconds = min(timeout, TIMEOUT_MOST)
    resolver = GuardedResolver(allowed, own, plain=url.lower().startswith("http:"))
    connector = aiohttp.TCPConnector(
        resolver=resolver, use_dns_cache=False, ssl=context, force_close=True
    )
    limits = aiohttp.ClientTimeout(total=seconds, connect=seconds, sock_read=seconds)
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=limits, trust_env=False
        ) as http:
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as r:
                answer = (await r.content.read(ANSWER_READ)).decode("utf-8", "replace")
                if 200 <= r.status < 300:
                    return Outcome(r.status, answer, None)
                if 300 <= r.status < 400:
                    return Outcome(r.status, answer, "a redirect: not followed")
                return Outcome(r.status, answer, f"the receiver answered {r.status}")
    except Refused as exc:
        return Outcome(None, "", f"refused: {exc}")
    except aiohttp.ClientConnectorError as exc:
        cause = exc.os_error
        if isinstance(cause, Refused) or isinstance(exc.__cause__, Refused):
            return Outcome(None, "", f"refused: {cause}")
        return Outcome(None, "", f"could not connect: {exc}")
    except TimeoutError:
        return Outcome(None, "", f"no answer within {seconds:g} s")
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        return Outcome(None, "", f"failed: {exc}")
