"""Run one input through the engine inside one store transaction.

The state is loaded, stepped and saved under the shard's lock, so two inputs for the same
chat (from two processes, or two updates at once) never overwrite each other. What the step
writes into the case file (the *record* phase of its effects) happens in the same
transaction; what is left is returned for the door and the runtime.

A step with a key (an update, a scheduled item) is done once: its outcome is kept in the
shard under the key (see step_records.py), and the same key again replays it.

A chat shard that fails authentication is set aside, and the chat starts again with a kind
word: one damaged file must not silence a person for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from tinydb import TinyDB
from tinydb.table import Document

from counsel_bot.audit import AuditTrail
from counsel_bot.cases.followup import FollowUp
from counsel_bot.cases.lifecycle import Lifecycle
from counsel_bot.cases.model import Case
from counsel_bot.cases.registry import CaseError, Registry
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import (
    AnswerSession,
    Audit,
    ConsentChanged,
    Effect,
    ForgetPersonalData,
    NotifyCaseWorker,
    RaiseAlert,
    RecordCheckin,
    RecordEvaluation,
    ReferralAnswer,
    ReopenCase,
    RequestErasure,
    Send,
    SnoozeCheckin,
    StopContact,
    WatchSafety,
)
from counsel_bot.engine.engine import step
from counsel_bot.engine.inbound import ConversationLost, Inbound, Joined, Start
from counsel_bot.engine.state import Conversation
from counsel_bot.runtime import step_records
from counsel_bot.runtime.dispatch import EffectDispatcher
from counsel_bot.store.errors import CorruptShardError
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


@dataclass
class Recording:
    """What a record-phase handler works with: the chat's open shard and the step."""

    db: TinyDB
    chat: str
    now: datetime
    case_id: str | None


class StepCodec(Protocol[T]):
    """How a door keeps its rendered outcome of a step, to replay it (see step_records)."""

    def encode(self, outcome: T) -> dict[str, Any]: ...

    def decode(self, record: dict[str, Any]) -> T: ...


DELIVERY_TABLE = "delivery"  # in a chat's shard: when it became unreachable, if it did


def chat_shard(chat: str) -> str:
    return f"chat:{chat}"


def load_state(db: TinyDB) -> Conversation:
    return Conversation.from_dict(db.table(STATE_TABLE).get(doc_id=1))


def save_state(db: TinyDB, state: Conversation) -> None:
    db.table(STATE_TABLE).upsert(Document(state.to_dict(), doc_id=1))


def _passed_on(effect: Any, _rec: Recording) -> Any:
    return effect


class ConversationService:
    def __init__(
        self, store: Store, context: EngineContext,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
        audit: AuditTrail | None = None,
    ) -> None:
        self.store = store
        self.context = context
        self.clock = clock
        self.audit = audit
        self.registry = Registry(store, context.deployment, clock=lambda: self.clock())
        self.followup = FollowUp(self.registry)
        self.lifecycle = Lifecycle(self.registry, chat_shard)
        self.record = self._record_table()

    # -- the record phase ------------------------------------------------------------------
    def _record_table(self) -> EffectDispatcher[Recording]:
        """Every engine effect, and what goes into the case file for it (in the chat's
        transaction). A handler returns what the door and the runtime still have to do."""
        table: EffectDispatcher[Recording] = EffectDispatcher("record")
        table.on(Audit, self._record_audit)
        table.on(RaiseAlert, self._record_alert)
        table.on(RecordCheckin, self._record_checkin)
        table.on(ForgetPersonalData, self._forget)
        table.on(RecordEvaluation, self._record_evaluation)
        table.on(ReferralAnswer, self._record_referral)
        table.on(RequestErasure, self._record_erasure_request)
        table.on(AnswerSession, self._record_session_answer)
        for kind in (Send, NotifyCaseWorker, SnoozeCheckin, StopContact, ConsentChanged,
                     ReopenCase, WatchSafety):
            table.on(kind, _passed_on)
        return table

    def _record_audit(self, effect: Audit, rec: Recording) -> Any:
        self.record_audit(effect, "returnee", "returnee_action", rec.now, case_id=rec.case_id)
        return None

    def _record_alert(self, effect: RaiseAlert, rec: Recording) -> Any:
        alert = self.followup.raise_alert(effect.case_id, effect.severity, effect.categories,
                                          effect.justification, effect.text, rec.now)
        return AlertRaised(effect.case_id, alert["alert_id"])

    def _record_checkin(self, effect: RecordCheckin, rec: Recording) -> Any:
        self.followup.record_checkin(effect.case_id, effect.checkin_id, effect.wellbeing,
                                     effect.needs, effect.comment, rec.now, effect.safe)
        return effect

    def _forget(self, effect: ForgetPersonalData, rec: Recording) -> Any:
        for name in rec.db.tables() - KEPT_ON_WITHDRAWAL:
            rec.db.drop_table(name)
        if effect.case_id:
            self.registry.unlink_chat(effect.case_id, "declined")
        return effect  # the runtime cancels what was scheduled

    def _record_evaluation(self, effect: RecordEvaluation, rec: Recording) -> Any:
        self.lifecycle.record_evaluation(effect.case_id, {
            "met": effect.met, "missing": list(effect.missing), "support": effect.support,
            "comment": effect.comment, "at": rec.now.isoformat()})
        return effect

    def _record_referral(self, effect: ReferralAnswer, rec: Recording) -> Any:
        self.lifecycle.record_referral(effect.case_id, effect.partner, effect.granted, rec.now)
        return effect

    def _record_erasure_request(self, effect: RequestErasure, rec: Recording) -> Any:
        self.lifecycle.request_erasure(effect.case_id, rec.now)
        return effect

    def _record_session_answer(self, effect: AnswerSession, rec: Recording) -> Any:
        try:
            self.registry.answer_session(effect.case_id, effect.session_id, effect.answer,
                                         effect.suggestion)
        except CaseError as exc:  # changed by the case worker meanwhile
            log.warning("a session answer was not recorded: %s", exc)
        return None

    # -- stepping --------------------------------------------------------------------------
    def handle(self, chat: str, inbound: Inbound) -> list[Effect]:
        """Step the chat's conversation; returns the effects still to apply outside the store."""
        return self.handle_with(chat, lambda _db: inbound, lambda _db, effects: effects)

    def handle_with(self, chat: str, resolve: Resolver, render: Renderer[T], *,
                    key: str | None = None, codec: StepCodec[T] | None = None,
                    language_hint: str | None = None) -> T:
        """Like `handle`, with the door's work done inside the same transaction.

        `resolve` turns the door's input into engine input (it may read the shard, e.g. to
        map a callback key to its action); `render` turns the remaining effects into what
        the door will send (it may write the shard, e.g. new callback keys). All of it
        commits together or not at all. With `key` and `codec`, a step already done under
        that key is not done again: its kept outcome is returned.
        """
        try:
            return self._handle(chat, resolve, render, key, codec)
        except CorruptShardError:
            where = self.store.quarantine(chat_shard(chat))
            log.error("a chat's conversation record was damaged and set aside (%s); the person "
                      "is asked to start again, and their case file is kept", where)
            lost = self._lost(chat, language_hint)
            return self._handle(chat, lambda _db: lost, render, key, codec)

    def _handle(self, chat: str, resolve: Resolver, render: Renderer[T], key: str | None,
                codec: StepCodec[T] | None) -> T:
        now = self.clock()
        with self.store.transaction(chat_shard(chat)) as db:
            if key is not None and codec is not None:
                done = step_records.find(db, key)
                if done is not None:
                    log.info("a step came again after a restart; its outcome is replayed")
                    return codec.decode(done)
            state = load_state(db)
            inbound = self._redeem_invitation(resolve(db), chat)
            case = self.registry.case(state.case_id) if state.case_id else None
            if isinstance(inbound, Start) and isinstance(inbound.invitation, Joined):
                case = self.registry.case(inbound.invitation.case_id)
            outcome = step(state, inbound, self.context.at(now, case))
            save_state(db, outcome.state)
            rec = Recording(db, chat, now, outcome.state.case_id or state.case_id)
            remaining = [r for r in self.record.dispatch_all(outcome.effects, rec)
                         if r is not None]
            result = render(db, remaining)
            if key is not None and codec is not None:
                step_records.keep(db, key, codec.encode(result), now)
            return result

    def _lost(self, chat: str, language_hint: str | None) -> ConversationLost:
        """What can be recovered for a chat whose record was set aside: its case link, or
        that its case is closed (after a death, the engine keeps the chat silent)."""
        case = self.registry.case_of_chat(chat, closed=True)
        if case is None:
            return ConversationLost(language_hint)
        if case.status == "closed":
            return ConversationLost(case.language or language_hint, closed=case.closed_reason)
        # The case's language (chosen for this person), not the app's: the person's own
        # choice was in the record that was lost.
        return ConversationLost(case.language or language_hint, case.case_id, case.country,
                                case.timezone)

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

    def unreachable_since(self, chat: str) -> str | None:
        """When the chat blocked the bot (UTC, ISO 8601), or None while it can be reached."""
        try:
            with self.store.snapshot(chat_shard(chat)) as db:
                rows = db.table(DELIVERY_TABLE).all()
        except CorruptShardError:
            return None
        return str(rows[0]["unreachable_since"]) if rows else None

    def state_of(self, chat: str) -> Conversation:
        try:
            with self.store.snapshot(chat_shard(chat)) as db:
                return load_state(db)
        except CorruptShardError:
            return Conversation()  # set aside at the chat's next step
