"""The scheduler: rows that survive a restart, fire once, and drop what went stale; on both
backends (the journal `Scheduler` and `PgScheduler`, see the `schedules` fixture)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.scheduler import Item
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.store.crypto import ShardCipher
from tests.runtime.schedules import Schedules

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _noop(item: Item, now: datetime) -> None:
    return None


async def test_items_fire_in_order_when_due(schedules: Schedules):
    clock = Clock()
    s = schedules.open(clock)
    fired: list[str] = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.data["n"])

    s.on("test", record)
    s.add("test", T0 + timedelta(hours=2), {"n": "b"})
    s.add("test", T0 + timedelta(hours=1), {"n": "a"})
    assert await s.tick() == 0
    clock.now = T0 + timedelta(hours=3)
    assert await s.tick() == 2
    assert fired == ["a", "b"]
    assert s.pending == 0


async def test_items_survive_a_restart_and_fired_ones_do_not_come_back(schedules: Schedules):
    clock = Clock()
    s = schedules.open(clock)
    s.on("test", _noop)
    s.add("test", T0 + timedelta(minutes=5))
    s.add("test", T0 + timedelta(days=1), {"n": 1}, tags=("case:C1",))
    clock.now = T0 + timedelta(minutes=10)
    await s.tick()
    schedules.close(s)
    again = schedules.open(clock)
    assert again.pending == 1
    (kept,) = again.tagged("case:C1")
    assert (kept.tags, kept.data, kept.due) == (("case:C1",), {"n": 1}, T0 + timedelta(days=1))
    assert again.next_due() == T0 + timedelta(days=1)


async def test_cancelled_items_never_fire(schedules: Schedules):
    clock = Clock()
    s = schedules.open(clock)
    fired = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.id)

    s.on("test", record)
    s.add("test", T0 + timedelta(hours=1), tags=("session:S1",))
    keep = s.add("test", T0 + timedelta(hours=1), tags=("session:S2",))
    assert s.cancel_tag("session:S1") == 1
    assert s.tagged("session:S1") == []
    clock.now = T0 + timedelta(hours=2)
    await s.tick()
    assert fired == [keep]


async def test_after_downtime_stale_items_are_dropped(schedules: Schedules):
    clock = Clock()
    s = schedules.open(clock)
    fired = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.data["n"])

    s.on("test", record)
    s.add("test", T0 + timedelta(hours=1), {"n": "stale"}, expires=T0 + timedelta(hours=2))
    s.add("test", T0 + timedelta(hours=1), {"n": "fresh"}, expires=T0 + timedelta(days=2))
    clock.now = T0 + timedelta(hours=5)  # the bot was down for four hours
    await s.tick()
    assert fired == ["fresh"]
    assert s.stats["stale"] == 1
    assert s.pending == 0


async def test_an_item_added_with_a_key_is_added_once_even_after_it_fired(schedules: Schedules):
    clock = Clock()
    s = schedules.open(clock)
    s.on("test", _noop)
    assert s.add("test", T0, key="step:7:reminder") is not None
    assert s.add("test", T0, key="step:7:reminder") is None
    clock.now = T0 + timedelta(minutes=1)
    assert await s.tick() == 1
    schedules.close(s)
    again = schedules.open(clock)  # the step is carried out again after a restart
    assert again.add("test", T0, key="step:7:reminder") is None
    assert again.pending == 0


async def test_a_failing_handler_is_logged_and_its_item_dropped(schedules: Schedules, caplog):
    clock = Clock()
    s = schedules.open(clock)

    async def broken(item: Item, now: datetime) -> None:
        raise RuntimeError("the case file is gone")

    s.on("test", broken)
    item_id = s.add("test", T0)
    with caplog.at_level(logging.ERROR):
        assert await s.tick() == 0
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "test handler failed" in record.getMessage() and str(item_id) in record.getMessage()
    assert s.stats["failed"] == 1 and s.pending == 0
    clock.now = T0 + timedelta(days=1)
    assert await s.tick() == 0  # not fired again


async def test_an_item_nobody_handles_is_kept(schedules: Schedules, caplog):
    clock = Clock()
    s = schedules.open(clock)
    s.add("later", T0, {"n": 1})
    with caplog.at_level(logging.ERROR):
        assert await s.tick() == 0
    assert "no handler for later items" in caplog.text
    assert s.pending == 1
    schedules.close(s)
    clock.now = T0 + timedelta(minutes=5)
    fired = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.data["n"])

    again = schedules.open(clock)  # a version that knows the kind
    again.on("later", record)
    assert await again.tick() == 1 and fired == [1]


class _NeverSends:
    async def send_message(self, message: OutMessage) -> int:
        raise AssertionError("not sending in this test")


class Killed(BaseException):
    """The process dies right after the handler queued its message (not an Exception: the
    scheduler must not treat it as a failing handler)."""


async def test_an_item_fired_twice_across_a_crash_queues_once(tmp_path, schedules: Schedules):
    """Fired, queued, then killed before the fired mark: it fires again, but the outbox's
    dedupe key keeps the message single."""
    clock = Clock()
    cipher = ShardCipher(os.urandom(32))
    outbox = Outbox(Journal(tmp_path / "outbox.journal", cipher), _NeverSends())  # type: ignore[arg-type]
    outbox.load()
    first = schedules.open(clock, lease=0.3)
    seen: list[str] = []

    async def queue_then_die(item: Item, now: datetime) -> None:
        seen.append(item.id)
        outbox.enqueue("telegram:1", [OutMessage(1, "reminder")], Priority.BULK,
                       key=f"sched:{item.id}")
        raise Killed

    first.on("remind", queue_then_die)
    item_id = first.add("remind", T0)
    with pytest.raises(Killed):
        await first.tick()
    schedules.close(first)
    time.sleep(0.4)  # PostgreSQL: the dead instance's lease runs out
    second = schedules.open(clock)

    async def queue(item: Item, now: datetime) -> None:
        seen.append(item.id)
        outbox.enqueue("telegram:1", [OutMessage(1, "reminder")], Priority.BULK,
                       key=f"sched:{item.id}")

    second.on("remind", queue)
    assert await second.tick() == 1
    assert seen == [item_id, item_id]  # the same id on both firings
    assert outbox.pending == 1
    assert second.pending == 0


@pytest.mark.parametrize("during", ["stop", "add"])
async def test_a_stop_or_an_add_while_an_item_fires_is_not_lost(schedules: Schedules,
                                                                during: str) -> None:
    """The running scheduler sleeps up to 30 s between looks; a stop, or an item added now,
    that arrives while a handler runs must take effect at once, not after that sleep. (The
    stop was lost before the wake event was cleared ahead of the tick; the added item is
    taken by the running tick itself, and stays guarded here.)"""
    clock = Clock()
    scheduler = schedules.open(clock)
    fired: list[str] = []

    async def slow(item: Item, now: datetime) -> None:
        fired.append(item.id)
        if len(fired) == 1:
            await asyncio.sleep(0.4)  # the first item takes a moment

    scheduler.on("test", slow)
    first = scheduler.add("test", clock.now)
    running = asyncio.create_task(scheduler.run(max_sleep=30.0))
    for _ in range(100):
        if fired:
            break
        await asyncio.sleep(0.01)
    assert fired == [first]  # the first handler is running now
    if during == "add":
        second = scheduler.add("test", clock.now)
        for _ in range(300):
            if len(fired) == 2:
                break
            await asyncio.sleep(0.01)
        assert fired == [first, second], "the item added while one fired waited for the poll"
    scheduler.stop()
    await asyncio.wait_for(running, 3)
