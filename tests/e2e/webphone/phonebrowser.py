"""What the browser phone's tests share: a tone file, Debian's Chromium with fake audio
devices (the operator's voice is a tone file), and the console's login."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from playwright.async_api import Page

from ivr.harness.stack import Stack
from ivr.portal import portal_password

CHROMIUM = "/usr/bin/chromium"


def tone(folder: Path, name: str, rate: int, encoding: list[str], seconds: int) -> Path:
    path = folder / name
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", "1", *encoding, str(path),
         "synth", str(seconds), "sine", "440"],
        check=True,
    )  # fmt: skip
    return path


def chromium_args(voice: Path) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={voice}",
        "--autoplay-policy=no-user-gesture-required",
    ]


def chromium() -> str:
    assert os.path.exists(CHROMIUM), "Debian chromium is required: apt-get install -y chromium"
    return CHROMIUM


async def log_in(page: Page, stack: Stack, user: str) -> None:
    s = stack.settings
    await page.goto(f"http://{s.bind}:{s.ports.http}/console/login")
    await page.fill("#user", user)
    await page.fill("#password", portal_password(s, user))
    await page.click("#login")
