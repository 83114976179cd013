"""From Telegram into the bot: at least once, in order per chat, one bad update at a time.

Both ways in (long polling and the webhook) hand raw updates to `Intake.accept`, which
journals them durably before returning; only then does the poller ask for the next offset
or the webhook answer 200. Each update is then run through the framework's own parsing and
dispatch, in arrival order within its chat, and marked done. An update the framework cannot
read (a newer Bot API feature, a field it does not expect) is logged once, without its
content, and read by the bot's own tolerant reader instead, so the person still gets an
answer; it never stops the others.

An update whose step failed at every try (the router says so: `Unhandled`) is not marked
done: it stays in the journal and is handed back after `held_delay` (and at the next start),
while the chat's later updates go on. Its step is kept under its key, so the try that
succeeds answers it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from counsel_bot.runtime.transport import RetryLater, SendError
from counsel_bot.telegram.door import TelegramDoor, TokenRefused
from counsel_bot.telegram.update_journal import UpdateJournal
from counsel_bot.telegram.updates import chat_of, update_id_of

log = logging.getLogger(__name__)

Feed = Callable[[dict[str, Any]], Awaitable[None]]
Unhandled = Callable[[int], bool]  # whether an update's step failed at every try (asked once)

HELD_DELAYS = (60.0, 300.0, 1800.0, 7200.0, 21600.0)  # seconds before trying a kept update


def held_delay(tries: int) -> float:
    """How long a kept update waits before its `tries`-th handing back (1, 2, ...); the
    last delay repeats: it is never given up."""
    return HELD_DELAYS[min(tries, len(HELD_DELAYS)) - 1]


def never_unhandled(_update_id: int) -> bool:
    return False


def _kind(update: dict[str, Any]) -> str:
    """What sort of update it is, for logs (never its content)."""
    return next((k for k in update if k != "update_id"), "empty")


async def read_update(update: dict[str, Any], feed: Feed, fallback: Feed, framework: str,
                      stats: dict[str, int]) -> None:
    """One update through the framework's parsing and dispatch, or, when the framework
    cannot read it, through the bot's own reader (said once, without content). Failures are
    logged with the update's id; they never stop the others."""
    update_id = update_id_of(update)
    try:
        try:
            await feed(update)
        except Exception as exc:  # the framework could not read it: say so, once
            stats["unreadable"] += 1
            log.warning("intake: %s could not read update %s (%s, %s); the bot reads it "
                        "itself", framework, update_id, _kind(update), type(exc).__name__)
            await fallback(update)
    except Exception:
        log.exception("intake: update %s could not be handled", update_id)


class Intake:
    def __init__(self, journal: UpdateJournal, feed: Feed, fallback: Feed,
                 framework: str, unhandled: Unhandled = never_unhandled) -> None:
        self.journal = journal
        self._feed = feed
        self._fallback = fallback
        self._unhandled = unhandled
        self.framework = framework
        self._held: dict[int, int] = {}  # kept updates: handings back so far
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._tails: dict[int | None, asyncio.Task[None]] = {}  # last task of each chat
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = {"accepted": 0, "duplicate": 0, "unreadable": 0, "replayed": 0,
                      "held": 0}

    def replay(self) -> int:
        """Handle again what was accepted but not done before the last stop."""
        pending = self.journal.load()
        for update in pending:
            self._process_soon(update)
        self.stats["replayed"] += len(pending)
        return len(pending)

    async def accept(self, updates: Iterable[Any]) -> None:
        """Journal updates durably, then start handling them. Returns once they are safe."""
        fresh = []
        for update in updates:
            if update_id_of(update) is None:
                log.warning("intake: a body that is not a Telegram update was ignored")
            elif self.journal.accept(update):
                fresh.append(update)
            else:
                self.stats["duplicate"] += 1
                log.info("intake: update %d came again and is handled once",
                         update_id_of(update))
        if not fresh:
            return
        await self.journal.sync()
        self.stats["accepted"] += len(fresh)
        for update in fresh:
            self._process_soon(update)

    def _process_soon(self, update: dict[str, Any]) -> None:
        chat = chat_of(update)
        task = asyncio.create_task(self._process(update, self._tails.get(chat)))
        self._tails[chat] = task
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(lambda t, c=chat: self._finished(t, c))

    def _finished(self, task: asyncio.Task[None], chat: int | None) -> None:
        self._tasks.discard(task)
        if self._tails.get(chat) is task:
            del self._tails[chat]
        if not self._tasks:
            self._idle.set()

    async def _process(self, update: dict[str, Any], before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.wait({before})  # the chat's earlier update first, however it ended
        update_id = update_id_of(update)
        assert update_id is not None
        try:
            await read_update(update, self._feed, self._fallback, self.framework, self.stats)
        finally:
            if self._unhandled(update_id):
                self._hold(update, update_id)
            else:
                self._held.pop(update_id, None)
                self.journal.done(update_id)

    def _hold(self, update: dict[str, Any], update_id: int) -> None:
        """Keep an update whose step failed (still pending in the journal) and hand it back
        later, after the chat's updates that came meanwhile."""
        tries = self._held.get(update_id, 0) + 1
        self._held[update_id] = tries
        self.stats["held"] += 1
        delay = held_delay(tries)
        log.warning("intake: update %d is kept and handed back in %.0f s (%d so far)",
                    update_id, delay, tries)
        self._timers[update_id] = asyncio.get_running_loop().call_later(
            delay, self._hand_back, update, update_id)

    def _hand_back(self, update: dict[str, Any], update_id: int) -> None:
        self._timers.pop(update_id, None)
        self._process_soon(update)

    @property
    def held(self) -> int:
        """Updates kept because their step failed, waiting to be handed back."""
        return len(self._timers)

    @property
    def pending(self) -> int:
        return self.journal.pending

    async def run(self) -> None:
        """Nothing to pull: updates are pushed to `accept` (see SharedIntake for one that
        pulls from the database)."""

    def stop_taking(self) -> None:
        """Nothing to stop: updates come only through `accept`."""

    async def wait_idle(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def finish(self, timeout: float | None = None) -> None:
        """Until the updates in hand are handled (a stop)."""
        await self.wait_idle(timeout)

    def close(self) -> None:
        """Kept updates stay in the journal: the next start hands them back."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.journal.flush()


class Poller:
    """Long polling through the door, with backoff while Telegram cannot be reached."""

    def __init__(self, door: TelegramDoor, intake: Intake, allowed_updates: list[str],
                 timeout: int = 10, max_backoff: float = 60.0) -> None:
        self.door = door
        self.intake = intake
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._stopping = False
        self._fetch: asyncio.Task[list[Any]] | None = None
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Poll until stopped. Raises TokenRefused when Telegram refuses the token."""
        offset: int | None = None
        backoff = 1.0
        outage = False
        while not self._stopping:
            self._fetch = asyncio.ensure_future(self.door.fetch_updates(
                offset, self.timeout, self.allowed_updates))
            try:
                updates = await self._fetch
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except TokenRefused:
                raise
            except (SendError, OSError, TimeoutError) as exc:
                delay = exc.retry_after if isinstance(exc, RetryLater) else backoff
                if not outage:
                    log.warning("Telegram cannot be reached (%s); trying again with backoff",
                                type(exc).__name__)
                outage = True
                backoff = min(self.max_backoff, backoff * 2)
                await self._pause(delay)
                continue
            finally:
                self._fetch = None
            if outage:
                log.info("Telegram can be reached again")
            outage, backoff = False, 1.0
            ids = [i for i in map(update_id_of, updates) if i is not None]
            await self.intake.accept(updates)  # durable before the next offset confirms them
            if ids:
                offset = max(ids) + 1

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def stop(self) -> None:
        """Stop polling: a long poll in flight is abandoned (its offset was not confirmed)."""
        self._stopping = True
        if self._fetch is not None:
            self._fetch.cancel()
        self._wake.set()
