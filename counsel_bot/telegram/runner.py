"""Run the bot on Telegram: one door, the gateway, the outbox, polling or a webhook."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from counsel_bot.bootstrap import App
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.closing import Closing
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.scheduler import Scheduler
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.telegram.desk import DeskService
from counsel_bot.telegram.door import TelegramDoor, make_door
from counsel_bot.telegram.gateway import ALLOWED_UPDATES, TelegramGateway
from counsel_bot.telegram.step_processes import StepProcesses
from counsel_bot.telegram.webhook import WebhookServer, new_secret_token

log = logging.getLogger(__name__)

OFFICIAL_API = "https://api.telegram.org"

WEBHOOK_PATH = "/telegram/webhook"


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


class TelegramRunner:
    def __init__(self, app: App, options: RunOptions) -> None:
        self.app = app
        self.options = options
        self.journal = Journal(app.settings.data_dir / "outbox" / "outbox.journal",
                               ShardCipher(app.key))
        self.door: TelegramDoor = make_door(options.framework, options.token, options.api_url,
                                            self._on_update, options.request_timeout)
        self.outbox = Outbox(self.journal, self.door.transport, limits=options.limits,
                             on_blocked=self._on_blocked)
        self.gateway = TelegramGateway(app.conversations, self.outbox, self.door.transport)
        self.schedule_journal = Journal(app.settings.data_dir / "schedule" / "schedule.journal",
                                        ShardCipher(app.key))
        self.scheduler = Scheduler(self.schedule_journal, clock=app.conversations.clock)
        self.casework = Casework(self.gateway, self.scheduler,
                                 Inbox(app.settings.data_dir, ShardCipher(app.key)))
        self.care = Care(self.casework)
        self.closing = Closing(self.care)
        self.casework.closing = self.closing
        self.gateway.desk = DeskService(self.casework, lambda: self.username)
        self._background: list[asyncio.Task[None]] = []
        self.webhook: WebhookServer | None = None
        self.webhook_port: int | None = None
        self.username = ""
        self._outbox_task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()

    async def _on_update(self, update: dict[str, Any]) -> None:
        await self.gateway.handle_raw(update)

    async def _on_blocked(self, chat: str) -> None:
        if chat.startswith("telegram:"):
            await asyncio.to_thread(self.gateway.mark_unreachable, chat)

    def health(self) -> dict[str, Any]:
        return {"framework": self.options.framework, "outbox_pending": self.outbox.pending}

    async def start(self) -> None:
        self.username = await self.door.start()
        await asyncio.to_thread(self.app.conversations.registry.record_bot_username,
                                self.username)
        left = self.outbox.load()
        if left:
            log.info("outbox: %d message(s) left from the last run will be sent", left)
        self._outbox_task = asyncio.create_task(self.outbox.run())
        if self.options.step_processes:
            self.gateway.processes = StepProcesses(self.app.settings,
                                                   self.options.step_processes)
            await self.gateway.processes.start()
        waiting = self.scheduler.load()
        log.info("scheduler: %d item(s) waiting", waiting)
        self._background = [asyncio.create_task(self.scheduler.run()),
                            asyncio.create_task(self.casework.watch_inbox())]
        await self.gateway.publish_commands()
        if self.options.webhook_url:
            secret = new_secret_token()
            from counsel_bot.logging_setup import register_secret

            register_secret(secret)
            self.webhook = WebhookServer(WEBHOOK_PATH, secret, self.door.feed, self.health)
            host, port = self.options.listen
            self.webhook_port = await self.webhook.start(host, port)
            url = self.options.webhook_url.rstrip("/")
            if not url.endswith(WEBHOOK_PATH):
                url += WEBHOOK_PATH
            await self.door.set_webhook(url, secret, ALLOWED_UPDATES)
            log.info("listening for webhooks on %s:%d as @%s (%s)", host, self.webhook_port,
                     self.username, self.options.framework)
        else:
            await self.door.delete_webhook()
            await self.door.start_polling(ALLOWED_UPDATES)
            log.info("polling as @%s (%s)", self.username, self.options.framework)
        self.started.set()

    async def stop(self) -> None:
        """Stop taking updates, finish the ones in flight, let sends in flight finish."""
        if self.webhook is not None:
            await self.webhook.stop()
        else:
            await self.door.stop_polling()
        self.scheduler.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self.gateway.wait_idle(timeout=30)
        except TimeoutError:
            log.error("stopping: updates still in flight after 30 s")
        if self.gateway.processes is not None:
            await self.gateway.processes.stop()
        await self.outbox.stop()
        if self._outbox_task is not None:
            await self._outbox_task
        await self.door.shutdown()
        self.journal.close()
        self.schedule_journal.close()
        log.info("stopped; %d message(s) stay queued for the next start", self.outbox.pending)

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
