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
    pacing: int = 20  # at most per_second/pacing sends start in any 1/pacing of a second


class Send:
    """One send as the global window sees it: when it started and when its answer came."""

    __slots__ = ("dropped", "end", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.end: float | None = None  # None while in flight
        self.dropped = False  # no longer among the `limit` most recent sends


class GlobalWindow:
    """At most `limit` sends in any second as Telegram counts them: never a 429 from bursts.

    Telegram counts a send when the request reaches it, somewhere between our start and our
    answer; a busy event loop, a slow HTTP client or the network can hold a request back
    for tens of milliseconds or more, so spacing the starts alone is not enough. Two rules:

    - a send may start only once the `limit`-th most recent one started `1 + margin`
      seconds before (the margin is slack for Telegram's own counting), and
    - only once every send at least `limit` back has been answered for a full second:
      Telegram counted each of those before it answered, and counts this one after it
      starts, so no second holds more than `limit` of them whatever the delays.

    The second rule costs nothing while answers come within `margin`, and otherwise lowers
    the rate only as much as the delays demand.

    A third rule paces the starts: at most `ceil(limit / pacing)` in any `1 / pacing` of a
    second (a little faster than the window, so the window still sets the rate). Without
    it a backlog goes out in a burst of `limit` sends at the start of each window and then
    nothing for the rest of it, so an urgent message could wait most of a second, and a
    burst piles up in the HTTP client.
    """

    STUCK = 2.0  # a send in flight this long is taken to have been counted by then

    def __init__(self, limit: float, margin: float, pacing: int = 1) -> None:
        self.size = max(1, int(limit))
        self.window = 1.0 + margin
        self.sent: deque[Send] = deque()  # the `size` most recent sends, oldest first
        self.pace_size = -(-self.size // max(1, pacing))  # ceil(size / pacing)
        self.pace_window = self.pace_size / self.size
        self._older_answered = float("-inf")  # latest answer among the older sends
        self._older_in_flight: set[Send] = set()

    def next_slot(self, now: float) -> float:
        """The earliest time another send may start."""
        paced = now
        if len(self.sent) >= self.pace_size:
            paced = self.sent[-self.pace_size].start + self.pace_window
        if len(self.sent) < self.size:
            return paced
        oldest = self.sent[0]
        latest_answer = max(self._older_answered, self._answered_by(oldest))
        for send in self._older_in_flight:
            latest_answer = max(latest_answer, self._answered_by(send))
        return max(paced, oldest.start + self.window, latest_answer + 1.0)

    def _answered_by(self, send: Send) -> float:
        stuck = send.start + self.STUCK
        return stuck if send.end is None else min(send.end, stuck)

    def take(self, now: float) -> Send:
        """Count a send starting now; pass the result to `done` when its answer comes."""
        send = Send(now)
        self.sent.append(send)
        if len(self.sent) > self.size:
            older = self.sent.popleft()
            older.dropped = True
            if older.end is None:
                self._older_in_flight.add(older)
            else:
                self._older_answered = max(self._older_answered, self._answered_by(older))
        return send

    def done(self, send: Send, now: float) -> None:
        """The answer (or failure) for `send` came at `now`."""
        send.end = now
        if send.dropped and send in self._older_in_flight:
            self._older_in_flight.discard(send)
            self._older_answered = max(self._older_answered, self._answered_by(send))


class ChatBucket:
    """A token bucket per chat: a short burst, then one message a second.

    Tokens are earned only while the chat has nothing in flight and room in the bucket:
    time spent full (waiting for the global window) earns nothing, and neither does a send
    on its way, since Telegram may count it as late as its answer. So the message
    `burst` places after another starts a full `1 / per_chat_per_second` after that one
    was answered, whatever the delays.
    """

    __slots__ = ("at", "tokens")

    def __init__(self, burst: int, now: float) -> None:
        self.tokens = float(burst)
        self.at = now

    def _refill(self, limits: Limits, now: float) -> None:
        self.tokens = min(limits.per_chat_burst,
                          self.tokens + max(0.0, now - self.at) * limits.per_chat_per_second)
        self.at = max(self.at, now)

    def ready_at(self, limits: Limits, now: float) -> float:
        self._refill(limits, now)
        if self.tokens >= 1:
            return now
        return now + (1 - self.tokens) / limits.per_chat_per_second

    def take(self, limits: Limits, now: float) -> None:
        """A send to the chat starts now."""
        self._refill(limits, now)
        self.tokens -= 1

    def answered(self, now: float) -> None:
        """Its answer came: the time it was in flight earned no token."""
        self.at = max(self.at, now)

    def full(self, limits: Limits, now: float) -> bool:
        """Whether the bucket has filled up again (then it can be forgotten)."""
        earned = max(0.0, now - self.at) * limits.per_chat_per_second
        return self.tokens + earned >= limits.per_chat_burst
