"""The outbox shared by several instances on one PostgreSQL database (runtime/pg_outbox.py):
every instance queues, the holder of the sender lock sends for all, under one global rate,
in each chat's order; the lock and the held rows pass on when the sender stops or dies."""

from __future__ import annotations

import asyncio
import time

import pytest

from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.pg_outbox import SharedOutbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.transport import Blocked, OutMessage
from counsel_bot.store.pg_shared import PgQueue
from counsel_bot.store.postgres import PostgresStore
from tests.runtime.test_ratelimit import Telegram


@pytest.fixture
def pg_store(pg_url: str, key: bytes):
    store = PostgresStore(pg_url, key)
    yield store
    store.close()


def _texts(sent: list[OutMessage], chat: int) -> list[str]:
    return [m.text for m in sent if m.chat_id == chat]


class Recording(Telegram):
    def __init__(self, latency: float = 0.0, blocked: frozenset[int] = frozenset()) -> None:
        super().__init__(latency)
        self.sent: list[OutMessage] = []
        self.blocked = blocked

    async def send_message(self, message: OutMessage) -> int:
        if message.chat_id in self.blocked:
            raise Blocked("blocked")
        number = await super().send_message(message)
        self.sent.append(message)
        return number


async def _until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_two_instances_queue_one_sends_each_chat_in_order_under_one_rate(
        pg_store: PostgresStore) -> None:
    limits = Limits(per_second=20.0)
    a_wire, b_wire = Recording(0.005), Recording(0.005)
    a = SharedOutbox(pg_store, a_wire, limits=limits)
    b = SharedOutbox(pg_store, b_wire, limits=limits)
    runs = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
    try:
        for n in range(20):  # both instances queue, for the same chats
            chat = 100 + n % 5
            side = a if n % 2 else b
            await side.enqueue_soon(str(chat), [OutMessage(chat, f"{chat}:{n}")])
        await _until(lambda: len(a_wire.sent) + len(b_wire.sent) == 20)
    finally:
        await a.stop()
        await b.stop()
        await asyncio.gather(*runs)
    sender, idle = (a_wire, b_wire) if a_wire.sent else (b_wire, a_wire)
    assert idle.sent == []  # one instance sends for both
    for chat in range(100, 105):
        numbers = [int(t.split(":")[1]) for t in _texts(sender.sent, chat)]
        assert numbers == sorted(numbers) and len(numbers) == 4
    starts = [t for t, _ in sender.starts]
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 20


async def test_a_key_queues_once_whichever_instance_queues_it(pg_store) -> None:
    a = SharedOutbox(pg_store, Recording())
    b = SharedOutbox(pg_store, Recording())
    assert len(a.enqueue("7", [OutMessage(7, "one"), OutMessage(7, "two")], key="u:1")) == 2
    assert b.enqueue("7", [OutMessage(7, "one"), OutMessage(7, "two")], key="u:1") == []
    assert a.load() == 2


async def test_when_the_sender_stops_another_instance_sends_the_rest(pg_store) -> None:
    limits = Limits(per_second=1000.0, per_chat_burst=100, per_chat_per_second=100.0)
    first_wire, second_wire = Recording(0.01), Recording(0.01)
    first = SharedOutbox(pg_store, first_wire, limits=limits)
    first_run = asyncio.create_task(first.run())
    await _until(lambda: first.lock.held)
    second = SharedOutbox(pg_store, second_wire, limits=limits)
    second_run = asyncio.create_task(second.run())
    second.enqueue_bulk((str(c), OutMessage(c, f"m{c}")) for c in range(300))
    await _until(lambda: len(first_wire.sent) >= 20)
    await first.stop()
    await first_run  # a clean stop: what it held and never tried is given back
    await _until(lambda: len(first_wire.sent) + len(second_wire.sent) == 300)
    await second.stop()
    await second_run
    texts = [m.text for m in first_wire.sent + second_wire.sent]
    assert sorted(texts) == sorted(f"m{c}" for c in range(300))  # each once
    assert second_wire.sent and second.uncertain == 0  # nothing it took had been tried


async def test_a_tried_row_of_a_dead_sender_counts_as_uncertain(pg_store) -> None:
    queue = PgQueue(pg_store, "outbox", lease=0.2)
    outbox = SharedOutbox(pg_store, Recording())
    outbox.enqueue("5", [OutMessage(5, "tried")])
    outbox.enqueue("6", [OutMessage(6, "not tried")])
    claims = queue.claim(10)  # a sender that died: one send had begun, one had not
    queue.mark_tried([c for c in claims if c.payload["message"]["text"] == "tried"])
    await asyncio.sleep(0.3)
    run = asyncio.create_task(outbox.run())
    await _until(lambda: outbox.stats["sent"] == 2)
    await outbox.stop()
    await run
    assert outbox.uncertain == 1


async def test_a_blocked_chat_drops_its_queued_rows_and_is_reported_once(pg_store) -> None:
    told: list[str] = []

    async def on_blocked(chat: str) -> None:
        told.append(chat)

    wire = Recording(blocked=frozenset({9}))
    outbox = SharedOutbox(pg_store, wire, on_blocked=on_blocked)
    for n in range(5):
        outbox.enqueue("9", [OutMessage(9, f"to a chat that blocked us {n}")])
    outbox.enqueue("10", [OutMessage(10, "fine")], Priority.BULK)
    run = asyncio.create_task(outbox.run())
    await outbox.wait_idle(20)
    await outbox.stop()
    await run
    assert told == ["9"]
    assert [m.text for m in wire.sent] == ["fine"]
    assert outbox.pending == 0


async def test_a_clean_stop_gives_back_at_once_what_it_held_and_never_tried(pg_store) -> None:
    outbox = SharedOutbox(pg_store, Recording(), limits=Limits(per_second=5.0))
    outbox.enqueue_bulk((str(c), OutMessage(c, "notice")) for c in range(50))
    run = asyncio.create_task(outbox.run())
    await _until(lambda: outbox.stats["sent"] >= 3)
    await outbox.stop()
    await run
    left = PgQueue(pg_store, "outbox").claim(100)  # no lease to wait for
    assert len(left) == 50 - outbox.stats["sent"]
    assert not any(c.tried for c in left)


async def test_a_new_sender_waits_out_telegrams_window_of_the_last_one(pg_store) -> None:
    limits = Limits(per_second=100.0)  # a burst of 3 a chat, then 1 a second
    first_wire, second_wire = Recording(), Recording()
    first = SharedOutbox(pg_store, first_wire, limits=limits)
    run = asyncio.create_task(first.run())
    first.enqueue("1", [OutMessage(1, f"a{n}") for n in range(3)])
    await _until(lambda: len(first_wire.sent) == 3)  # a burst to chat 1...
    await first.stop()
    await run
    second = SharedOutbox(pg_store, second_wire, limits=limits)
    second.enqueue("1", [OutMessage(1, f"b{n}") for n in range(3)])
    run = asyncio.create_task(second.run())  # ...and the next sender at once
    await _until(lambda: len(second_wire.sent) == 3)
    await second.stop()
    await run
    starts = sorted(t for t, _chat in first_wire.starts + second_wire.starts)
    assert max(sum(1 for s in starts if t <= s < t + 1.0) for t in starts) <= 3
