"""Everything that must happen later, as rows that survive a restart.

Reminders, check-ins, alert deadlines and retention purges are items in an encrypted
journal (see journal.py): adding, cancelling or firing one is one append, whatever the
number of items. At start-up the journal is replayed into a heap; the scheduler then sleeps
until the next item is due: it never scans the store.

- Never twice: a handler gets the item's id as a dedupe key for what it queues, and the
  outbox refuses a key it has already seen; so an item fired just before a crash, and fired
  again after it, sends once.
- Added once: an item added with a `key` (derived from the step that asked for it) is not
  added again when that step is carried out again after a crash; keys are remembered in
  the journal for a week.
- Never stale: an item carries `expires`. After downtime, an item past it is dropped, not
  sent; handlers also check that what the item is about still holds (a session not moved).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from counsel_bot.runtime.journal import Journal

log = logging.getLogger(__name__)

KEY_MEMORY = 7 * 24 * 3600.0  # how long an item's dedupe key is remembered, in seconds


@dataclass(order=True, slots=True)
class Item:
    due: datetime
    id: str = field(compare=True)
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)
    tags: tuple[str, ...] = field(compare=False, default=())
    expires: datetime | None = field(compare=False, default=None)

    def record(self) -> dict[str, Any]:
        return {"op": "add", "id": self.id, "kind": self.kind, "due": self.due.isoformat(),
                "data": self.data, "tags": list(self.tags),
                "expires": self.expires.isoformat() if self.expires else None}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Item:
        expires = record.get("expires")
        return cls(datetime.fromisoformat(record["due"]), record["id"], record["kind"],
                   record.get("data") or {}, tuple(record.get("tags") or ()),
                   datetime.fromisoformat(expires) if expires else None)


Handler = Callable[[Item, datetime], Awaitable[None]]


class Schedule(Protocol):
    """What the runtime uses of a scheduler: this journal one, or PgScheduler (several
    instances on one PostgreSQL database, runtime/pg_scheduler.py)."""

    clock: Callable[[], datetime]
    handlers: dict[str, Handler]
    stats: dict[str, int]

    def on(self, kind: str, handler: Handler) -> None: ...
    def load(self) -> int: ...
    def add(self, kind: str, due: datetime, data: dict[str, Any] | None = None, *,
            tags: tuple[str, ...] = (), expires: datetime | None = None,
            key: str | None = None) -> str | None: ...
    def cancel_tag(self, tag: str) -> int: ...
    def tagged(self, tag: str) -> list[Item]: ...
    @property
    def pending(self) -> int: ...
    def next_due(self) -> datetime | None: ...
    async def tick(self) -> int: ...
    async def run(self) -> None: ...  # until stop()
    def stop(self) -> None: ...


class Scheduler:
    def __init__(self, journal: Journal, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 compact_every: int = 20_000) -> None:
        self.journal = journal
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self.compact_every = compact_every
        self._items: dict[str, Item] = {}
        self._heap: list[Item] = []
        self._by_tag: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._finished_since_compaction = 0
        self._keys: dict[str, float] = {}  # dedupe key -> when (epoch) it was added
        self.stats = {"fired": 0, "stale": 0, "cancelled": 0, "failed": 0}

    def on(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> int:
        """Replay the journal; returns how many items are still to come.

        The journal is compacted here only when finished records outnumber live ones, so a
        start-up with a large schedule reads it once and writes nothing.
        """
        finished = 0
        with self._lock:
            for record in self.journal.records():
                if record["op"] == "key":
                    self._keys[record["key"]] = record["at"]
                    continue
                if record["op"] == "add":
                    self._index(Item.from_record(record))
                else:
                    self._forget(record["id"])
                    finished += 1
            self._heap = list(self._items.values())
            heapq.heapify(self._heap)
            self._finished_since_compaction = 0
            if finished > len(self._items):
                self._rewrite()
        return len(self._items)

    def add(self, kind: str, due: datetime, data: dict[str, Any] | None = None, *,
            tags: tuple[str, ...] = (), expires: datetime | None = None,
            key: str | None = None) -> str | None:
        """Schedule one item; safe from any thread. Returns its id, or None when an item
        with the same `key` was added before."""
        item = Item(due.astimezone(UTC), secrets.token_hex(8), kind, data or {}, tags,
                    expires.astimezone(UTC) if expires else None)
        with self._lock:
            records = [item.record()]
            if key is not None:
                if key in self._keys:
                    return None
                self._keys[key] = time.time()
                records.insert(0, {"op": "key", "key": key, "at": self._keys[key]})
            self.journal.append(records)
            self._index(item)
            heapq.heappush(self._heap, item)
        self._poke()
        return item.id

    def _rewrite(self) -> None:
        """Compact the journal to the live items and the keys still remembered (hold the
        lock)."""
        horizon = time.time() - KEY_MEMORY
        self._keys = {k: at for k, at in self._keys.items() if at >= horizon}
        self.journal.rewrite([*({"op": "key", "key": k, "at": at} for k, at in self._keys.items()),
                              *(i.record() for i in self._items.values())])

    def cancel_tag(self, tag: str) -> int:
        """Cancel every item with `tag` (e.g. all reminders of one session)."""
        with self._lock:
            ids = [i for i in self._by_tag.get(tag, ()) if i in self._items]
            self.journal.append([{"op": "cancelled", "id": i} for i in ids])
            for item_id in ids:
                self._forget(item_id)
            self.stats["cancelled"] += len(ids)
        return len(ids)

    def _index(self, item: Item) -> None:
        self._items[item.id] = item
        for tag in item.tags:
            self._by_tag.setdefault(tag, set()).add(item.id)

    def _forget(self, item_id: str) -> None:
        item = self._items.pop(item_id, None)
        if item is None:
            return
        for tag in item.tags:
            ids = self._by_tag.get(tag)
            if ids is not None:
                ids.discard(item_id)
                if not ids:
                    del self._by_tag[tag]
        self._finished_since_compaction += 1

    def _finish(self, item: Item, outcome: str) -> None:
        with self._lock:
            self.journal.append([{"op": outcome, "id": item.id}])
            self._forget(item.id)
            if self._finished_since_compaction >= self.compact_every:
                self._rewrite()
                self._finished_since_compaction = 0

    def items(self) -> list[Item]:
        """Every item still to come, by due time."""
        with self._lock:
            return sorted(self._items.values())

    def tagged(self, tag: str) -> list[Item]:
        with self._lock:
            return sorted(self._items[i] for i in self._by_tag.get(tag, ()) if i in self._items)

    @property
    def pending(self) -> int:
        return len(self._items)

    def next_due(self) -> datetime | None:
        with self._lock:
            while self._heap and self._heap[0].id not in self._items:
                heapq.heappop(self._heap)  # cancelled or fired: dropped lazily
            return self._heap[0].due if self._heap else None

    # -- firing --------------------------------------------------------------------------
    def _pop_due(self, now: datetime) -> Item | None:
        with self._lock:
            while self._heap:
                item = self._heap[0]
                if item.id not in self._items:
                    heapq.heappop(self._heap)
                    continue
                if item.due > now:
                    return None
                heapq.heappop(self._heap)
                return item
        return None

    async def tick(self) -> int:
        """Fire everything due by the clock's now; returns how many were fired."""
        now = self.clock()
        fired = 0
        while (item := self._pop_due(now)) is not None:
            if item.expires is not None and now > item.expires:
                self.stats["stale"] += 1
                log.info("scheduler: dropped a stale %s item (due %s)", item.kind,
                         item.due.isoformat())
                self._finish(item, "stale")
                continue
            handler = self.handlers.get(item.kind)
            if handler is None:
                log.error("scheduler: no handler for %s items; item %s kept", item.kind, item.id)
                continue
            try:
                await handler(item, now)
            except Exception:
                self.stats["failed"] += 1
                log.exception("scheduler: the %s handler failed for item %s; it is dropped",
                              item.kind, item.id)
                self._finish(item, "failed")
                continue
            self.stats["fired"] += 1
            fired += 1
            self._finish(item, "fired")
        return fired

    def _poke(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, max_sleep: float = 60.0) -> None:
        """Fire items as they fall due until stopped."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        while not self._stopping:
            self._wake.clear()  # before the tick: a stop or an add during it is not lost
            await self.tick()
            due = self.next_due()
            delay = max_sleep if due is None else (due - self.clock()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, min(delay, max_sleep)))

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
