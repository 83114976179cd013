"""Where each Telegram update goes: a group is told the bot works in private and left, a
case worker's update goes to the desk, a returnee's to their conversation.

A step that fails (the store cannot be written, a step process is away, a bug) is tried
again a few times while the chat waits (`STEP_RETRY_DELAYS`): a step is kept under the
update's key, so trying again decides nothing twice. When it still fails, the person is told
once, kindly, that their message is kept, and a returnee is given the emergency contacts
there and then (they need no store); the update is reported as not handled
(`take_unhandled`), so that the intake keeps it and hands it back later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from counsel_bot.cases.model import CaseWorker
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import Priority
from counsel_bot.engine.safety import contacts_without_state
from counsel_bot.i18n.catalogs import mark_rtl
from counsel_bot.runtime.transport import BotCommand, OutMessage, SendError, Transport
from counsel_bot.telegram.chats import StepRequest, TelegramChats
from counsel_bot.telegram.updates import CHANNEL, IncomingUpdate, chat_key, incoming_from_dict

log = logging.getLogger(__name__)

STEP_RETRY_DELAYS = (0.5, 2.0, 8.0)  # seconds between tries of a failing step

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
        self._unhandled: set[int] = set()
        self.retry_delays: tuple[float, ...] = STEP_RETRY_DELAYS

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
                if not await self._step_with_retries(update, worker):
                    self._unhandled.add(update.update_id)
                    await self._say_kept(update, worker)
        except Exception:
            log.exception("update %d (kind %s) could not be handled", update.update_id,
                          update.kind)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _step_with_retries(self, update: IncomingUpdate,
                                 worker: CaseWorker | None) -> bool:
        """Step the update (desk or conversation), trying again while it fails; False when
        every try failed (each failure is logged, with the update's id, never its text)."""
        for tries, delay in enumerate((*self.retry_delays, None), start=1):
            try:
                if worker is not None:
                    await self.desk.handle(update, worker)
                else:
                    await self.chats.step(StepRequest(chat_key(update.chat_id),
                                                      f"u:{update.update_id}", update=update))
                if tries > 1:
                    log.info("update %d was handled at try %d", update.update_id, tries)
                return True
            except Exception as exc:
                if delay is None:
                    log.exception("update %d (kind %s) could not be handled in %d tries; it "
                                  "is kept and tried again later", update.update_id,
                                  update.kind, tries)
                    return False
                log.warning("update %d (kind %s) failed at try %d (%s); trying again in "
                            "%.1f s", update.update_id, update.kind, tries,
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
        return False

    def take_unhandled(self, update_id: int) -> bool:
        """Whether the update's step failed at every try (asked once, by the intake, after
        the update went through): it is kept, to be handed back later."""
        if update_id in self._unhandled:
            self._unhandled.discard(update_id)
            return True
        return False

    async def _say_kept(self, update: IncomingUpdate, worker: CaseWorker | None) -> None:
        """Tell the person once that their message is kept; a returnee also gets the
        emergency contacts, which come from the configuration, not the store."""
        lang = self._language(worker.language if worker else update.language_code)
        tr = self.context.translator(lang)
        text = tr(self.context.dialogs.system["message_kept"])
        if worker is None:
            text += "\n\n" + contacts_without_state(self.context, lang)
        message = OutMessage(update.chat_id, mark_rtl(text) if tr.rtl else text, rtl=tr.rtl,
                             protect=True)
        await self.chats.outbox.enqueue_soon(chat_key(update.chat_id), [message],
                                             Priority.URGENT, key=f"u:{update.update_id}:kept")

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
        tr = self.context.translator(self._language(update.language_code))
        text = tr(self.context.dialogs.system["group_only"])
        message = OutMessage(update.chat_id, mark_rtl(text) if tr.rtl else text,
                             rtl=tr.rtl, leave_after=True)
        await self.chats.outbox.enqueue_soon(f"{CHANNEL}-group:{update.chat_id}", [message],
                                             key=f"u:{update.update_id}:group")

    def _language(self, code: str | None) -> str:
        """An enabled language for a Telegram language code, else the deployment's default."""
        lang = (code or "").split("-")[0]
        deployment = self.context.deployment
        return lang if lang in deployment.languages else deployment.default_language

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
