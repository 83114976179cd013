"""The scheduler: rows that survive a restart, fire once, and drop what went stale."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.scheduler import Item, Scheduler
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.store.crypto import ShardCipher

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def cipher():
    return ShardCipher(os.urandom(32))


def scheduler(tmp_path, cipher, clock) -> Scheduler:
    s = Scheduler(Journal(tmp_path / "schedule.journal", cipher), clock=clock)
    s.load()
    return s


async def test_items_fire_in_order_when_due(tmp_path, cipher):
    clock = Clock()
    s = scheduler(tmp_path, cipher, clock)
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


async def test_items_survive_a_restart_and_fired_ones_do_not_come_back(tmp_path, cipher):
    clock = Clock()
    s = scheduler(tmp_path, cipher, clock)
    s.on("test", lambda item, now: _noop())
    s.add("test", T0 + timedelta(minutes=5))
    s.add("test", T0 + timedelta(days=1), tags=("case:C1",))
    clock.now = T0 + timedelta(minutes=10)
    await s.tick()
    s.journal.close()
    again = scheduler(tmp_path, cipher, clock)
    assert again.pending == 1
    assert [i.tags for i in again.tagged("case:C1")] == [("case:C1",)]


async def _noop() -> None:
    return None


async def test_cancelled_items_never_fire(tmp_path, cipher):
    clock = Clock()
    s = scheduler(tmp_path, cipher, clock)
    fired = []

    async def record(item: Item, now: datetime) -> None:
        fired.append(item.id)

    s.on("test", record)
    s.add("test", T0 + timedelta(hours=1), tags=("session:S1",))
    keep = s.add("test", T0 + timedelta(hours=1), tags=("session:S2",))
    assert s.cancel_tag("session:S1") == 1
    clock.now = T0 + timedelta(hours=2)
    await s.tick()
    assert fired == [keep]


async def test_after_downtime_stale_items_are_dropped(tmp_path, cipher):
    clock = Clock()
    s = scheduler(tmp_path, cipher, clock)
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


class _NeverSends:
    async def send_message(self, message: OutMessage) -> int:
        raise AssertionError("not sending in this test")


async def test_an_item_fired_twice_across_a_crash_queues_once(tmp_path, cipher):
    """Fired, queued, then killed before the fired mark: it fires again, but the outbox's
    dedupe key keeps the message single."""
    clock = Clock()
    outbox_journal = Journal(tmp_path / "outbox.journal", cipher)
    outbox = Outbox(outbox_journal, _NeverSends())  # type: ignore[arg-type]
    outbox.load()
    s = scheduler(tmp_path, cipher, clock)
    item_id = s.add("remind", T0)
    s.journal.close()

    def queue(item: Item) -> None:
        outbox.enqueue("telegram:1", [OutMessage(1, "reminder")], Priority.BULK,
                       key=f"sched:{item.id}")

    # First run: the handler queues, then the process dies before the item is marked fired.
    first = scheduler(tmp_path, cipher, clock)
    queue(first._items[item_id])
    first.journal.close()
    outbox_journal.close()
    # Second run: the item fires again; the outbox refuses the second copy.
    outbox = Outbox(Journal(tmp_path / "outbox.journal", cipher), _NeverSends())  # type: ignore[arg-type]
    assert outbox.load() == 1
    second = scheduler(tmp_path, cipher, clock)

    async def handler(item: Item, now: datetime) -> None:
        queue(item)

    second.on("remind", handler)
    assert await second.tick() == 1
    assert outbox.pending == 1
