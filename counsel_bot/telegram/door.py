"""The contract every Telegram door fulfils, so the runner can drive either framework."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from counsel_bot.runtime.transport import Transport

UpdateSink = Callable[[dict[str, Any]], Awaitable[None]]


class TelegramDoor(Protocol):
    transport: Transport

    async def start(self) -> str:
        """Connect (getMe) and return the bot's username."""
        ...

    async def start_polling(self, allowed_updates: list[str]) -> None: ...

    async def stop_polling(self) -> None: ...

    async def feed(self, update: dict[str, Any]) -> None:
        """Run one webhook update through the framework's own dispatch."""
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
