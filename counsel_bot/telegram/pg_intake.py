"""From Telegram into several bot instances on one PostgreSQL database.

Any instance accepts updates (its webhook behind a load balancer, or the one that polls):
`accept` puts them into the ``updates`` `PgQueue` (the update id as dedupe key, the chat
for order) and returns once they are committed, before Telegram hears they arrived. Every
instance pulls from that queue: a row is claimable only when the chat's earlier updates are
done, so two updates of one chat are never stepped at once, and are stepped in order, by
whichever instances are alive. A row whose instance dies is claimed again after its lease;
the step records in the chat's shard make the second handling replay the first one's
outcome, and the outbox's dedupe keys keep its messages from being queued twice.

An update whose step failed at every try is put back as a row of its own, due after
`held_delay` and outside its chat's order (so the chat's later updates go on), in the same
transaction that marks its first row done: it is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from counsel_bot.store.pg_shared import Claim, Entry, PgQueue
from counsel_bot.store.postgres import PostgresStore
from counsel_bot.telegram.intake import Feed, Unhandled, held_delay, never_unhandled, read_update
from counsel_bot.telegram.updates import chat_of, update_id_of

log = logging.getLogger(__name__)

DEDUPE_MEMORY = timedelta(days=7)  # done updates kept: an update id seen again is known
PURGE_EVERY = 3600.0  # seconds between purges of what is older


class SharedIntake:
    """The `Intake` interface for one instance among several (see the module docstring)."""

    def __init__(self, store: PostgresStore, feed: Feed, fallback: Feed, framework: str, *,
                 unhandled: Unhandled = never_unhandled, lease: float = 15.0,
                 concurrency: int = 64, poll: float = 0.05) -> None:
        self.queue = PgQueue(store, "updates", lease=lease)
        self._feed = feed
        self._fallback = fallback
        self._unhandled = unhandled
        self.framework = framework
        self.concurrency = concurrency
        self.poll = poll
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taking = True
        self._handled: list[Claim] = []  # done, to mark so in the next write
        self._purged_at = 0.0
        self.stats = {"accepted": 0, "duplicate": 0, "unreadable": 0, "replayed": 0,
                      "held": 0}

    async def accept(self, updates: Iterable[Any]) -> None:
        """Commit updates to the database, then let the instances handle them."""
        entries = []
        for update in updates:
            update_id = update_id_of(update)
            if update_id is None:
                log.warning("intake: a body that is not a Telegram update was ignored")
                continue
            chat = chat_of(update)
            entries.append(Entry({"u": update}, chat=None if chat is None else str(chat),
                                 key=f"u:{update_id}"))
        if not entries:
            return
        ids = await asyncio.to_thread(self.queue.put_many, entries)
        fresh = sum(1 for i in ids if i is not None)
        self.stats["accepted"] += fresh
        self.stats["duplicate"] += len(ids) - fresh
        if len(ids) > fresh:
            log.info("intake: %d update(s) came again and are handled once", len(ids) - fresh)
        if self._wake is not None:
            self._wake.set()

    def replay(self) -> int:
        """Nothing to replay here: what was accepted and not done waits in the database."""
        return 0

    @property
    def pending(self) -> int:
        return self.queue.pending()

    @property
    def held(self) -> int:
        """Updates kept because their step failed (`_hold`): the only rows due later."""
        return self.queue.pending() - self.queue.pending(due_now=True)

    async def run(self) -> None:
        """Take updates from the database and handle them until `stop_taking`."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while self._taking:
            await asyncio.sleep(0)  # let the updates finishing together be marked together
            room = self.concurrency - len(self._tasks)
            try:
                await self._mark_done()
                if time.monotonic() - self._purged_at > PURGE_EVERY:
                    self._purged_at = time.monotonic()
                    await asyncio.to_thread(self.queue.purge, DEDUPE_MEMORY)
                claims = await asyncio.to_thread(self.queue.claim, room) if room > 0 else []
            except psycopg.Error as exc:
                log.warning("intake: the database cannot be read (%s); trying again",
                            type(exc).__name__)
                claims = []
                await asyncio.sleep(1.0)
            again = sum(1 for c in claims if c.attempts > 1)
            if again:
                self.stats["replayed"] += again
                log.info("%d update(s) taken by an instance that stopped are handled now",
                         again)
            for claim in claims:
                task = asyncio.create_task(self._handle(claim))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if len(claims) < room or room <= 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll)
        await self._mark_done()

    async def _handle(self, claim: Claim) -> None:
        update = claim.payload["u"]
        try:
            await read_update(update, self._feed, self._fallback, self.framework, self.stats)
        finally:
            update_id = update_id_of(update)
            if update_id is not None and self._unhandled(update_id):
                await self._hold(claim, update_id)
            else:
                self._handled.append(claim)
            if self._wake is not None:
                self._wake.set()

    async def _hold(self, claim: Claim, update_id: int) -> None:
        """Put an update whose step failed back as a row of its own, due later (see the
        module docstring). If the database refuses, the row stays leased to this instance
        and is claimed again after its lease: nothing is dropped either way."""
        tries = int(claim.payload.get("held", 0)) + 1
        delay = held_delay(tries)
        again = Entry({"u": claim.payload["u"], "held": tries}, chat=None,
                      key=f"u:{update_id}:held:{tries}",
                      due=datetime.now(UTC) + timedelta(seconds=delay))
        try:
            kept = await asyncio.to_thread(self.queue.complete_as, claim, again)
        except psycopg.Error as exc:
            log.error("intake: update %d could not be kept apart (%s); it is claimed again "
                      "after its lease", update_id, type(exc).__name__)
            return
        self.stats["held"] += 1
        if kept:
            log.warning("intake: update %d is kept and handed back in %.0f s (%d so far)",
                        update_id, delay, tries)

    async def _mark_done(self) -> None:
        """Mark handled updates done, in one write (a chat's next update becomes claimable
        once its earlier one is marked)."""
        handled, self._handled = self._handled, []
        if not handled:
            return
        try:
            completed = await asyncio.to_thread(self.queue.complete_many, handled)
        except psycopg.Error:
            log.exception("intake: marking %d update(s) done failed; they are handled again "
                          "after their lease (their steps replay)", len(handled))
            return
        if completed < len(handled):
            log.warning("intake: %d update(s) were handled after their lease ran out; another "
                        "instance may handle them again (their steps replay)",
                        len(handled) - completed)

    def stop_taking(self) -> None:
        self._taking = False
        if self._wake is not None:
            self._wake.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until this instance holds nothing and no instance has anything due to handle
        (updates kept for later, `_hold`, are not waited for)."""
        async def idle() -> None:
            while (self._tasks or self._handled
                   or await asyncio.to_thread(self.queue.pending, due_now=True)):
                await asyncio.sleep(self.poll)
        await asyncio.wait_for(idle(), timeout)

    async def finish(self, timeout: float | None = None) -> None:
        """Until the updates this instance holds are handled (a stop)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self._mark_done()

    def close(self) -> None:
        return None
