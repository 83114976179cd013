"""The case worker's desk at work: their updates go through `desk_step` instead of the
returnee's engine, and the commands it gives (open a case, book a session, acknowledge an
alert...) are carried out here, their results fed back in, goflow style.

Like a returnee's step, a desk step is done once per update: its outcome is kept in the
worker's shard under the update's key and replayed if the update comes again after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from counsel_bot.cases.model import CaseWorker
from counsel_bot.cases.registry import INVITE_LIFETIME, CaseError
from counsel_bot.engine.desk import (
    AckAlert,
    AlertAcked,
    AlertDetails,
    CaseOpened,
    CaseWasClosed,
    CloseCase,
    DeskFailed,
    DeskInput,
    DeskState,
    DeskView,
    IssueWebLink,
    LabelAlert,
    Labelled,
    LabelMessage,
    OpenCase,
    PlanSet,
    ScheduleSession,
    SessionBooked,
    SetPlan,
    ShowAlert,
    WebLinkIssued,
    desk_step,
)
from counsel_bot.engine.effects import Audit, Priority, Send
from counsel_bot.runtime import step_records
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.closing import Closing
from counsel_bot.runtime.conversations import chat_shard
from counsel_bot.runtime.dispatch import EffectDispatcher
from counsel_bot.runtime.weblinks import WebLinks
from counsel_bot.screening.examples import LabelledExamples
from counsel_bot.telegram.chats import (
    TelegramChats,
    inbound_from,
    message_from_record,
    message_record,
    to_messages,
)
from counsel_bot.telegram.updates import IncomingUpdate, chat_key

log = logging.getLogger(__name__)

DESK_TABLE = "desk"
WORKER_CACHE_SECONDS = 5.0  # a case worker added from the command line counts within this
MAX_ROUNDS = 3  # a command's result goes back into the desk this many times at most


@dataclass
class DeskTurn:
    """One desk step in progress: the worker, their open shard, and what follows from it."""

    worker: CaseWorker
    db: TinyDB
    chat_id: int
    now: datetime
    messages: list[dict[str, Any]] = field(default_factory=list)  # priority, message
    booked: list[str] = field(default_factory=list)  # sessions to announce
    replan: list[str] = field(default_factory=list)  # cases whose check-ins to plan
    closed: list[str] = field(default_factory=list)  # cases closed here

    def record(self) -> dict[str, Any]:
        return {"messages": self.messages, "booked": self.booked, "replan": self.replan,
                "closed": self.closed}


class DeskService:
    def __init__(self, casework: Casework, care: Care, closing: Closing, chats: TelegramChats,
                 username: Callable[[], str], weblinks: WebLinks | None = None) -> None:
        self.casework = casework
        self.weblinks = weblinks
        self.care = care
        self.closing = closing
        self.chats = chats
        self.conversations = casework.conversations
        self.registry = casework.registry
        self.username = username
        self._workers: dict[int, CaseWorker] = {}
        self._workers_read = 0.0
        self.examples = LabelledExamples(self.conversations.store)
        self.commands = self._command_table()

    def _command_table(self) -> EffectDispatcher[DeskTurn]:
        """Each thing the desk asks for, and who carries it out; the result goes back in."""
        table: EffectDispatcher[DeskTurn] = EffectDispatcher("desk")
        table.on(Send, self._say)
        table.on(Audit, self._audit)
        table.on(OpenCase, self._open_case)
        table.on(ScheduleSession, self._schedule)
        table.on(AckAlert, self._acknowledge)
        table.on(ShowAlert, self._show_alert)
        table.on(SetPlan, self._set_plan)
        table.on(CloseCase, self._close)
        table.on(IssueWebLink, self._web_link)
        table.on(LabelAlert, self._label_alert)
        table.on(LabelMessage, self._label_message)
        return table

    def worker(self, telegram_id: int) -> CaseWorker | None:
        """Whether this sender is a registered case worker (re-read every few seconds)."""
        if time.monotonic() - self._workers_read > WORKER_CACHE_SECONDS:
            self._workers = {w.telegram_id: w for w in self.registry.caseworkers()}
            self._workers_read = time.monotonic()
        return self._workers.get(telegram_id)

    async def handle(self, update: IncomingUpdate, worker: CaseWorker) -> None:
        key = f"u:{update.update_id}"
        outcome = await asyncio.to_thread(self._step, update, worker, key)
        for index, item in enumerate(outcome["messages"]):
            await self.chats.outbox.enqueue_soon(
                chat_key(update.chat_id), [message_from_record(item["message"])],
                Priority(item["priority"]), key=f"{key}:{index}")
        for session_id in outcome["booked"]:
            await self.casework.session_changed(session_id, "scheduled")
        for case_id in outcome["replan"]:
            await asyncio.to_thread(self.care.plan_checkins, case_id)
        for case_id in outcome["closed"]:
            await self.closing.case_closed(case_id)

    def _step(self, update: IncomingUpdate, worker: CaseWorker, key: str) -> dict[str, Any]:
        chat = chat_key(update.chat_id)
        now = self.conversations.clock()
        with self.conversations.store.transaction(chat_shard(chat)) as db:
            done = step_records.find(db, key)
            if done is not None:
                return done
            table = db.table(DESK_TABLE)
            state = DeskState.from_dict(table.get(doc_id=1))  # type: ignore[arg-type]
            turn = DeskTurn(worker, db, update.chat_id, now)
            inbound: DeskInput | None = inbound_from(db, update, now)
            for _ in range(MAX_ROUNDS):
                if inbound is None:
                    break
                view = DeskView(worker, tuple(self.registry.caseload(worker.telegram_id)))
                state, effects = desk_step(state, inbound, view,
                                           self.conversations.context.at(now))
                results = [r for r in self.commands.dispatch_all(effects, turn) if r is not None]
                inbound = results[-1] if results else None
            table.upsert(Document(state.to_dict(), doc_id=1))
            step_records.keep(db, key, turn.record(), now)
            return turn.record()

    # -- the commands ----------------------------------------------------------------------
    def _say(self, effect: Send, turn: DeskTurn) -> None:
        turn.messages += [{"priority": int(effect.priority), "message": message_record(m)}
                          for m in to_messages(turn.db, turn.chat_id, effect, turn.now)]

    def _audit(self, effect: Audit, turn: DeskTurn) -> None:
        self.conversations.record_audit(effect, f"caseworker:{turn.worker.telegram_id}",
                                        "casework", turn.now)

    def _show_alert(self, effect: ShowAlert, _turn: DeskTurn) -> DeskInput:
        case = self.registry.case(effect.case_id)
        alert = case.alert(effect.alert_id) if case else None
        return AlertDetails(effect.case_id, effect.alert_id, alert.get("text") if alert else None)

    def _label_alert(self, effect: LabelAlert, turn: DeskTurn) -> DeskInput:
        """"False alarm" (which also acknowledges the alert) or "This was distress": the
        alert's message becomes a labelled example for `counsel-bot screen train`."""
        case = self.registry.case(effect.case_id)
        alert = case.alert(effect.alert_id) if case else None
        mine = case is not None and (case.caseworker == turn.worker.telegram_id
                                     or turn.worker.role in ("supervisor", "admin"))
        if case is None or alert is None or not mine:
            return DeskFailed("stale_button")
        if effect.label == "false_alarm":
            self._acknowledge(AckAlert(effect.case_id, effect.alert_id), turn)
        text = alert.get("text")
        if text:
            self.examples.add(text, case.language, effect.label, "telegram_desk", turn.now)
        self.casework.audit("alert_labelled", case_id=effect.case_id, alert_id=effect.alert_id,
                            by=turn.worker.telegram_id, kind=effect.label, count=int(bool(text)))
        return Labelled(effect.case_id, effect.label, bool(text))

    def _label_message(self, effect: LabelMessage, turn: DeskTurn) -> DeskInput:
        self.examples.add(effect.text, effect.language, "distress", "telegram_desk", turn.now)
        self.casework.audit("message_labelled", case_id=effect.case_id,
                            by=turn.worker.telegram_id, kind="distress", count=1)
        return Labelled(effect.case_id, "distress", True)

    def _acknowledge(self, effect: AckAlert, turn: DeskTurn) -> DeskInput:
        worker = turn.worker
        try:
            alert = self.conversations.followup.acknowledge(
                effect.case_id, effect.alert_id, worker.telegram_id, turn.now, effect.calling)
        except CaseError:
            return DeskFailed("stale_button")
        self.casework.scheduler.cancel_tag(f"alert:{effect.alert_id}")
        self.casework.audit("alert_acknowledged", case_id=effect.case_id,
                            alert_id=effect.alert_id, by=worker.telegram_id,
                            severity=alert["severity"])
        return AlertAcked(effect.case_id, effect.calling)

    def _web_link(self, _effect: IssueWebLink, turn: DeskTurn) -> DeskInput:
        if self.weblinks is None:
            return WebLinkIssued(None, 0)
        return WebLinkIssued(self.weblinks.issue(turn.worker, "telegram"),
                             self.weblinks.minutes)

    def _close(self, effect: CloseCase, turn: DeskTurn) -> DeskInput:
        try:
            self.conversations.lifecycle.close(effect.case_id, effect.reason, None, turn.now)
        except CaseError:
            return DeskFailed("cw_not_found")
        why = "deceased" if effect.reason == "deceased" else "casework"
        self.casework.audit("case_closed", actor=f"caseworker:{turn.worker.telegram_id}",
                            why=why, case_id=effect.case_id, reason=effect.reason)
        turn.closed.append(effect.case_id)
        return CaseWasClosed(effect.case_id, effect.reason)

    def _set_plan(self, effect: SetPlan, turn: DeskTurn) -> DeskInput:
        try:
            self.conversations.followup.set_plan(effect.case_id, None, effect.days,
                                                 effect.monthly)
        except CaseError:
            return DeskFailed("cw_plan_usage")
        turn.replan.append(effect.case_id)
        return PlanSet(effect.case_id, effect.days, effect.monthly)

    def _open_case(self, effect: OpenCase, turn: DeskTurn) -> DeskInput:
        try:
            case, invitation = self.registry.open_case(turn.worker.telegram_id, effect.country,
                                                       effect.language, effect.timezone)
        except CaseError as exc:
            log.warning("desk: a case could not be opened: %s", exc)
            return DeskFailed("cw_cancelled")
        return CaseOpened(case.case_id, invitation.link(self.username()),
                          INVITE_LIFETIME.days)

    def _schedule(self, effect: ScheduleSession, turn: DeskTurn) -> DeskInput:
        try:
            case, session = self.registry.schedule_session(
                effect.case_id, effect.at_local, place=effect.place, online=effect.online,
                duration=effect.duration, interpreter=effect.interpreter)
        except CaseError as exc:
            log.warning("desk: a session could not be scheduled: %s", exc)
            return DeskFailed("cw_bad_time")
        turn.booked.append(session.session_id)
        return SessionBooked(session.session_id, session.starts, case.timezone)
