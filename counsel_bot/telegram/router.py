"""Where each Telegram update goes: a group is told the bot works in private and left, a
case worker's update goes to the desk, a returnee's to their conversation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from counsel_bot.cases.model import CaseWorker
from counsel_bot.engine.context import EngineContext
from counsel_bot.i18n.catalogs import mark_rtl
from counsel_bot.runtime.transport import BotCommand, OutMessage, SendError, Transport
from counsel_bot.telegram.chats import StepRequest, TelegramChats
from counsel_bot.telegram.updates import CHANNEL, IncomingUpdate, chat_key, incoming_from_dict

log = logging.getLogger(__name__)

COMMANDS = ("start", "help", "language", "privacy", "sos", "mydata", "delete", "stop")


class Desk(Protocol):
    def worker(self, telegram_id: int) -> CaseWorker | None: ...

    async def handle(self, update: IncomingUpdate, worker: CaseWorker) -> None: ...


class UpdateRouter:
    def __init__(self, chats: TelegramChats, desk: Desk, transport: Transport) -> None:
        self.chats = chats
        self.desk = desk
        self.transport = transport
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def context(self) -> EngineContext:
        return self.chats.conversations.context

    async def handle_raw(self, update: dict[str, Any]) -> None:
        incoming = incoming_from_dict(update)
        if incoming is not None:
            await self.handle(incoming)

    async def handle(self, update: IncomingUpdate) -> None:
        """Handle one update, in order within its chat. Never raises: failures are logged."""
        self._in_flight += 1
        self._idle.clear()
        try:
            async with self.chats.locked(update.chat_id):
                if update.kind == "callback" and update.callback_id:
                    await self._answer_callback(update.callback_id)
                if update.chat_type != "private":
                    await self._refuse_group(update)
                    return
                worker = self.desk.worker(update.chat_id)
                if worker is not None:
                    await self.desk.handle(update, worker)
                else:
                    await self.chats.step(StepRequest(chat_key(update.chat_id),
                                                      f"u:{update.update_id}", update=update))
        except Exception:
            log.exception("update %d (kind %s) could not be handled", update.update_id,
                          update.kind)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for the updates being handled to finish (for a clean stop)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _answer_callback(self, callback_id: str) -> None:
        try:
            await self.transport.answer_callback(callback_id)
        except SendError as exc:  # the press is still handled; only the spinner stays
            log.warning("answerCallbackQuery failed: %s", type(exc).__name__)

    async def _refuse_group(self, update: IncomingUpdate) -> None:
        """Say once, in a group, that the bot works only in private; then leave."""
        if update.chat_type == "channel":
            await self.transport.leave_chat(update.chat_id)
            return
        if update.kind not in ("text", "added_to_group"):
            return
        lang = (update.language_code or "").split("-")[0]
        if lang not in self.context.deployment.languages:
            lang = self.context.deployment.default_language
        tr = self.context.translator(lang)
        text = tr(self.context.dialogs.system["group_only"])
        message = OutMessage(update.chat_id, mark_rtl(text) if tr.rtl else text,
                             rtl=tr.rtl, leave_after=True)
        await self.chats.outbox.enqueue_soon(f"{CHANNEL}-group:{update.chat_id}", [message],
                                             key=f"u:{update.update_id}:group")

    async def publish_commands(self) -> None:
        """The command menu, in each enabled language, and in the default one for the rest."""
        system = self.context.dialogs.system
        deployment = self.context.deployment
        for lang in (None, *deployment.languages):
            tr = self.context.translator(lang or deployment.default_language)
            commands = [BotCommand(c, tr(system[f"command_{c}"])) for c in COMMANDS]
            try:
                await self.transport.set_commands(commands, lang)
            except SendError as exc:
                log.error("setMyCommands for %s failed: %s", lang or "default", exc)
