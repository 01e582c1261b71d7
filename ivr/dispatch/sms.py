"""Text messages (SMS, messaging apps): the interface a provider implements. None is built
in, and none is faked: a client's dispatch rule that says `sms` is refused by `ivr check`
until a provider is added here (docs/scripts.md says what one needs)."""

from __future__ import annotations

from typing import Protocol


class TextProvider(Protocol):
    """A way to send a short text to a phone number."""

    name: str

    async def send(self, number: str, text: str, key: str) -> str:
        """Send `text` to `number` (E.164); `key` is the idempotency key of the message (a
        provider that supports one must pass it on, so a retry is not a second text).
        Returns the provider's id of the text; raises on a failure worth retrying."""
        ...


PROVIDERS: dict[str, TextProvider] = {}  # none: the center has to add a real one
