"""The engine's control API and /metrics through the real engine: on the port the console and
the client area share, nothing is told and nothing is changed without the control token, and
the commands and Prometheus (a bearer token) are served with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from fault_rig import running_stack
from prometheus_client.parser import text_string_to_metric_families

from ivr.control import bearer
from ivr.harness.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
CONTROL_POSTS = ("/api/reload", "/api/wake/escalations", "/api/wake/reconcile", "/campaigns/wake")
CONTROL_GETS = ("/api/status", "/metrics")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("faults-control")) as running:
        yield running


def url(stack: Stack, path: str) -> str:
    return f"http://{stack.settings.bind}:{stack.settings.ports.http}{path}"


async def reloads(stack: Stack) -> float:
    async with aiohttp.ClientSession() as http:
        headers = bearer(stack.settings.control_token)
        async with http.get(url(stack, "/metrics"), headers=headers) as answer:
            assert answer.status == 200
            text = await answer.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ivr_rules_reloads_total"
    )


async def test_without_the_token_nothing_is_told(stack: Stack) -> None:
    clients = ("acme",)  # a client id the status and the metrics would name
    async with aiohttp.ClientSession() as http:
        for path in CONTROL_GETS:
            for headers in ({}, bearer("x" * 32), {"Authorization": "Basic b3AxOm9wMQ=="}):
                async with http.get(url(stack, path), headers=headers) as answer:
                    body = await answer.text()
                    assert answer.status == 401, (path, headers)
                    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
                    assert not any(c in body for c in clients), body


async def test_a_cross_site_post_changes_nothing(stack: Stack) -> None:
    before = await reloads(stack)
    async with aiohttp.ClientSession() as http:
        for path in CONTROL_POSTS:
            # What a page elsewhere can send without a preflight: a text/plain POST.
            async with http.post(
                url(stack, path),
                data="x",
                headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
            ) as answer:
                assert answer.status == 401, path
    assert await reloads(stack) == before  # the rules were not reloaded


async def test_with_the_token_the_commands_and_prometheus_are_served(stack: Stack) -> None:
    before = await reloads(stack)
    status = stack.status()  # the harness, as `ivr status`, sends the token
    assert status is not None and status["ami"]["connected"]
    async with aiohttp.ClientSession() as http:
        headers = bearer(stack.settings.control_token)
        async with http.post(url(stack, "/api/reload"), headers=headers) as answer:
            assert answer.status == 200, await answer.text()
        async with http.post(url(stack, "/campaigns/wake"), headers=headers) as answer:
            assert answer.status == 200
    assert await reloads(stack) == before + 1
