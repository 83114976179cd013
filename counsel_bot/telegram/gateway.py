"""What both Telegram doors share: from a neutral update to engine input, and back out.

The python-telegram-bot and aiogram adapters only translate their framework's objects into
`IncomingUpdate` and implement `Transport`. Everything else — private-chat rule, callback
keys, commands, splitting, right-to-left marks, the outbox — is here, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tinydb import TinyDB

from counsel_bot.cases.model import CaseWorker
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import NotifyCaseWorker, Priority, Send
from counsel_bot.engine.inbound import Inbound, Press, StaleButton, Unsupported, parse_text
from counsel_bot.engine.notices import caseworker_notice
from counsel_bot.i18n.catalogs import mark_rtl
from counsel_bot.runtime.conversations import ConversationService, chat_shard, load_state
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.transport import BotCommand, OutMessage, SendError, Transport
from counsel_bot.telegram import callback_keys
from counsel_bot.telegram.splitting import split_text
from counsel_bot.telegram.step_processes import Delivery, StepProcesses

log = logging.getLogger(__name__)

CHANNEL = "telegram"
DELIVERY_TABLE = "delivery"
COMMANDS = ("start", "help", "language", "privacy", "sos", "mydata", "delete", "stop")


class DeskRouter(Protocol):
    def worker(self, telegram_id: int) -> CaseWorker | None: ...

    async def handle(self, update: IncomingUpdate, worker: CaseWorker) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    chat: str
    message: OutMessage
    priority: Priority


@dataclass(frozen=True)
class IncomingUpdate:
    """A Telegram update reduced to what the bot needs, whatever framework parsed it."""

    update_id: int
    chat_id: int
    chat_type: str  # private, group, supergroup, channel
    kind: str  # text, callback, edited, added_to_group, photo, voice, sticker, ...
    language_code: str | None = None
    text: str = ""
    callback_id: str | None = None
    callback_data: str | None = None


MEDIA_KINDS = ("photo", "voice", "sticker", "location", "document", "video", "audio",
               "animation", "video_note", "contact", "venue", "poll", "dice")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member",
                   "channel_post"]


def _message_kind(message: dict[str, Any]) -> str:
    if isinstance(message.get("text"), str):
        return "text"
    return next((kind for kind in MEDIA_KINDS if kind in message), "other")


def incoming_from_dict(update: dict[str, Any]) -> IncomingUpdate | None:
    """Read a Bot API update (as JSON, from either framework) into an IncomingUpdate."""
    update_id = int(update.get("update_id", 0))
    if "callback_query" in update:
        query = update["callback_query"]
        chat = (query.get("message") or {}).get("chat") or {"id": query["from"]["id"],
                                                             "type": "private"}
        return IncomingUpdate(update_id, chat["id"], chat["type"], "callback",
                              language_code=query["from"].get("language_code"),
                              callback_id=query["id"], callback_data=query.get("data"))
    for field, edited in (("message", False), ("edited_message", True),
                          ("channel_post", False)):
        if field in update:
            message = update[field]
            kind = "edited" if edited else _message_kind(message)
            sender = message.get("from") or {}
            return IncomingUpdate(update_id, message["chat"]["id"], message["chat"]["type"],
                                  kind, language_code=sender.get("language_code"),
                                  text=message.get("text") or "")
    if "my_chat_member" in update:
        member = update["my_chat_member"]
        status = member.get("new_chat_member", {}).get("status")
        if member["chat"]["type"] != "private" and status in ("member", "administrator"):
            return IncomingUpdate(update_id, member["chat"]["id"], member["chat"]["type"],
                                  "added_to_group",
                                  language_code=member["from"].get("language_code"))
    return None


def inbound_from(db: TinyDB, update: IncomingUpdate, now: datetime) -> Inbound:
    """A private chat's update as engine input: a pressed key resolved in the chat's shard."""
    if update.kind == "callback":
        action = callback_keys.resolve(db, update.callback_data, now)
        return Press(action) if action else StaleButton()
    if update.kind == "text":
        return parse_text(update.text, update.language_code)
    return Unsupported(update.kind)


def chat_key(chat_id: int) -> str:
    return f"{CHANNEL}:{chat_id}"


def chat_id_of(chat: str) -> int:
    return int(chat.split(":", 1)[1])


class TelegramGateway:
    def __init__(self, conversations: ConversationService, outbox: Outbox,
                 transport: Transport) -> None:
        self.conversations = conversations
        self.outbox = outbox
        self.transport = transport
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, users
        self.desk: DeskRouter | None = None  # case workers' updates go there
        self.processes: StepProcesses | None = None  # else returnees step in threads here
        # What the runtime does after a step with effects beyond messages (alerts, check-ins)
        self.after_step: list[Callable[[str, str | None, list[Any]], None]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def context(self) -> EngineContext:
        return self.conversations.context

    async def handle_raw(self, update: dict[str, Any]) -> None:
        incoming = incoming_from_dict(update)
        if incoming is not None:
            await self.handle(incoming)

    async def handle(self, update: IncomingUpdate) -> None:
        """Handle one update, in order within its chat. Never raises: failures are logged."""
        self._in_flight += 1
        self._idle.clear()
        lock, users = self._chat_locks.get(update.chat_id, (asyncio.Lock(), 0))
        self._chat_locks[update.chat_id] = (lock, users + 1)
        try:
            async with lock:
                if update.kind == "callback" and update.callback_id:
                    await self._answer_callback(update.callback_id)
                if update.chat_type != "private":
                    await self._refuse_group(update)
                    return
                worker = self.desk.worker(update.chat_id) if self.desk else None
                if self.desk is not None and worker is not None:
                    await self.desk.handle(update, worker)
                elif self.processes is not None:
                    await self._step_elsewhere(update.chat_id, update, self.processes)
                else:
                    await asyncio.to_thread(self._step, update)
        except Exception:
            log.exception("update %d (kind %s) could not be handled", update.update_id,
                          update.kind)
        finally:
            self._release_lock(update.chat_id)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    def _release_lock(self, chat_id: int) -> None:
        lock, users = self._chat_locks[chat_id]
        if users == 1:
            del self._chat_locks[chat_id]
        else:
            self._chat_locks[chat_id] = (lock, users - 1)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for the updates being handled to finish (for a clean stop)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _answer_callback(self, callback_id: str) -> None:
        try:
            await self.transport.answer_callback(callback_id)
        except SendError as exc:  # the press is still handled; only the spinner stays
            log.warning("answerCallbackQuery failed: %s", type(exc).__name__)

    async def _step_elsewhere(self, chat_id: int, update: IncomingUpdate | Delivery,
                              processes: StepProcesses) -> None:
        """Step in a worker process; queue and act on what it asked for, here."""
        result = await processes.step(chat_id, update)
        for chat, messages, priority, key in result.enqueued:
            await self.outbox.enqueue_soon(chat, messages, priority, key=key)
        for chat, case_id, others in result.after_step:
            await asyncio.to_thread(self.act_after, chat, case_id, others)

    def _step(self, update: IncomingUpdate) -> None:
        def resolve(db: TinyDB) -> Inbound:
            return self._to_inbound(db, update)

        self.step(chat_key(update.chat_id), resolve, from_person=True)

    def step(self, chat: str, resolve: Callable[[TinyDB], Inbound],
             key: str | None = None, *, from_person: bool = False) -> None:
        """Step a chat's conversation, then queue what it says (blocking: run in a thread).

        `key` makes the step's messages go once even if it runs again (scheduled items).
        """
        chat_id = chat_id_of(chat)

        def render(db: TinyDB, effects: list[Any]) -> tuple[list[Outgoing], list[Any], str | None]:
            others = [e for e in effects if not isinstance(e, Send | NotifyCaseWorker)]
            return self._render(db, chat_id, effects, from_person), others, load_state(db).case_id

        out, others, case_id = self.conversations.handle_with(chat, resolve, render)
        groups: dict[tuple[str, Priority], list[OutMessage]] = {}
        for item in out:
            groups.setdefault((item.chat, item.priority), []).append(item.message)
        for (target, priority), messages in sorted(groups.items(), key=lambda g: g[0][1]):
            group_key = f"{key}:{target}" if key else None
            self.outbox.enqueue(target, messages, priority, key=group_key)
        if others:
            self.act_after(chat, case_id, others)

    def act_after(self, chat: str, case_id: str | None, others: list[Any]) -> None:
        """Run the `after_step` hooks on a step's effects beyond messages (blocking)."""
        for hook in self.after_step:
            try:
                hook(chat, case_id, others)
            except Exception:
                log.exception("acting on a step's effects failed (%s)", hook.__qualname__)

    async def deliver(self, chat: str, inbound: Inbound, key: str | None = None) -> None:
        """An event for a returnee (a session notice, a reminder), in the chat's order."""
        lock, users = self._chat_locks.get(chat_id_of(chat), (asyncio.Lock(), 0))
        self._chat_locks[chat_id_of(chat)] = (lock, users + 1)
        try:
            async with lock:
                if self.processes is not None:
                    await self._step_elsewhere(chat_id_of(chat), Delivery(chat, inbound, key),
                                               self.processes)
                else:
                    await asyncio.to_thread(self.step, chat, lambda _db: inbound, key)
        finally:
            self._release_lock(chat_id_of(chat))

    def _to_inbound(self, db: TinyDB, update: IncomingUpdate) -> Inbound:
        return inbound_from(db, update, self._now())

    def _render(self, db: TinyDB, chat_id: int, effects: list[Any],
                from_person: bool) -> list[Outgoing]:
        now = self._now()
        delivery = db.table(DELIVERY_TABLE)
        if from_person:
            delivery.truncate()  # they wrote again: reachable again
        reachable = not delivery.all()
        chat = chat_key(chat_id)
        out = []
        for effect in effects:
            if isinstance(effect, Send) and not reachable:
                log.info("a message to an unreachable chat was not queued")
            elif isinstance(effect, Send):
                out += [Outgoing(chat, m, effect.priority)
                        for m in to_messages(db, chat_id, effect, now)]
            elif isinstance(effect, NotifyCaseWorker):
                notice = self.caseworker_notice(effect)
                if notice is not None:
                    out.append(notice)
        return out

    def caseworker_notice(self, effect: NotifyCaseWorker) -> Outgoing | None:
        registry = self.conversations.registry
        case = registry.case(effect.case_id)
        worker = registry.caseworker(case.caseworker) if case else None
        if worker is None:
            log.error("a notice for case %s has no case worker to go to", effect.case_id)
            return None
        tr = self.context.translator(worker.language)
        text = caseworker_notice(effect.event, effect.case_id, effect.details,
                                 self.context.dialogs.system, tr)
        message = OutMessage(worker.telegram_id, mark_rtl(text) if tr.rtl else text,
                             protect=True, rtl=tr.rtl)
        return Outgoing(chat_key(worker.telegram_id), message, Priority.REPLY)

    def _now(self) -> datetime:
        return self.conversations.clock()

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
        await asyncio.to_thread(self.outbox.enqueue, f"{CHANNEL}-group:{update.chat_id}",
                                [message])

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

    def mark_unreachable(self, chat: str) -> None:
        """The person blocked the bot: nothing more is sent until they write again; their
        case worker is told, once."""
        with self.conversations.store.transaction(chat_shard(chat)) as db:
            delivery = db.table(DELIVERY_TABLE)
            if delivery.all():
                return
            delivery.insert({"unreachable_since": self._now().isoformat()})
            case_id = load_state(db).case_id
        if case_id:
            notice = self.caseworker_notice(NotifyCaseWorker(case_id, "unreachable"))
            if notice is not None:
                self.outbox.enqueue(notice.chat, [notice.message], notice.priority)


def to_messages(db: TinyDB, chat_id: int, send: Send, now: datetime) -> list[OutMessage]:
    """One engine Send as Telegram messages: split to fit, keyed buttons on the last part."""
    text = mark_rtl(send.text) if send.rtl else send.text
    parts = split_text(text)
    buttons = callback_keys.register(db, send, now)
    return [
        OutMessage(chat_id, part, buttons if i == len(parts) - 1 else (), protect=send.protect,
                   rtl=send.rtl)
        for i, part in enumerate(parts)
    ]
