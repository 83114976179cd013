"""One persistent outbox for every message out.

- Limits: a strict global window (about 30 a second) and a small burst per chat, then one a
  second; replies and safety alerts go before bulk messages.
- 429: the whole outbox pauses for `retry_after`. 5xx and network errors: retry with backoff.
  403 (blocked): the chat's queue is dropped and `on_blocked` is told, once.
- Persistence: every queued message is a journal record before it can be sent, its attempt
  is a record just before the request goes, and its outcome is a record as soon as Telegram
  answers; after a crash the outbox sends exactly the messages with no outcome. Only a
  message whose answer was lost in the crash itself can go twice (Telegram's sendMessage
  gives no way to ask whether it arrived): those are the ones with an attempt and no
  outcome, counted and logged at the next start as `uncertain`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from counsel_bot.engine.effects import Priority
from counsel_bot.runtime.journal import Journal, NoJournal
from counsel_bot.runtime.ratelimit import ChatBucket, GlobalWindow, Limits, Send
from counsel_bot.runtime.transport import (
    Blocked,
    OutButton,
    OutMessage,
    Rejected,
    RetryLater,
    SendError,
    Transient,
    Transport,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MIN_IN_FLIGHT = 4
QUICKEST_OVER = 10.0  # seconds over which the quickest answer sets the sends in flight
MAX_BACKOFF = 300.0
KEY_MEMORY = 7 * 24 * 3600.0  # how long a dedupe key is remembered, in seconds


@dataclass(order=True)
class Queued:
    priority: int
    id: int
    chat: str = field(compare=False)
    message: OutMessage = field(compare=False)
    attempts: int = field(default=0, compare=False)

    def record(self) -> dict[str, Any]:
        message = dict(vars(self.message))  # what asdict gives, without its deep copy
        message["buttons"] = [[dict(vars(b)) for b in row] for row in self.message.buttons]
        return {"op": "enq", "id": self.id, "chat": self.chat, "priority": self.priority,
                "message": message}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Queued:
        raw = dict(record["message"])
        raw["buttons"] = tuple(tuple(OutButton(**b) for b in row) for row in raw["buttons"])
        return cls(record["priority"], record["id"], record["chat"], OutMessage(**raw))


@dataclass
class OutboxReplay:
    """What an outbox journal holds: the messages still to send (their `enq` records, in
    order), those tried without an outcome, the dedupe keys, the highest id."""

    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    tried: set[int] = field(default_factory=set)
    keys: dict[str, float] = field(default_factory=dict)
    last_id: int = 0


def replay_outbox(journal: Journal | NoJournal) -> OutboxReplay:
    """Read an outbox journal (`Outbox.load`, and `store migrate`, which moves the messages
    still to send)."""
    out = OutboxReplay()
    for record in journal.replay():
        if record["op"] == "try":
            out.tried.add(record["id"])
            continue
        if record["op"] == "key":
            out.keys[record["key"]] = record["at"]
            continue
        if record["op"] == "done":  # outcomes of several messages, written together
            for done_id, _outcome in record["ids"]:
                out.pending.pop(done_id, None)
            continue
        out.last_id = max(out.last_id, record["id"])
        if record.get("key"):
            out.keys[record["key"]] = record.get("at", time.time())
        if record["op"] == "enq":
            out.pending[record["id"]] = record
        else:
            out.pending.pop(record["id"], None)
    return out


BlockedHook = Callable[[str], Awaitable[None]]
FinishedHook = Callable[[Queued, str], None]
BeforeSendHook = Callable[[Queued], Awaitable[None]]


class Outbox:
    def __init__(
        self, journal: Journal | NoJournal, transport: Transport, *,
        limits: Limits | None = None, clock: Callable[[], float] = time.monotonic,
        on_blocked: BlockedHook | None = None, max_in_flight: int = 32,
        compact_every: int = 5000, on_finished: FinishedHook | None = None,
        before_send: BeforeSendHook | None = None,
    ) -> None:
        self.journal = journal
        self.transport = transport
        self.limits = limits or Limits()
        self.clock = clock
        self.on_blocked = on_blocked
        self.on_finished = on_finished  # told each outcome, on the event loop
        self.before_send = before_send  # awaited just before each send (records the try)
        self.compact_every = compact_every
        self._lock = threading.Lock()  # journal appends, id allocation, `_unadmitted`
        self._ids = itertools.count(1)
        self._pending: dict[int, Queued] = {}
        self._unadmitted: dict[int, Queued] = {}  # in the journal, not yet in `_pending`
        self._arrived: list[Queued] = []  # durable, from other threads, for the loop to admit
        self._admit_scheduled = False
        self._queues: dict[str, list[Queued]] = {}
        self._ready: list[tuple[int, int, str]] = []
        self._waiting: list[tuple[float, str]] = []
        self._not_before: dict[str, float] = {}
        self._buckets: dict[str, ChatBucket] = {}
        self._in_flight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._window = GlobalWindow(self.limits.per_second, self.limits.window_margin,
                                    self.limits.pacing)
        self._paused_until = 0.0
        self.max_in_flight = max_in_flight
        self._sending = 0
        self._quickest: deque[tuple[float, float]] = deque()  # (when, answer time), rising
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._done_since_compaction = 0
        self._keys: dict[str, float] = {}  # dedupe key -> when it was first queued (epoch)
        self._outcomes: list[tuple[int, str]] = []  # finished, not yet in the journal
        self._outcomes_due = False
        self.stats = {"sent": 0, "retried": 0, "blocked": 0, "failed": 0, "rate_limited": 0}
        self.uncertain = 0  # messages that may have gone just before the last crash

    # -- persistence ---------------------------------------------------------------------
    def load(self) -> int:
        """Rebuild the queue from the journal; returns how many messages are still to send."""
        replay = replay_outbox(self.journal)
        self._keys.update(replay.keys)
        self._ids = itertools.count(replay.last_id + 1)
        self.uncertain = len(replay.tried & replay.pending.keys())
        if self.uncertain:
            log.warning("outbox: %d message(s) were on their way when the bot stopped; they go "
                        "again (Telegram may already have shown them)", self.uncertain)
        self.journal.rewrite([*self._key_records(), *replay.pending.values()])
        for record in replay.pending.values():
            self._admit(Queued.from_record(record))
        return len(replay.pending)

    def enqueue(self, chat: str, messages: Iterable[OutMessage],
                priority: Priority = Priority.REPLY, key: str | None = None) -> list[int]:
        """Persist then queue messages for one chat, in order. Safe from any thread.

        With a `key`, a second enqueue with the same key is ignored: what a scheduled item or
        a note from the admin command line sends, it sends once, even if it runs again after
        a crash.
        """
        queued = self._append(chat, messages, priority, key)
        if queued:
            self.journal.sync()  # outside the lock: threads enqueuing at once share one fsync
            self._hand_to_loop(queued)
        return [q.id for q in queued]

    async def enqueue_soon(self, chat: str, messages: Iterable[OutMessage],
                           priority: Priority = Priority.REPLY,
                           key: str | None = None) -> list[int]:
        """`enqueue` from the event loop: waits for the disk without blocking the loop."""
        queued = self._append(chat, messages, priority, key)
        if queued:
            await self.journal.sync_soon()
            self._hand_to_loop(queued)
        return [q.id for q in queued]

    def _append(self, chat: str, messages: Iterable[OutMessage], priority: Priority,
                key: str | None) -> list[Queued]:
        with self._lock:
            if key is not None and key in self._keys:
                log.info("outbox: already queued once, not again (%s)", key.split(":")[0])
                return []
            queued = [Queued(int(priority), next(self._ids), chat, m) for m in messages]
            records = [q.record() for q in queued]
            if key is not None:
                now = time.time()
                self._keys[key] = now
                records.insert(0, {"op": "key", "key": key, "at": now})
            self._write(queued, records)
        return queued

    def enqueue_bulk(self, items: Iterable[tuple[str, OutMessage]]) -> int:
        """Queue many messages to many chats with one journal write (check-ins, notices)."""
        with self._lock:
            queued = [Queued(int(Priority.BULK), next(self._ids), chat, m) for chat, m in items]
            self._write(queued, [q.record() for q in queued])
        self.journal.sync()
        self._hand_to_loop(queued)
        return len(queued)

    def _write(self, queued: list[Queued], records: list[dict[str, Any]]) -> None:
        """Append without waiting for the disk (the caller syncs); hold `_lock`."""
        self.journal.append(records, sync=False)
        for q in queued:
            self._unadmitted[q.id] = q

    def _hand_to_loop(self, queued: list[Queued]) -> None:
        loop = self._loop
        if loop is not None and loop.is_running() and not _on_loop(loop):
            with self._lock:  # one wake-up of the loop for everything that arrives meanwhile
                self._arrived += queued
                if self._admit_scheduled:
                    return
                self._admit_scheduled = True
            loop.call_soon_threadsafe(self._admit_arrived)
        else:
            self._admit_all(queued)

    def _admit_arrived(self) -> None:
        with self._lock:
            queued, self._arrived = self._arrived, []
            self._admit_scheduled = False
        self._admit_all(queued)

    def admit(self, queued: list[Queued]) -> None:
        """Take messages made durable elsewhere (the database's queue) straight into the
        queue to send; on the event loop."""
        self._admit_all(queued)

    def _finish(self, queued: Queued, outcome: str) -> None:
        self._pending.pop(queued.id, None)
        if self.on_finished is not None:
            self.on_finished(queued, outcome)
        self._outcomes.append((queued.id, outcome))
        if outcome == "sent":  # at once: the sooner it is written, the less a crash repeats
            self._write_outcomes()
            return
        if self._outcomes_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._write_outcomes()
            return
        self._outcomes_due = True
        loop.call_soon(self._write_outcomes)

    def _write_outcomes(self) -> None:
        """The outcomes so far (of this turn of the event loop), as one journal record.

        Outcomes are not fsynced (the next enqueue's fsync takes them along): a killed
        process keeps them (the kernel has them); only a power cut could lose the last few,
        which then go again. Not waiting for the disk keeps the event loop running.
        """
        self._outcomes_due = False
        done, self._outcomes = self._outcomes, []
        if not done:
            return
        self.journal.append([{"op": "done", "ids": [[i, o] for i, o in done]}], sync=False)
        self._done_since_compaction += len(done)
        if self._done_since_compaction >= self.compact_every:
            self._compact()

    def _key_records(self) -> list[dict[str, Any]]:
        horizon = time.time() - KEY_MEMORY
        self._keys = {k: at for k, at in self._keys.items() if at >= horizon}
        return [{"op": "key", "key": k, "at": at} for k, at in self._keys.items()]

    def _compact(self) -> None:
        self._outcomes.clear()  # their messages are left out of `live` below
        with self._lock:
            # Messages still on their way to the loop are in the journal but not yet in
            # `_pending`: keep them too.
            live = {**self._unadmitted, **self._pending}
            self.journal.rewrite([*self._key_records(),
                                  *(q.record() for q in sorted(live.values()))])
        self._done_since_compaction = 0

    # -- scheduling ----------------------------------------------------------------------
    def _admit_all(self, queued: list[Queued]) -> None:
        with self._lock:
            for q in queued:
                self._unadmitted.pop(q.id, None)
        for q in queued:
            self._admit(q)
        self._wake.set()

    def _admit(self, queued: Queued) -> None:
        self._pending[queued.id] = queued
        self._idle.clear()
        heapq.heappush(self._queues.setdefault(queued.chat, []), queued)
        self._schedule(queued.chat)

    def _schedule(self, chat: str) -> None:
        queue = self._queues.get(chat)
        if not queue:
            self._queues.pop(chat, None)
            return
        if chat in self._in_flight:
            return
        now = self.clock()
        bucket = self._buckets.setdefault(chat, ChatBucket(self.limits.per_chat_burst, now))
        when = max(bucket.ready_at(self.limits, now), self._not_before.get(chat, 0.0))
        if when <= now:
            head = queue[0]
            heapq.heappush(self._ready, (head.priority, head.id, chat))
        else:
            heapq.heappush(self._waiting, (when, chat))

    def _pop_ready(self) -> str | None:
        while self._ready:
            priority, ident, chat = heapq.heappop(self._ready)
            queue = self._queues.get(chat)
            if (chat not in self._in_flight and queue and queue[0].id == ident
                    and queue[0].priority == priority):
                return chat
        return None

    def _check_idle(self) -> None:
        if not self._pending and not self._in_flight:
            self._idle.set()
            # A chat's bucket is forgotten only once full again: a chat that was answered a
            # moment ago gets no fresh burst just because the outbox had nothing else to do.
            now = self.clock()
            self._buckets = {chat: bucket for chat, bucket in self._buckets.items()
                             if not bucket.full(self.limits, now)}
            self._not_before.clear()

    # -- running -------------------------------------------------------------------------
    async def run(self) -> None:
        """Send until stopped. Restartable; messages left over stay in the journal."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        while not self._stopping:
            now = self.clock()
            while self._waiting and self._waiting[0][0] <= now:
                _, chat = heapq.heappop(self._waiting)
                self._schedule(chat)
            slot = max(self._window.next_slot(now), self._paused_until)
            if slot > now:
                await self._sleep(slot - now)
                continue
            if self._sending >= self._in_flight_cap():
                await self._sleep(None)  # a send that ends wakes us
                continue
            chat = self._pop_ready()
            if chat is None:
                timeout = self._waiting[0][0] - now if self._waiting else None
                await self._sleep(timeout)
                continue
            self._sending += 1
            queued = heapq.heappop(self._queues[chat])
            self._in_flight.add(chat)
            self._buckets[chat].take(self.limits, self.clock())
            counted = self._window.take(self.clock())
            self.journal.append([{"op": "try", "id": queued.id}], sync=False)
            task = asyncio.create_task(self._deliver(queued, counted))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _note_answer_time(self, now: float, seconds: float) -> None:
        quickest = self._quickest  # a sliding minimum: each entry quicker than the next
        while quickest and quickest[-1][1] >= seconds:
            quickest.pop()
        quickest.append((now, seconds))
        while quickest[0][0] < now - QUICKEST_OVER:
            quickest.popleft()

    def _in_flight_cap(self) -> int:
        """Sends in flight: enough for the global rate at the quickest recent answer, twice
        over, and no more: beyond that they only queue in the HTTP client, which makes every
        answer slower (and a slow answer holds the global window, see GlobalWindow)."""
        if not self._quickest:
            return self.max_in_flight
        need = 2 * self.limits.per_second * self._quickest[0][1] + 2
        return max(MIN_IN_FLIGHT, min(self.max_in_flight, math.ceil(need)))

    async def _sleep(self, timeout: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _deliver(self, queued: Queued, counted: Send) -> None:
        chat = queued.chat
        try:
            try:
                if self.before_send is not None:
                    await self.before_send(queued)
                await self.transport.send_message(queued.message)
            finally:
                answered = self.clock()
                self._window.done(counted, answered)
                bucket = self._buckets.get(chat)
                if bucket is not None:
                    bucket.answered(answered)
                self._note_answer_time(answered, answered - counted.start)
        except RetryLater as exc:
            self.stats["rate_limited"] += 1
            log.warning("outbox: Telegram asked to wait %.1f s (message %d)",
                        exc.retry_after, queued.id)
            self._paused_until = self.clock() + exc.retry_after
            self._retry(queued, exc.retry_after, count=False)
        except Blocked:
            self._drop_chat(queued)
            if self.on_blocked is not None:
                try:
                    await self.on_blocked(chat)
                except Exception:
                    log.exception("outbox: handling a blocked chat failed (message %d)",
                                  queued.id)
        except Rejected as exc:
            self.stats["failed"] += 1
            log.error("outbox: Telegram refused message %d for good: %s", queued.id, exc)
            self._finish(queued, "rejected")
        except (TimeoutError, Transient, SendError, OSError) as exc:
            self._retry(queued, min(MAX_BACKOFF, 0.5 * 2 ** queued.attempts), reason=exc)
        except Exception as exc:  # a bug in a transport must not lose the message
            log.exception("outbox: unexpected error sending message %d", queued.id)
            self._retry(queued, min(MAX_BACKOFF, 0.5 * 2 ** queued.attempts), reason=exc)
        else:
            self.stats["sent"] += 1
            self._finish(queued, "sent")
            if queued.message.leave_after:
                await self._leave(queued)
        finally:
            self._in_flight.discard(chat)
            self._sending -= 1
            self._schedule(chat)
            self._check_idle()
            self._wake.set()

    async def _leave(self, queued: Queued) -> None:
        try:
            await self.transport.leave_chat(queued.message.chat_id)
        except Exception:
            log.exception("outbox: leaving a group failed (message %d)", queued.id)

    def _retry(self, queued: Queued, delay: float, *, count: bool = True,
               reason: BaseException | None = None) -> None:
        if count:
            queued.attempts += 1
            self.stats["retried"] += 1
            if queued.attempts >= MAX_ATTEMPTS:
                self.stats["failed"] += 1
                log.error("outbox: giving up on message %d after %d attempts: %s",
                          queued.id, queued.attempts, reason)
                self._finish(queued, "failed")
                return
            log.warning("outbox: message %d failed (%s); retry %d in %.1f s",
                        queued.id, type(reason).__name__, queued.attempts, delay)
        self._not_before[queued.chat] = self.clock() + delay
        heapq.heappush(self._queues.setdefault(queued.chat, []), queued)

    def _drop_chat(self, queued: Queued) -> None:
        dropped = [queued, *self._queues.pop(queued.chat, [])]
        self.stats["blocked"] += len(dropped)
        log.warning("outbox: a chat blocked the bot; %d message(s) to it dropped", len(dropped))
        for q in dropped:
            self._finish(q, "blocked")

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every queued message has an outcome."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking new sends; let the ones in flight finish. The rest stays queued."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        self._write_outcomes()

    @property
    def pending(self) -> int:
        return len(self._pending)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
