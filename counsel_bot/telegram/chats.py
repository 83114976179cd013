"""Telegram chats: each chat's conversation stepped once per key, in order, and what it says
turned into Telegram messages and queued.

A step is one update from the person, or one event from the runtime (a session notice, a
check-in). It runs in one store transaction (`run_step`): resolve pressed keys, step the
engine, write the case file, render messages with fresh callback keys, keep the outcome
under the step's key. Then the messages are queued with dedupe keys derived from the step's
key, and the after phase acts on the rest. Stepped again after a crash, the same key
replays the kept outcome: nothing is decided twice, nothing queued twice.

`run_step` is blocking and free of the event loop: it runs in a thread, or in a step process
(step_processes.py) with the very same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tinydb import TinyDB

from counsel_bot.cases.model import CaseWorker
from counsel_bot.engine.effects import Priority, Send
from counsel_bot.engine.inbound import Edited, Inbound, Press, StaleButton, Unsupported, parse_text
from counsel_bot.i18n.catalogs import mark_rtl
from counsel_bot.runtime.conversations import (
    DELIVERY_TABLE,
    ConversationService,
    chat_shard,
    load_state,
)
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.records import EffectCodec
from counsel_bot.runtime.transport import OutButton, OutMessage
from counsel_bot.telegram import callback_keys
from counsel_bot.telegram.splitting import split_text
from counsel_bot.telegram.updates import IncomingUpdate, chat_id_of, chat_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepRequest:
    """One step of a chat: an update from the person, or an event from the runtime."""

    chat: str
    key: str  # the step's identity: "u:<update_id>", "sched:<item>", "session:...", ...
    update: IncomingUpdate | None = None
    inbound: Inbound | None = None


@dataclass
class StepOutcome:
    """What a step asked for: messages per target chat, and effects for the after phase."""

    groups: list[tuple[str, int, list[OutMessage]]] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)
    case_id: str | None = None


class OutcomeCodec:
    """A StepOutcome as a JSON record, for the chat's shard (see step_records.py)."""

    def __init__(self, effects: EffectCodec) -> None:
        self.effects = effects

    def encode(self, outcome: StepOutcome) -> dict[str, Any]:
        return {
            "groups": [[chat, priority, [message_record(m) for m in messages]]
                       for chat, priority, messages in outcome.groups],
            "after": [self.effects.encode(e) for e in outcome.after],
            "case_id": outcome.case_id,
        }

    def decode(self, record: dict[str, Any]) -> StepOutcome:
        return StepOutcome(
            [(chat, int(priority), [message_from_record(m) for m in messages])
             for chat, priority, messages in record["groups"]],
            [self.effects.decode(e) for e in record["after"]],
            record.get("case_id"))


def message_record(message: OutMessage) -> dict[str, Any]:
    data = dict(vars(message))
    data["buttons"] = [[dict(vars(b)) for b in row] for row in message.buttons]
    return data


def message_from_record(data: dict[str, Any]) -> OutMessage:
    raw = dict(data)
    raw["buttons"] = tuple(tuple(OutButton(**b) for b in row) for row in raw["buttons"])
    return OutMessage(**raw)


def inbound_from(db: TinyDB, update: IncomingUpdate, now: datetime) -> Inbound:
    """A private chat's update as engine input: a pressed key resolved in the chat's shard."""
    if update.kind == "callback":
        action = callback_keys.resolve(db, update.callback_data, now)
        return Press(action) if action else StaleButton()
    if update.kind == "text":
        return parse_text(update.text, update.language_code)
    if update.kind == "edited":
        return Edited(update.text)
    return Unsupported("edited" if update.kind == "edited_media" else update.kind)


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


def run_step(conversations: ConversationService, request: StepRequest,
             codec: OutcomeCodec) -> StepOutcome:
    """Step a chat once under the request's key (blocking; see the module docstring)."""
    chat_id = chat_id_of(request.chat)
    update = request.update

    def resolve(db: TinyDB) -> Inbound:
        if update is not None:
            return inbound_from(db, update, conversations.clock())
        assert request.inbound is not None
        return request.inbound

    def render(db: TinyDB, effects: list[Any]) -> StepOutcome:
        now = conversations.clock()
        delivery = db.table(DELIVERY_TABLE)
        if update is not None:
            delivery.truncate()  # they wrote again: reachable again
        reachable = not delivery.all()
        groups: dict[int, list[OutMessage]] = {}
        after = []
        for effect in effects:
            if not isinstance(effect, Send):
                after.append(effect)
            elif reachable:
                groups.setdefault(int(effect.priority), []).extend(
                    to_messages(db, chat_id, effect, now))
            else:
                log.info("a message to an unreachable chat was not queued")
        return StepOutcome([(request.chat, p, groups[p]) for p in sorted(groups)], after,
                           load_state(db).case_id)

    return conversations.handle_with(
        request.chat, resolve, render, key=request.key, codec=codec,
        language_hint=update.language_code if update is not None else None)


Stepper = Callable[[StepRequest], Any]  # returns an awaitable StepOutcome
AfterPhase = Callable[[StepRequest, StepOutcome], None]


class TelegramChats:
    """The runtime's way to Telegram chats (the `Chats` port), and the steps of each chat."""

    def __init__(self, conversations: ConversationService, outbox: Outbox, codec: OutcomeCodec,
                 after: AfterPhase, stepper: Stepper | None = None) -> None:
        self.conversations = conversations
        self.outbox = outbox
        self.codec = codec
        self._after = after
        self._stepper = stepper  # a step process pool, or None: a thread of this process
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, users

    @contextlib.asynccontextmanager
    async def locked(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's turn: its updates and events are stepped one at a time."""
        lock, users = self._locks.get(chat_id, (asyncio.Lock(), 0))
        self._locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat_id]
            if users == 1:
                del self._locks[chat_id]
            else:
                self._locks[chat_id] = (lock, users - 1)

    async def step(self, request: StepRequest) -> None:
        """Step a chat (hold its turn first: `locked`), queue its messages, act on the rest."""
        if self._stepper is not None:
            outcome = await self._stepper(request)
        else:
            outcome = await asyncio.to_thread(run_step, self.conversations, request, self.codec)
        for index, (target, priority, messages) in enumerate(outcome.groups):
            await self.outbox.enqueue_soon(target, messages, Priority(priority),
                                           key=f"{request.key}:{index}")
        if outcome.after:
            await asyncio.to_thread(self._after, request, outcome)

    async def deliver(self, chat: str, inbound: Inbound, key: str) -> None:
        async with self.locked(chat_id_of(chat)):
            await self.step(StepRequest(chat, key, inbound=inbound))

    def to_worker(self, worker: CaseWorker, send: Send, key: str | None = None) -> None:
        chat = chat_key(worker.telegram_id)
        with self.conversations.store.transaction(chat_shard(chat)) as db:
            messages = to_messages(db, worker.telegram_id, send, self.conversations.clock())
        self.outbox.enqueue(chat, messages, send.priority, key=key)

    def mark_unreachable(self, chat: str) -> str | None:
        """The person blocked the bot: nothing more is sent until they write again. Returns
        their case, the first time, so that the case worker can be told once."""
        with self.conversations.store.transaction(chat_shard(chat)) as db:
            delivery = db.table(DELIVERY_TABLE)
            if delivery.all():
                return None
            delivery.insert({"unreachable_since": self.conversations.clock().isoformat()})
            return load_state(db).case_id
