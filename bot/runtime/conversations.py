"""Run one input through the engine inside one store transaction.

The state is loaded, stepped and saved under the shard's lock, so two inputs for the same
chat (from two processes, or two updates at once) never overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from tinydb import TinyDB
from tinydb.table import Document

from bot.cases.model import Case
from bot.cases.registry import CaseError, Registry
from bot.engine.context import EngineContext
from bot.engine.effects import AnswerSession, Audit, Effect, ForgetPersonalData
from bot.engine.engine import step
from bot.engine.inbound import Inbound, Joined, Start
from bot.engine.state import Conversation
from bot.store.port import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Resolver = Callable[[TinyDB], Inbound]
Renderer = Callable[[TinyDB, list[Effect]], T]

STATE_TABLE = "conversation"
EVENTS_TABLE = "events"
# Tables that survive the withdrawal of counselling consent: the dialog position with the
# language and consent answers, and the record of consent events.
KEPT_ON_WITHDRAWAL = frozenset({STATE_TABLE, EVENTS_TABLE})


def chat_shard(chat: str) -> str:
    return f"chat:{chat}"


def load_state(db: TinyDB) -> Conversation:
    return Conversation.from_dict(db.table(STATE_TABLE).get(doc_id=1))


def save_state(db: TinyDB, state: Conversation) -> None:
    db.table(STATE_TABLE).upsert(Document(state.to_dict(), doc_id=1))


class ConversationService:
    def __init__(
        self, store: Store, context: EngineContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.context = context
        self.clock = clock
        self.registry = Registry(store, context.deployment, clock=lambda: self.clock())

    def handle(self, chat: str, inbound: Inbound) -> list[Effect]:
        """Step the chat's conversation; returns the effects still to apply outside the store."""
        return self.handle_with(chat, lambda _db: inbound, lambda _db, effects: effects)

    def handle_with(self, chat: str, resolve: Resolver, render: Renderer[T]) -> T:
        """Like `handle`, with the door's work done inside the same transaction.

        `resolve` turns the door's input into engine input (it may read the shard, e.g. to
        map a callback key to its action); `render` turns the remaining effects into what
        the door will send (it may write the shard, e.g. new callback keys). All of it
        commits together or not at all.
        """
        now = self.clock()
        with self.store.transaction(chat_shard(chat)) as db:
            state = load_state(db)
            inbound = self._redeem_invitation(resolve(db), chat)
            case = self.registry.case(state.case_id) if state.case_id else None
            if isinstance(inbound, Start) and isinstance(inbound.invitation, Joined):
                case = self.registry.case(inbound.invitation.case_id)
            outcome = step(state, inbound, self.context.at(now, case))
            save_state(db, outcome.state)
            remaining: list[Effect] = []
            for effect in outcome.effects:
                if isinstance(effect, Audit):
                    db.table(EVENTS_TABLE).insert(
                        {"at": now.isoformat(), "event": effect.event, **effect.details})
                elif isinstance(effect, ForgetPersonalData):
                    for name in db.tables() - KEPT_ON_WITHDRAWAL:
                        db.drop_table(name)
                    if effect.case_id:
                        self.registry.unlink_chat(effect.case_id, "declined")
                elif isinstance(effect, AnswerSession):
                    try:
                        self.registry.answer_session(effect.case_id, effect.session_id,
                                                     effect.answer, effect.suggestion)
                    except CaseError as exc:  # changed by the case worker meanwhile
                        log.warning("a session answer was not recorded: %s", exc)
                else:
                    remaining.append(effect)
            return render(db, remaining)

    def _redeem_invitation(self, inbound: Inbound, chat: str) -> Inbound:
        """/start CODE: the runtime looks the code up; the engine gets what it found."""
        if not isinstance(inbound, Start) or not inbound.payload:
            return inbound
        found = self.registry.redeem(inbound.payload, chat)
        invitation: Joined | str = (
            Joined(found.case_id, found.language, found.country, found.timezone)
            if isinstance(found, Case) else found)
        return Start(inbound.payload, inbound.language_hint, inbound.language_chosen,
                     invitation)

    def state_of(self, chat: str) -> Conversation:
        with self.store.snapshot(chat_shard(chat)) as db:
            return load_state(db)
