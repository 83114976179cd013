"""What the runtime needs from a messaging framework, and the failures it must tell apart.

Each Telegram adapter implements `Transport` with its own framework and maps that
framework's exceptions onto these, so the outbox's rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SendError(Exception):
    """A message could not be delivered this time."""


class RetryLater(SendError):
    """Flood control (HTTP 429): wait `retry_after` seconds before sending again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class Transient(SendError):
    """A server error, a timeout or a network failure: try again with backoff."""


class Blocked(SendError):
    """The person blocked the bot or deleted their account: stop sending to them."""


class Rejected(SendError):
    """Telegram refused this message for good (bad request): retrying will not help."""


@dataclass(frozen=True)
class OutButton:
    label: str
    data: str  # callback data: an opaque random key, never a meaning


@dataclass(frozen=True)
class OutMessage:
    chat_id: int
    text: str
    buttons: tuple[tuple[OutButton, ...], ...] = ()
    protect: bool = False
    rtl: bool = False
    leave_after: bool = False  # a refusal in a group: leave once it is said


@dataclass(frozen=True)
class BotCommand:
    command: str
    description: str


class Transport(Protocol):
    async def send_message(self, message: OutMessage) -> int:
        """Send; returns Telegram's message_id. Raises a SendError subclass on failure."""
        ...

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None: ...

    async def leave_chat(self, chat_id: int) -> None: ...

    async def set_commands(self, commands: list[BotCommand], language: str | None) -> None: ...
