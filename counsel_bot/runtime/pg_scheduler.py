"""The scheduler on PostgreSQL: items as rows of a `PgQueue` named "schedule", shared by every
bot instance on the database (a drop-in for `Scheduler`, see scheduler.py for the rules).

- Nothing is replayed at start-up: the rows are the schedule, so `load` only counts them.
- Firing: `tick` claims due rows (``due <= self.clock()``, the scheduler's own clock) under a
  lease, fires each handler, then completes the row. An instance that dies mid-way leaves its
  rows leased; after the lease another instance claims and fires them again. The handler gets
  the item id written into the row's payload when it was added, the same on every claim, so
  what it queues under ``sched:<id>`` is deduped by the outbox: fired twice, sent once.
- Added once: the item's ``key`` is the queue's unique dedupe key; done rows keep it until
  they are purged, a week (KEY_MEMORY) after they were done.
- Items added by other instances: `run` looks again at least every ``poll`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from counsel_bot.runtime.scheduler import KEY_MEMORY, Handler, Item
from counsel_bot.store.pg_shared import Claim, PgQueue
from counsel_bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)

QUEUE = "schedule"
NO_HANDLER_RETRY = timedelta(minutes=1)  # an item of a kind nobody handles, looked at again
PURGE_EVERY = 3600.0  # seconds between purges of done rows older than KEY_MEMORY


class PgScheduler:
    """`Scheduler`'s interface on a shared `PgQueue` (see module docstring)."""

    def __init__(self, store: PostgresStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 lease: float = 30.0, poll: float = 1.0, batch: int = 20,
                 owner: str | None = None) -> None:
        self.queue = PgQueue(store, QUEUE, lease=lease, owner=owner)
        self.clock = clock
        self.poll = poll
        self.batch = batch
        self.handlers: dict[str, Handler] = {}
        self.stats = {"fired": 0, "stale": 0, "cancelled": 0, "failed": 0}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._purged_at = 0.0  # monotonic time of the last purge

    def on(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def load(self) -> int:
        """How many items are still to come (nothing to replay); purges old done rows."""
        self.purge()
        return self.pending

    def purge(self) -> int:
        """Forget rows done more than KEY_MEMORY ago (and so their keys)."""
        self._purged_at = time.monotonic()
        return self.queue.purge(timedelta(seconds=KEY_MEMORY))

    def add(self, kind: str, due: datetime, data: dict[str, Any] | None = None, *,
            tags: tuple[str, ...] = (), expires: datetime | None = None,
            key: str | None = None) -> str | None:
        """Schedule one item; safe from any thread. Returns its id, or None when an item
        with the same `key` was added before (by any instance)."""
        item = Item(due.astimezone(UTC), secrets.token_hex(8), kind, data or {}, tuple(tags),
                    expires.astimezone(UTC) if expires else None)
        if self.queue.put(item.record(), key=key, due=item.due, tags=item.tags) is None:
            return None
        self._poke()
        return item.id

    def cancel_tag(self, tag: str) -> int:
        """Cancel every item with `tag`, on every instance."""
        cancelled = self.queue.finish_tagged(tag)
        self.stats["cancelled"] += cancelled
        return cancelled

    def tagged(self, tag: str) -> list[Item]:
        return sorted(Item.from_record(c.payload) for c in self.queue.tagged(tag))

    @property
    def pending(self) -> int:
        return self.queue.pending()

    def next_due(self) -> datetime | None:
        """When the earliest item falls due (it may be held by another instance)."""
        return self.queue.next_due()

    # -- firing --------------------------------------------------------------------------
    async def tick(self) -> int:
        """Fire everything due by the clock's now; returns how many were fired here."""
        now = self.clock()
        fired = 0
        while claims := await asyncio.to_thread(self.queue.claim, self.batch, now):
            started = time.monotonic()
            while claims:
                if time.monotonic() - started > self.queue.lease / 2:  # slow handlers
                    held = await asyncio.to_thread(self.queue.renew_many, claims)
                    claims = [c for c in claims if c.id in held]
                    started = time.monotonic()
                    continue
                fired += await self._fire(claims.pop(0), now)
        if time.monotonic() - self._purged_at > PURGE_EVERY:
            await asyncio.to_thread(self.purge)
        return fired

    async def _fire(self, claim: Claim, now: datetime) -> int:
        item = Item.from_record(claim.payload)
        if item.expires is not None and now > item.expires:
            self.stats["stale"] += 1
            log.info("scheduler: dropped a stale %s item (due %s)", item.kind,
                     item.due.isoformat())
            await self._complete(claim, item)
            return 0
        handler = self.handlers.get(item.kind)
        if handler is None:
            log.error("scheduler: no handler for %s items; item %s kept", item.kind, item.id)
            await asyncio.to_thread(self.queue.retry, claim, now + NO_HANDLER_RETRY)
            return 0
        try:
            await handler(item, now)
        except Exception:
            self.stats["failed"] += 1
            log.exception("scheduler: the %s handler failed for item %s (claim %d of it); "
                          "it is dropped", item.kind, item.id, claim.attempts)
            await self._complete(claim, item)
            return 0
        self.stats["fired"] += 1
        await self._complete(claim, item)
        return 1

    async def _complete(self, claim: Claim, item: Item) -> None:
        if not await asyncio.to_thread(self.queue.complete, claim):
            # The lease ran out and another instance took the row (or it was cancelled):
            # it may fire there too; what the handler queued carries the same dedupe key.
            log.warning("scheduler: the lease of %s item %s was lost while firing it",
                        item.kind, item.id)

    def _poke(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self, max_sleep: float | None = None) -> None:
        """Fire items as they fall due until stopped; sleeps until the next one is due, at
        most ``max_sleep`` (default: the poll interval, for items other instances add)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        poll = self.poll if max_sleep is None else max_sleep
        while not self._stopping:
            self._wake.clear()  # before the tick: a stop or an add during it is not lost
            try:
                await self.tick()
                due = await asyncio.to_thread(self.next_due)
            except Exception:  # the database is away for a moment: try again
                log.exception("scheduler: a look at the schedule failed")
                due = None
            delay = poll if due is None else (due - self.clock()).total_seconds()
            if delay <= 0:  # due, but held by another instance firing it
                delay = poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(delay, poll))

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
