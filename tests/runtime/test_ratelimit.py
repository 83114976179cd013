"""Telegram's limits, kept by the real outbox on a fast-forwarded event loop (looptime):
a short burst per chat then one a second, never more than `per_second` sends starting in
any window, the starts paced through the window, and sends still in flight counted.

Rows give when each send starts, in seconds of the loop's (simulated) time; the stand-in
for Telegram only notes the start and answers after a set delay.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import pytest

from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.ratelimit import GlobalWindow, Limits
from counsel_bot.runtime.transport import BotCommand, OutMessage
from counsel_bot.store.crypto import ShardCipher

pytestmark = pytest.mark.looptime
EPS = 1e-4  # float slack on start times


class LoopClock:
    """The loop's time, a nanosecond later at each reading, as a real clock moves while
    code runs (the loop's own time moves only while it sleeps; the outbox's waits would
    otherwise spin on a float rounding error)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.loop.time() + self.reads * 1e-9


class Telegram:
    """Notes when each send starts (and to whom), answers after `latency` seconds."""

    def __init__(self, latency: float | Callable[[OutMessage], float] = 0.0) -> None:
        self.latency = latency
        self.starts: list[tuple[float, int]] = []
        self.in_flight = 0

    async def send_message(self, message: OutMessage) -> int:
        self.starts.append((asyncio.get_running_loop().time(), message.chat_id))
        self.in_flight += 1
        try:
            latency = self.latency(message) if callable(self.latency) else self.latency
            await asyncio.sleep(latency)
        finally:
            self.in_flight -= 1
        return len(self.starts)

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        return None

    async def leave_chat(self, chat_id: int) -> None:
        return None

    async def set_commands(self, commands: list[BotCommand], language: str | None) -> None:
        return None

    def times(self, chat_id: int | None = None) -> list[float]:
        return [round(t, 4) for t, c in self.starts if chat_id is None or c == chat_id]


# (when, chat, how many messages): queued at that time
Script = list[tuple[float, int, int]]


async def run(tmp_path, limits: Limits, script: Script, telegram: Telegram | None = None
              ) -> Telegram:
    """Queue the script's messages at their times on a running outbox; wait until all
    are sent."""
    telegram = telegram or Telegram()
    loop = asyncio.get_running_loop()
    outbox = Outbox(Journal(tmp_path / "outbox.journal", ShardCipher(os.urandom(32))),
                    telegram, limits=limits, clock=LoopClock())
    outbox.load()
    task = asyncio.create_task(outbox.run())
    try:
        for at, chat, count in sorted(script):
            await asyncio.sleep(max(0.0, at - loop.time()))
            outbox.enqueue(f"telegram:{chat}", [OutMessage(chat, f"{chat}/{i}")
                                                for i in range(count)])
        await outbox.wait_idle()
    finally:
        await outbox.stop()
        task.cancel()
    assert outbox.stats["sent"] == sum(count for _, _, count in script)
    return telegram


def approx(times: list[float]) -> object:
    return pytest.approx(times, abs=EPS)


# -- per chat ------------------------------------------------------------------------------
@pytest.mark.parametrize(("rate", "burst", "starts"), [
    # the default: three at once (the last one paced by the global window), then one a second
    (1.0, 3, [0, 0, 0.0667, 1, 2, 3]),
    (1.0, 1, [0, 1, 2, 3, 4, 5]),
    (2.0, 2, [0, 0, 0.5, 1, 1.5, 2]),
    (0.5, 3, [0, 0, 0.0667, 2, 4, 6]),
])
async def test_one_chat_gets_a_burst_then_its_rate(tmp_path, rate, burst, starts):
    limits = Limits(per_chat_per_second=rate, per_chat_burst=burst)
    telegram = await run(tmp_path, limits, [(0.0, 1, 6)])
    assert telegram.times() == approx(starts)


async def test_other_chats_do_not_wait_for_a_busy_one(tmp_path):
    telegram = await run(tmp_path, Limits(), [(0.0, 1, 5), (0.0, 2, 1), (1.5, 3, 1)])
    assert telegram.times(1) == approx([0, 0.0667, 0.0667, 1, 2])
    assert telegram.times(2) == approx([0])
    assert telegram.times(3) == approx([1.5])


async def test_a_chat_after_a_long_pause_gets_its_burst_again(tmp_path):
    telegram = await run(tmp_path, Limits(), [(0.0, 1, 3), (10.0, 1, 3)])
    assert telegram.times() == approx([0, 0, 0.0667, 10, 10, 10.0667])


async def test_a_chat_that_paused_briefly_gets_no_new_burst(tmp_path):
    """The outbox has nothing else to do between the two replies: the chat's bucket is
    kept all the same, so the second reply waits for the chat's next tokens."""
    telegram = await run(tmp_path, Limits(), [(0.0, 1, 3), (0.5, 1, 3)])
    assert telegram.times() == approx([0, 0, 0.0667, 1, 2, 3])


@pytest.mark.parametrize(("latency", "starts"), [
    (0.0, [0, 0, 0.0667, 1, 2, 3]),
    # each answer takes half a second: the chat earns its next token only after it
    (0.5, [0, 0.5, 1, 2.5, 4, 5.5]),
])
async def test_a_send_in_flight_earns_its_chat_nothing(tmp_path, latency, starts):
    telegram = await run(tmp_path, Limits(), [(0.0, 1, 6)], Telegram(latency))
    assert telegram.times() == approx(starts)


# -- all chats together --------------------------------------------------------------------
GLOBAL = [
    # limits, {index of a send (in order of start): when it starts}
    # 30 a second, paced two at a time every 1/15 s; the 31st waits for the first + 1.05 s
    (Limits(), {0: 0, 1: 0, 2: 0.0667, 3: 0.0667, 29: 0.9333, 30: 1.05, 31: 1.05,
                32: 1.1167, 59: 1.9833, 60: 2.1, 90: 3.15, 119: 4.0833}),
    # without pacing: the whole window at once
    (Limits(per_second=10, pacing=1), {0: 0, 9: 0, 10: 1.05, 19: 1.05, 20: 2.1, 119: 11.55}),
    (Limits(per_second=10, pacing=5), {0: 0, 1: 0, 2: 0.2, 8: 0.8, 10: 1.05, 12: 1.25}),
    (Limits(per_second=20, window_margin=0.0), {0: 0, 19: 0.95, 20: 1.0, 40: 2.0}),
]


@pytest.mark.parametrize(("limits", "starts"), GLOBAL, ids=["default", "10-unpaced",
                                                            "10-paced", "20-no-margin"])
async def test_never_more_than_the_global_limit_in_any_window(tmp_path, limits, starts):
    telegram = await run(tmp_path, limits, [(0.0, 1000 + i, 1) for i in range(120)])
    times = telegram.times()
    assert {i: times[i] for i in starts} == pytest.approx(starts, abs=EPS)
    size = int(limits.per_second)
    window = 1.0 + limits.window_margin
    for i in range(len(times) - size):
        assert times[i + size] - times[i] >= window - EPS, f"send {i + size}"
    pace = GlobalWindow(limits.per_second, limits.window_margin, limits.pacing)
    for i in range(len(times) - pace.pace_size):
        assert times[i + pace.pace_size] - times[i] >= pace.pace_window - EPS, f"send {i}"


async def test_the_global_limit_holds_with_chats_in_bursts(tmp_path):
    """Fifty chats with four messages each: bursts and the global window together. A chat
    kept waiting by the global window earns no extra token meanwhile, so its fourth
    message still comes a second after its first."""
    telegram = await run(tmp_path, Limits(), [(0.0, 2000 + i, 4) for i in range(50)])
    times = telegram.times()
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.05 - EPS
    for chat in range(2000, 2050):
        mine = telegram.times(chat)
        assert mine[3] - mine[0] >= 1.0 - EPS  # the fourth waits for its chat's token
    assert len(times) == 200


# -- sends in flight -----------------------------------------------------------------------
@pytest.mark.parametrize(("latency", "starts"), [
    # answers at once: the sixth send waits for the window (first start + 1.05 s)
    (0.0, [0] * 5 + [1.05] * 5),
    # answered at 0.5 s: counted by Telegram by then, so a full second after that
    (0.5, [0] * 5 + [1.5] * 5),
    (1.5, [0] * 5 + [2.5] * 5),
    # no answer after 2 s: taken as counted then (STUCK), so it holds the window until 3 s
    (3.0, [0] * 5 + [3.0] * 5),
])
async def test_sends_still_in_flight_count_in_the_window(tmp_path, latency, starts):
    limits = Limits(per_second=5, pacing=1)
    telegram = await run(tmp_path, limits, [(0.0, 3000 + i, 1) for i in range(10)],
                         Telegram(latency))
    assert telegram.times() == approx(starts)


async def test_one_slow_answer_holds_the_window_only_for_its_turn(tmp_path):
    """The first send hangs for 1.5 s; the others answer at once. The sixth to tenth wait
    for the slow one (answered at 1.5 s, + 1 s); the next ones only for the window again
    (2.5 s + 1.05 s)."""
    limits = Limits(per_second=5, pacing=1)
    telegram = await run(tmp_path, limits, [(0.0, 4000 + i, 1) for i in range(15)],
                         Telegram(lambda m: 1.5 if m.chat_id == 4000 else 0.0))
    assert telegram.times() == approx([0] * 5 + [2.5] * 5 + [3.55] * 5)
