"""Prompts Asterisk plays: a sound file, or a text spoken once in the client's language.

Text prompts are synthesised with espeak-ng, converted to 8 kHz mono 16-bit WAV with sox, and
cached by a hash of (language, text): a new client needs no studio recording, and a prompt is
synthesised once, not per call. Files go to the instance's run folder, which Asterisk (in its
root folder) and the engine both see; Asterisk gets the path as it sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from pathlib import Path

from ivr.config import Settings
from ivr.routing.model import Prompt, Rules

log = logging.getLogger(__name__)


class PromptError(Exception):
    pass


def cached_name(prompt: Prompt, language: str) -> str:
    """The file (no extension) a text prompt is synthesised into: by language and text."""
    key = hashlib.sha256(f"{language}\n{prompt.text or ''}".encode()).hexdigest()[:16]
    return f"{language}-{key}"


class Prompts:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.folder = settings.run_dir / "prompts"  # as Asterisk sees it
        self._locks: dict[str, asyncio.Lock] = {}

    def _host(self, name: str) -> Path:
        return self.settings.host_path(self.folder / name)

    async def resolve(self, rules: Rules, client_id: str | None, name: str, language: str) -> str:
        """What to hand to Asterisk's playback for the prompt `name` (no extension)."""
        prompt = rules.prompt(client_id, name)
        if prompt is None:  # the rules check forbids it; a stock sound of that name is next best
            return name
        return await self.file_for(prompt, language)

    async def file_for(self, prompt: Prompt, language: str) -> str:
        if prompt.file:
            return prompt.file
        text = prompt.text or ""
        name = cached_name(prompt, language)
        target = self._host(f"{name}.wav")
        if not target.exists():
            lock = self._locks.setdefault(name, asyncio.Lock())
            async with lock:
                if not target.exists():
                    await synthesise(text, language, target)
        return str(self.folder / name)

    async def warm(self, rules: Rules) -> int:
        """Synthesise every text prompt ahead of the first call that needs it."""
        count = 0
        for client in rules.clients.values():
            names = {*client.prompts, *rules.prompts}
            for name in names:
                prompt = rules.prompt(client.id, name)
                if prompt is not None and prompt.text:
                    await self.file_for(prompt, client.card.language)
                    count += 1
        return count


async def _run(*command: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise PromptError(f"{command[0]} timed out") from None
    if proc.returncode != 0:
        raise PromptError(f"{command[0]} failed ({proc.returncode}): {err.decode()[-300:]}")


async def synthesise(text: str, language: str, target: Path) -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is missing: apt-get install espeak-ng sox")
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(".tts.wav")
    tmp = target.with_suffix(".tmp.wav")
    try:
        # "--" ends the options: a text starting with "-" is still text.
        await _run("espeak-ng", "-v", language, "-w", str(raw), "--", text)
        await _run("sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(tmp))
        tmp.replace(target)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    log.info("prompt synthesised (%s): %s", language, target.name)
