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
from typing import Any

from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.notes import NoteReader
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.scheduler import Scheduler
from counsel_bot.runtime.transport import RetryLater, SendError
from counsel_bot.telegram.door import TelegramDoor
from counsel_bot.telegram.intake import Intake, Poller
from counsel_bot.telegram.router import UpdateRouter
from counsel_bot.telegram.step_processes import StepProcesses
from counsel_bot.telegram.updates import ALLOWED_UPDATES
from counsel_bot.telegram.webhook import WebhookServer, new_secret_token

log = logging.getLogger(__name__)

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
    intake: Intake
    outbox: Outbox
    scheduler: Scheduler
    notes: NoteReader
    journals: list[Journal]
    data_dir: Path
    processes: StepProcesses | None = None
    record_username: Callable[[str], None] = lambda _name: None


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
        self.started = asyncio.Event()
        self.failed: asyncio.Future[BaseException] | None = None

    def health(self) -> dict[str, Any]:
        return {"framework": self.options.framework, "outbox_pending": self.outbox.pending,
                "updates_pending": self.intake.journal.pending}

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
        await self.router.publish_commands()
        mode = "polling"
        if self.options.webhook_url:
            secret = new_secret_token()
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
            self.poller = Poller(self.door, self.intake, ALLOWED_UPDATES,
                                 timeout=self.options.poll_timeout)
            self._polling = asyncio.create_task(self.poller.run())
        log.info("counsel-bot is ready: @%s on %s, %s, data in %s", self.username,
                 self.options.framework, mode, self.parts.data_dir)
        self.started.set()

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in flight, let sends in flight finish."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.poller is not None and self._polling is not None:
            self.poller.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._polling
        self.scheduler.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self.intake.wait_idle(timeout=30)
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
