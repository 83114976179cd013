"""The contract every Telegram framework adapter fulfils, so the runner can drive either.

An adapter does three things with its framework and nothing else: it fetches raw updates
(getUpdates through the framework's own HTTP client), it runs one raw update through the
framework's own parsing and dispatch (which hands it on as Bot API JSON), and it sends
(`Transport`). Journalling, ordering, retries and every rule about people are shared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from counsel_bot.runtime.transport import Transport

UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


class TokenRefused(Exception):
    """Telegram refused the bot token (401 or 404): retrying will not help."""


class TelegramDoor(Protocol):
    framework: str
    transport: Transport

    async def start(self) -> str:
        """Connect (getMe) and return the bot's username. Raises TokenRefused, or a
        SendError subclass when Telegram cannot be reached."""
        ...

    async def fetch_updates(self, offset: int | None, timeout: int,
                            allowed_updates: list[str]) -> list[Any]:
        """One long poll (getUpdates), answered as raw JSON: nothing is parsed yet, so an
        update the framework cannot read does not stop the others."""
        ...

    async def feed(self, update: dict[str, Any]) -> None:
        """Run one raw update through the framework's parsing and dispatch; raises what the
        framework raises when it cannot read it."""
        ...

    async def set_webhook(self, url: str, secret_token: str,
                          allowed_updates: list[str]) -> None: ...

    async def delete_webhook(self) -> None: ...

    async def shutdown(self) -> None: ...


def make_door(framework: str, token: str, api_url: str, sink: UpdateSink,
              request_timeout: float = 15.0) -> TelegramDoor:
    """The door for `framework` ("ptb" or "aiogram"); imported lazily, each is optional."""
    if framework == "ptb":
        from counsel_bot.telegram.ptb_door import PtbDoor

        return PtbDoor(token, api_url, sink, request_timeout)
    if framework == "aiogram":
        from counsel_bot.telegram.aiogram_door import AiogramDoor

        return AiogramDoor(token, api_url, sink, request_timeout)
    raise ValueError(f"unknown framework {framework!r}: use ptb or aiogram")
