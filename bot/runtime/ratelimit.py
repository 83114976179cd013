"""Rate limits for Telegram: a strict global window and a small burst per chat."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    per_second: float = 30.0  # all chats together
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    window_margin: float = 0.05  # a little slack so the server never counts one too many


class GlobalWindow:
    """At most `limit` sends in any window of (1 + margin) seconds: never a 429 from bursts."""

    def __init__(self, limit: float, margin: float) -> None:
        self.size = max(1, int(limit))
        self.window = 1.0 + margin
        self.sent: deque[float] = deque()

    def next_slot(self, now: float) -> float:
        """The earliest time another send may start."""
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        return now if len(self.sent) < self.size else self.sent[0] + self.window

    def take(self, now: float) -> None:
        self.sent.append(now)


class ChatBucket:
    """A token bucket per chat: a short burst, then one message a second."""

    __slots__ = ("at", "tokens")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.at = now

    def ready_at(self, limits: Limits, now: float) -> float:
        self.tokens = min(limits.per_chat_burst,
                          self.tokens + (now - self.at) * limits.per_chat_per_second)
        self.at = now
        if self.tokens >= 1:
            return now
        return now + (1 - self.tokens) / limits.per_chat_per_second

    def take(self) -> None:
        self.tokens -= 1
