"""What the runtime needs from a door to reach people, whatever the door is."""

from __future__ import annotations

from typing import Protocol

from counsel_bot.cases.model import CaseWorker
from counsel_bot.engine.effects import Send
from counsel_bot.engine.inbound import Inbound


class Chats(Protocol):
    async def deliver(self, chat: str, inbound: Inbound, key: str) -> None:
        """Step a returnee's chat with an event from the runtime (a session notice, a
        check-in), in the chat's order; `key` makes it happen once, even if asked again."""
        ...

    def to_worker(self, worker: CaseWorker, send: Send, key: str | None = None) -> None:
        """Queue a message for a case worker (blocking: call from a thread); its buttons work
        in the worker's chat. With `key`, the same key again queues nothing."""
        ...
