"""Run one input through the engine inside one store transaction.

The state is loaded, stepped and saved under the shard's lock, so two inputs for the same
chat (from two processes, or two updates at once) never overwrite each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tinydb import TinyDB
from tinydb.table import Document

from counsel_bot.audit import AuditLog
from counsel_bot.cases.followup import FollowUp
from counsel_bot.cases.lifecycle import Lifecycle
from counsel_bot.cases.model import Case
from counsel_bot.cases.registry import CaseError, Registry
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import (
    AnswerSession,
    Audit,
    Effect,
    ForgetPersonalData,
    RaiseAlert,
    RecordCheckin,
    RecordEvaluation,
    ReferralAnswer,
    RequestErasure,
)
from counsel_bot.engine.engine import step
from counsel_bot.engine.inbound import Inbound, Joined, Start
from counsel_bot.engine.state import Conversation
from counsel_bot.store.port import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
Resolver = Callable[[TinyDB], Inbound]
Renderer = Callable[[TinyDB, list[Any]], T]

STATE_TABLE = "conversation"
EVENTS_TABLE = "events"
# Tables that survive the withdrawal of counselling consent: the dialog position with the
# language and consent answers, and the record of consent events.
KEPT_ON_WITHDRAWAL = frozenset({STATE_TABLE, EVENTS_TABLE})


@dataclass(frozen=True)
class AlertRaised:
    """An alert is in the case file; the runtime sends it and watches its deadline."""

    case_id: str
    alert_id: str


def chat_shard(chat: str) -> str:
    return f"chat:{chat}"


def load_state(db: TinyDB) -> Conversation:
    return Conversation.from_dict(db.table(STATE_TABLE).get(doc_id=1))


def save_state(db: TinyDB, state: Conversation) -> None:
    db.table(STATE_TABLE).upsert(Document(state.to_dict(), doc_id=1))


class ConversationService:
    def __init__(
        self, store: Store, context: EngineContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        self.context = context
        self.clock = clock
        self.audit = audit
        self.registry = Registry(store, context.deployment, clock=lambda: self.clock())
        self.followup = FollowUp(self.registry)
        self.lifecycle = Lifecycle(self.registry, chat_shard)

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
            remaining: list[Any] = []
            for effect in outcome.effects:
                if isinstance(effect, Audit):
                    self.record_audit(effect, "returnee", "returnee_action", now,
                                      case_id=outcome.state.case_id or state.case_id)
                    remaining.append(effect)  # the runtime acts on consent changes
                elif isinstance(effect, RaiseAlert):
                    alert = self.followup.raise_alert(effect.case_id, effect.severity,
                                                      effect.categories, effect.justification,
                                                      effect.text, now)
                    remaining.append(AlertRaised(effect.case_id, alert["alert_id"]))
                elif isinstance(effect, RecordCheckin):
                    self.followup.record_checkin(effect.case_id, effect.checkin_id,
                                                 effect.wellbeing, effect.needs,
                                                 effect.comment, now)
                    remaining.append(effect)
                elif isinstance(effect, ForgetPersonalData):
                    for name in db.tables() - KEPT_ON_WITHDRAWAL:
                        db.drop_table(name)
                    if effect.case_id:
                        self.registry.unlink_chat(effect.case_id, "declined")
                    remaining.append(effect)  # the runtime cancels what was scheduled
                elif isinstance(effect, RecordEvaluation):
                    self.lifecycle.record_evaluation(effect.case_id, {
                        "met": effect.met, "missing": list(effect.missing),
                        "support": effect.support, "comment": effect.comment,
                        "at": now.isoformat()})
                    remaining.append(effect)
                elif isinstance(effect, ReferralAnswer):
                    self.lifecycle.record_referral(effect.case_id, effect.partner,
                                                   effect.granted, now)
                    remaining.append(effect)
                elif isinstance(effect, RequestErasure):
                    self.lifecycle.request_erasure(effect.case_id, now)
                    remaining.append(effect)
                elif isinstance(effect, AnswerSession):
                    try:
                        self.registry.answer_session(effect.case_id, effect.session_id,
                                                     effect.answer, effect.suggestion)
                    except CaseError as exc:  # changed by the case worker meanwhile
                        log.warning("a session answer was not recorded: %s", exc)
                else:
                    remaining.append(effect)
            return render(db, remaining)

    def record_audit(self, effect: Audit, actor: str, why: str, now: datetime,
                     case_id: str | None = None) -> None:
        """Into the hash-chained audit log: who, what, when, why; never anyone's words."""
        if self.audit is None:
            return
        details = dict(effect.details)
        if case_id and "case_id" not in details:
            details["case_id"] = case_id
        self.audit.record(actor, effect.event, why=why, details=details, at=now)

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
