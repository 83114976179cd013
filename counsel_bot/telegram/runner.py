"""Run the bot on Telegram: start its parts in order, say when it is ready, stop it cleanly.

The parts are built by the composition root (counsel_bot/bootstrap.py) and handed in; this
module only knows the order in which they start and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.notes import NoteReader
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.scheduler import Schedule
from counsel_bot.runtime.transport import RetryLater, SendError
from counsel_bot.telegram.door import TelegramDoor
from counsel_bot.telegram.intake import Intake, Poller
from counsel_bot.telegram.router import UpdateRouter
from counsel_bot.telegram.step_processes import StepProcesses
from counsel_bot.telegram.updates import ALLOWED_UPDATES
from counsel_bot.telegram.webhook import WebhookServer, new_secret_token

if TYPE_CHECKING:  # the PostgreSQL parts, for several instances on one database
    from counsel_bot.runtime.pg_outbox import SharedOutbox
    from counsel_bot.store.pg_shared import LeaderLock
    from counsel_bot.telegram.pg_intake import SharedIntake

log = logging.getLogger(__name__)
LEADER_CHECK = 1.0  # seconds between looks at the polling lock

OFFICIAL_API = "https://api.telegram.org"
WEBHOOK_PATH = "/telegram/webhook"
CONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class RunOptions:
    framework: str
    token: str
    api_url: str = OFFICIAL_API
    webhook_url: str | None = None  # public https URL that Telegram posts to
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    limits: Limits = field(default_factory=Limits)
    request_timeout: float = 15.0  # seconds before a Bot API call counts as failed
    # Worker processes that step returnees' updates (0: threads in this process; needed
    # when the app's clock is not the wall clock, as in tests that move time by hand)
    step_processes: int = 0
    poll_timeout: int = 10  # seconds a long poll waits for updates


@dataclass
class TelegramParts:
    """Everything the runner starts and stops, built by the composition root."""

    door: TelegramDoor
    router: UpdateRouter
    intake: Intake | SharedIntake
    outbox: Outbox | SharedOutbox
    scheduler: Schedule
    notes: NoteReader
    journals: list[Journal]
    data_dir: Path
    processes: StepProcesses | None = None
    record_username: Callable[[str], None] = lambda _name: None
    # Several instances on one database: one polls at a time (whoever holds this lock),
    # and every instance's webhook takes the same secret.
    poll_lock: LeaderLock | None = None
    webhook_secret: str | None = None
    where: str = ""  # for the ready line: where the data is


class TelegramRunner:
    def __init__(self, parts: TelegramParts, options: RunOptions) -> None:
        self.parts = parts
        self.options = options
        self.door = parts.door
        self.router = parts.router
        self.intake = parts.intake
        self.outbox = parts.outbox
        self.scheduler = parts.scheduler
        self.webhook: WebhookServer | None = None
        self.webhook_port: int | None = None
        self.poller: Poller | None = None
        self.username = ""
        self._background: list[asyncio.Task[None]] = []
        self._outbox_task: asyncio.Task[None] | None = None
        self._polling: asyncio.Task[None] | None = None
        self._intake_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.started = asyncio.Event()
        self.failed: asyncio.Future[BaseException] | None = None

    def health(self) -> dict[str, Any]:
        return {"framework": self.options.framework, "outbox_pending": self.outbox.pending,
                "updates_pending": self.intake.pending, "updates_kept": self.intake.held}

    async def connect(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> str:
        """getMe until Telegram answers: one line when it cannot be reached, then quiet
        retries with backoff. TokenRefused goes up: retrying will not help."""
        attempt = 0
        while True:
            try:
                return await self.door.start()
            except (SendError, OSError, TimeoutError) as exc:
                delay = (exc.retry_after if isinstance(exc, RetryLater)
                         else CONNECT_BACKOFF[min(attempt, len(CONNECT_BACKOFF) - 1)])
                if attempt == 0:
                    log.warning("Telegram cannot be reached (%s); trying again with backoff",
                                type(exc).__name__)
                attempt += 1
                await sleep(delay)

    async def start(self) -> None:
        self.username = await self.connect()
        await asyncio.to_thread(self.parts.record_username, self.username)
        left = self.outbox.load()
        if left:
            log.info("outbox: %d message(s) left from the last run will be sent", left)
        self._outbox_task = asyncio.create_task(self.outbox.run())
        if self.parts.processes is not None:
            await self.parts.processes.start()
        waiting = self.scheduler.load()
        log.info("scheduler: %d item(s) waiting", waiting)
        self._background = [asyncio.create_task(self.scheduler.run()),
                            asyncio.create_task(self.parts.notes.watch())]
        again = self.intake.replay()
        if again:
            log.info("%d update(s) received before the last stop are handled now", again)
        self._intake_task = asyncio.create_task(self.intake.run())
        await self.router.publish_commands()
        mode = "polling"
        if self.options.webhook_url:
            secret = self.parts.webhook_secret or new_secret_token()
            from counsel_bot.logging_setup import register_secret

            register_secret(secret)
            self.webhook = WebhookServer(WEBHOOK_PATH, secret, self.intake.accept, self.health)
            host, port = self.options.listen
            self.webhook_port = await self.webhook.start(host, port)
            url = self.options.webhook_url.rstrip("/")
            if not url.endswith(WEBHOOK_PATH):
                url += WEBHOOK_PATH
            await self.door.set_webhook(url, secret, ALLOWED_UPDATES)
            mode = f"webhook on {host}:{self.webhook_port}"
        else:
            await self.door.delete_webhook()
            if self.parts.poll_lock is None:
                self.poller = self._new_poller()
                self._polling = asyncio.create_task(self.poller.run())
            else:
                self._polling = asyncio.create_task(self._poll_while_leader(self.parts.poll_lock))
                mode = "polling when it holds the polling lock"
        log.info("counsel-bot is ready: @%s on %s, %s, data in %s", self.username,
                 self.options.framework, mode, self.parts.where or self.parts.data_dir)
        self.started.set()

    def _new_poller(self) -> Poller:
        return Poller(self.door, self.intake, ALLOWED_UPDATES,
                      timeout=self.options.poll_timeout)

    async def _poll_while_leader(self, lock: LeaderLock) -> None:
        """Poll while this instance holds the polling lock; wait for it otherwise. When the
        leader dies its lock goes with its connection, and another instance polls on from
        the last confirmed offset (updates seen twice are queued once)."""
        while not self._stopping:
            try:
                won = await asyncio.to_thread(lock.try_acquire)
            except Exception as exc:  # the database is away: keep trying
                log.warning("the polling lock cannot be asked for (%s)", type(exc).__name__)
                won = False
            if not won:
                await asyncio.sleep(LEADER_CHECK)
                continue
            log.info("this instance polls Telegram for every instance (it holds the polling "
                     "lock)")
            self.poller = poller = self._new_poller()
            polling = asyncio.create_task(poller.run())
            try:
                while not polling.done():
                    await asyncio.wait({polling}, timeout=LEADER_CHECK)
                    if not polling.done() and not await asyncio.to_thread(lambda: lock.held):
                        log.warning("the polling lock was lost; another instance polls now")
                        poller.stop()
                if polling.done() and not self._stopping:
                    polling.result()  # TokenRefused goes up
            finally:
                poller.stop()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await polling
                await asyncio.to_thread(lock.release)

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in flight, let sends in flight finish."""
        self._stopping = True
        if self.webhook is not None:
            await self.webhook.stop()
        if self.poller is not None:
            self.poller.stop()
        if self._polling is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._polling
        self.intake.stop_taking()
        if self._intake_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._intake_task
        self.scheduler.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self.intake.finish(timeout=30)
            await self.router.wait_idle(timeout=5)
        except TimeoutError:
            log.error("stopping: updates still in flight after 30 s; they are handled again "
                      "at the next start")
        if self.parts.processes is not None:
            await self.parts.processes.stop()
        await self.outbox.stop()
        if self._outbox_task is not None:
            await self._outbox_task
        self.intake.close()
        await self.door.shutdown()
        for journal in self.parts.journals:
            journal.close()
        log.info("stopped; %d message(s) stay queued for the next start", self.outbox.pending)

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (also while still connecting), or until polling fails
        for good (the token refused): that error is raised once everything has stopped."""
        starting = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            starting.result()  # raises what made the start fail
            waiters: set[asyncio.Future[Any]] = {stopping}
            if self._polling is not None:
                waiters.add(self._polling)
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            await self.stop()
        if self._polling is not None and self._polling.done() and not self._polling.cancelled():
            exc = self._polling.exception()
            if exc is not None:
                raise exc
