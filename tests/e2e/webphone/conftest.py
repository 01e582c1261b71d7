"""A headless Chromium with fake audio devices for the browser phone's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from phonebrowser import chromium, chromium_args, tone
from playwright.async_api import Browser, async_playwright


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    executable = chromium()
    voice = tone(tmp_path, "operator.wav", 48000, ["-b", "16"], 30)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=chromium_args(voice)
        )
        try:
            yield launched
        finally:
            await launched.close()
