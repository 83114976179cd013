"""The outbox of several bot instances on one PostgreSQL database: every instance queues,
one sends.

- Queueing (any instance, any thread): messages become rows of the ``outbox`` `PgQueue`, one
  transaction per call, with the chat (as its HMAC, for per-chat order), the priority and,
  with a key, one dedupe key per message (``<key>:<n>``): queued again after a crash, they
  are queued once.
- Sending: the instance that holds the ``sender`` `LeaderLock` claims rows (leased) into an
  in-memory `Outbox` (over `NoJournal`: the rows are the durable record) that keeps the
  global window and the per-chat buckets exactly as a single bot does; each outcome
  completes its row. One process counts every message, so the global rate holds across
  instances without a shared counter (why: docs/postgresql.md).
- The sender dies: its lock goes with its connection, another instance takes it, and the
  rows it held come back after their lease. Each send is recorded as tried just before it
  goes (one write for all the sends that start together), so a row that comes back tried
  may have gone in the instant of the crash: it is counted as uncertain and sent again;
  one that comes back untried was never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta

import psycopg

from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.journal import NoJournal
from counsel_bot.runtime.outbox import KEY_MEMORY, BlockedHook, Outbox, Queued
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.transport import OutMessage, Transport
from counsel_bot.store.pg_shared import Claim, Entry, LeaderLock, PgQueue
from counsel_bot.store.postgres import PostgresStore

log = logging.getLogger(__name__)

LOCK_CHECK = 1.0  # seconds between checks that the sender lock is still ours
# A new sender first waits out Telegram's windows (about a second, per chat and overall) of
# the sends of the one before it, which stops at most LOCK_CHECK after losing the lock:
# otherwise its fresh per-chat burst lands on top of the last one's (a 429).
HANDOVER_PAUSE = LOCK_CHECK + 1.0
DEDUPE_MEMORY = timedelta(seconds=KEY_MEMORY)  # done rows kept: their keys are remembered
PURGE_EVERY = 3600.0  # seconds between purges of older done rows (by the sender)
STAT_KEYS = ("sent", "retried", "blocked", "failed", "rate_limited")


class SharedOutbox:
    """The `Outbox` interface for one instance among several (see the module docstring)."""

    def __init__(self, store: PostgresStore, transport: Transport, *,
                 limits: Limits | None = None, on_blocked: BlockedHook | None = None,
                 lease: float = 15.0, poll: float = 0.05, handover_pause: float = HANDOVER_PAUSE,
                 lock: LeaderLock | None = None) -> None:
        self.queue = PgQueue(store, "outbox", lease=lease)
        self.lock = lock or LeaderLock(store.url, "sender")
        self.transport = transport
        self.limits = limits or Limits()
        self.on_blocked = on_blocked
        self.poll = poll
        self.handover_pause = handover_pause
        self.buffer = max(64, int(2 * self.limits.per_second))  # rows held by the sender
        self.journal = NoJournal()
        self.uncertain = 0
        self._held: dict[int, Claim] = {}
        self._done: list[tuple[Claim, str, str]] = []  # claim, outcome, chat
        self._local: Outbox | None = None
        self._earlier = dict.fromkeys(STAT_KEYS, 0)  # stats of earlier turns as the sender
        self._wake: asyncio.Event | None = None
        self._tries: list[Claim] = []  # sends about to start, to record as tried
        self._tries_asked = 0
        self._tries_written = 0
        self._writing_tries: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # -- queueing (any instance, any thread) ---------------------------------------------
    def enqueue(self, chat: str, messages: Iterable[OutMessage],
                priority: Priority = Priority.REPLY, key: str | None = None) -> list[int]:
        """Queue messages for one chat, in order, durably; with a `key`, only once."""
        entries = [Entry(Queued(int(priority), 0, chat, m).record(), chat=chat,
                         key=None if key is None else f"{key}:{n}", priority=int(priority))
                   for n, m in enumerate(messages)]
        if not entries:
            return []
        ids = [i for i in self.queue.put_many(entries) if i is not None]
        if not ids and key is not None:
            log.info("outbox: already queued once, not again (%s)", key.split(":")[0])
        self._poke()
        return ids

    async def enqueue_soon(self, chat: str, messages: Iterable[OutMessage],
                           priority: Priority = Priority.REPLY,
                           key: str | None = None) -> list[int]:
        return await asyncio.to_thread(self.enqueue, chat, list(messages), priority, key)

    def enqueue_bulk(self, items: Iterable[tuple[str, OutMessage]]) -> int:
        entries = [Entry(Queued(int(Priority.BULK), 0, chat, m).record(), chat=chat,
                         priority=int(Priority.BULK)) for chat, m in items]
        if entries:
            self.queue.put_many(entries)
            self._poke()
        return len(entries)

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and loop.is_running():
            loop.call_soon_threadsafe(wake.set)

    # -- the runner's interface ----------------------------------------------------------
    def load(self) -> int:
        """Messages waiting in the database (queued by any instance)."""
        return self.queue.pending()

    @property
    def pending(self) -> int:
        return self.queue.pending()

    @property
    def stats(self) -> dict[str, int]:
        local = self._local.stats if self._local is not None else {}
        return {k: self._earlier[k] + int(local.get(k, 0)) for k in STAT_KEYS}

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until no message of any instance is left to send."""
        async def idle() -> None:
            while await asyncio.to_thread(self.queue.pending):
                await asyncio.sleep(self.poll)
        await asyncio.wait_for(idle(), timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop sending; `run` lets the sends in flight finish and gives the rest back."""
        del timeout
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Queue-only until this instance wins the sender lock; then send for all."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        while not self._stopping:
            try:
                won = await asyncio.to_thread(self.lock.try_acquire)
            except psycopg.Error as exc:
                log.warning("outbox: the database cannot be asked for the sender lock (%s)",
                            type(exc).__name__)
                won = False
            if not won:
                await self._nap(LOCK_CHECK)
                continue
            log.info("outbox: this instance sends for every instance (it holds the sender "
                     "lock)")
            try:
                await self._pause(self.handover_pause)
                if not self._stopping:
                    await self._send_while_held()
            finally:
                await asyncio.to_thread(self.lock.release)

    # -- sending (the holder of the sender lock) -----------------------------------------
    async def _send_while_held(self) -> None:
        loop = asyncio.get_running_loop()
        local = Outbox(self.journal, self.transport, limits=self.limits,
                       on_blocked=self.on_blocked, on_finished=self._finished,
                       before_send=self._record_try)
        self._local = local
        sending = asyncio.create_task(local.run())
        checked = renewed = loop.time()
        purged = loop.time() - PURGE_EVERY
        try:
            while not self._stopping:
                await self._settle()
                now = loop.time()
                if now - checked >= LOCK_CHECK:
                    checked = now
                    if not await asyncio.to_thread(lambda: self.lock.held):
                        log.warning("outbox: the sender lock was lost; another instance "
                                    "sends now")
                        break
                if now - purged >= PURGE_EVERY:
                    purged = now
                    await asyncio.to_thread(self.queue.purge, DEDUPE_MEMORY)
                if now - renewed >= self.queue.lease / 3:
                    renewed = now
                    await self._renew()
                room = self.buffer - len(self._held)
                claims = await asyncio.to_thread(self.queue.claim, room) if room > 0 else []
                self._take(claims, local)
                if len(claims) < room or room <= 0:
                    await self._nap(self.poll)
        except psycopg.Error:
            log.exception("outbox: the database failed while sending; trying again")
        finally:
            await local.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            try:
                await self._settle()
            except psycopg.Error:
                log.exception("outbox: %d outcome(s) could not be written; those messages go "
                              "again after their lease", len(self._done))
                self._done.clear()
            self._earlier = {k: self._earlier[k] + int(local.stats[k]) for k in STAT_KEYS}
            self._local = None
            untried = list(self._held.values())  # in flight finished in `local.stop`
            self._held.clear()
            with contextlib.suppress(psycopg.Error):
                await asyncio.to_thread(self.queue.give_back_many, untried)

    def _take(self, claims: list[Claim], local: Outbox) -> None:
        again = sum(1 for c in claims if c.tried)
        if again:
            self.uncertain += again
            log.warning("outbox: %d message(s) were on their way when an instance stopped; "
                        "they go again (Telegram may already have shown them)", again)
        queued = []
        for claim in claims:
            self._held[claim.id] = claim
            item = Queued.from_record({**claim.payload, "id": claim.id})
            item.attempts = claim.attempts - 1
            queued.append(item)
        if queued:
            local.admit(queued)

    async def _record_try(self, queued: Queued) -> None:
        """Before a send: its row marked tried, in one write shared by every send starting
        meanwhile (as the journal shares one fsync)."""
        claim = self._held.get(queued.id)
        if claim is None:
            return
        self._tries.append(claim)
        self._tries_asked += 1
        mine = self._tries_asked
        while self._tries_written < mine:
            if self._writing_tries is None or self._writing_tries.done():
                self._writing_tries = asyncio.ensure_future(self._write_tries())
            await asyncio.shield(self._writing_tries)

    async def _write_tries(self) -> None:
        tries, self._tries = self._tries, []
        upto = self._tries_asked
        await asyncio.to_thread(self.queue.mark_tried, tries)
        self._tries_written = upto

    def _finished(self, queued: Queued, outcome: str) -> None:
        claim = self._held.pop(queued.id, None)
        if claim is not None:
            self._done.append((claim, outcome, queued.chat))
            if self._wake is not None:
                self._wake.set()

    async def _settle(self) -> None:
        """Complete the rows whose messages have an outcome; a blocked chat's rows all."""
        if not self._done:
            return
        done, self._done = self._done, []
        blocked = {chat for _claim, outcome, chat in done if outcome == "blocked"}

        def write() -> int:
            for chat in blocked:
                self.queue.finish_chat(chat)
            return self.queue.complete_many([claim for claim, _o, _c in done])

        try:
            completed = await asyncio.to_thread(write)
        except psycopg.Error:
            self._done = done + self._done  # written at the next try, not forgotten
            raise
        if completed < len(done) and not blocked:
            log.warning("outbox: %d row(s) were taken over by another sender before their "
                        "outcome was written", len(done) - completed)

    async def _renew(self) -> None:
        held = list(self._held.values())
        still = await asyncio.to_thread(self.queue.renew_many, held)
        lost = len(held) - len(still)
        if lost:
            log.warning("outbox: %d held row(s) lost their lease (this sender stalled)", lost)

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds` (messages queued meanwhile do not end it), or until a stop."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while not self._stopping and loop.time() < until:
            await self._nap(until - loop.time())

    async def _nap(self, seconds: float) -> None:
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

