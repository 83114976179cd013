"""The case worker's desk at work: their updates go through `desk_step` instead of the
returnee's engine, and the cases and sessions it asks for are opened and booked here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

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
    OpenCase,
    PlanSet,
    ScheduleSession,
    SessionBooked,
    SetPlan,
    ShowAlert,
    desk_step,
)
from counsel_bot.engine.effects import Audit, Send
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.conversations import chat_shard
from counsel_bot.telegram.gateway import (
    IncomingUpdate,
    Outgoing,
    chat_key,
    inbound_from,
    to_messages,
)

log = logging.getLogger(__name__)

DESK_TABLE = "desk"
WORKER_CACHE_SECONDS = 5.0  # a case worker added from the command line counts within this


class DeskService:
    def __init__(self, casework: Casework, username: Callable[[], str]) -> None:
        self.casework = casework
        self.gateway = casework.gateway
        self.registry = casework.registry
        self.username = username
        self._workers: dict[int, CaseWorker] = {}
        self.replan: list[str] = []  # cases whose check-in plan changed (planned by the runner)
        self.closed: list[str] = []  # cases closed here (the closing runtime follows up)
        self._workers_read = 0.0

    def worker(self, telegram_id: int) -> CaseWorker | None:
        """Whether this sender is a registered case worker (re-read every few seconds)."""
        if time.monotonic() - self._workers_read > WORKER_CACHE_SECONDS:
            self._workers = {w.telegram_id: w for w in self.registry.caseworkers()}
            self._workers_read = time.monotonic()
        return self._workers.get(telegram_id)

    async def handle(self, update: IncomingUpdate, worker: CaseWorker) -> None:
        booked = await asyncio.to_thread(self._step, update, worker)
        for session_id in booked:
            await self.casework.session_changed(session_id, "scheduled")
        while self.replan:
            case_id = self.replan.pop()
            if self.casework.plan_changed is not None:
                await asyncio.to_thread(self.casework.plan_changed, case_id)
        while self.closed:
            case_id = self.closed.pop()
            if self.casework.closing is not None:
                await self.casework.closing.case_closed(case_id)

    def _step(self, update: IncomingUpdate, worker: CaseWorker) -> list[str]:
        chat = chat_key(update.chat_id)
        conversations = self.gateway.conversations
        now = conversations.clock()
        outgoing: list[Outgoing] = []
        booked: list[str] = []
        closed = self.closed
        with conversations.store.transaction(chat_shard(chat)) as db:
            table = db.table(DESK_TABLE)
            state = DeskState.from_dict(table.get(doc_id=1))  # type: ignore[arg-type]
            inbound: DeskInput | None = inbound_from(db, update, now)
            for _ in range(3):  # a command's result goes back in once
                if inbound is None:
                    break
                view = DeskView(worker, tuple(self.registry.caseload(worker.telegram_id)))
                state, effects = desk_step(state, inbound, view, conversations.context.at(now))
                inbound = None
                for effect in effects:
                    if isinstance(effect, Send):
                        outgoing += [Outgoing(chat, m, effect.priority)
                                     for m in to_messages(db, update.chat_id, effect, now)]
                    elif isinstance(effect, Audit):
                        conversations.record_audit(effect, f"caseworker:{worker.telegram_id}",
                                                   "casework", now)
                    elif isinstance(effect, OpenCase):
                        inbound = self._open_case(worker, effect)
                    elif isinstance(effect, ScheduleSession):
                        inbound = self._schedule(effect)
                        if isinstance(inbound, SessionBooked):
                            booked.append(inbound.session_id)
                    elif isinstance(effect, AckAlert):
                        inbound = self._acknowledge(worker, effect, now)
                    elif isinstance(effect, ShowAlert):
                        case = self.registry.case(effect.case_id)
                        alert = case.alert(effect.alert_id) if case else None
                        inbound = AlertDetails(effect.case_id, effect.alert_id,
                                               alert.get("text") if alert else None)
                    elif isinstance(effect, SetPlan):
                        inbound = self._set_plan(effect)
                    elif isinstance(effect, CloseCase):
                        inbound = self._close(worker, effect, now)
                        if isinstance(inbound, CaseWasClosed):
                            closed.append(effect.case_id)
            table.upsert(Document(state.to_dict(), doc_id=1))
        for item in outgoing:
            self.gateway.outbox.enqueue(item.chat, [item.message], item.priority)
        return booked

    def _acknowledge(self, worker: CaseWorker, effect: AckAlert, now: datetime) -> DeskInput:
        try:
            alert = self.gateway.conversations.followup.acknowledge(
                effect.case_id, effect.alert_id, worker.telegram_id, now, effect.calling)
        except CaseError:
            return DeskFailed("stale_button")
        self.casework.scheduler.cancel_tag(f"alert:{effect.alert_id}")
        self.casework.audit("alert_acknowledged", case_id=effect.case_id,
                            alert_id=effect.alert_id, by=worker.telegram_id,
                            severity=alert["severity"])
        return AlertAcked(effect.case_id, effect.calling)

    def _close(self, worker: CaseWorker, effect: CloseCase, now: datetime) -> DeskInput:
        try:
            self.gateway.conversations.lifecycle.close(effect.case_id, effect.reason, None, now)
        except CaseError:
            return DeskFailed("cw_not_found")
        why = "deceased" if effect.reason == "deceased" else "casework"
        self.casework.audit("case_closed", actor=f"caseworker:{worker.telegram_id}", why=why,
                            case_id=effect.case_id, reason=effect.reason)
        return CaseWasClosed(effect.case_id, effect.reason)

    def _set_plan(self, effect: SetPlan) -> DeskInput:
        try:
            self.gateway.conversations.followup.set_plan(effect.case_id, None, effect.days,
                                                         effect.monthly)
        except CaseError:
            return DeskFailed("cw_plan_usage")
        self.replan.append(effect.case_id)
        return PlanSet(effect.case_id, effect.days, effect.monthly)

    def _open_case(self, worker: CaseWorker, effect: OpenCase) -> DeskInput:
        try:
            case, invitation = self.registry.open_case(worker.telegram_id, effect.country,
                                                       effect.language, effect.timezone)
        except CaseError as exc:
            log.warning("desk: a case could not be opened: %s", exc)
            return DeskFailed("cw_cancelled")
        return CaseOpened(case.case_id, invitation.link(self.username()),
                          INVITE_LIFETIME.days)

    def _schedule(self, effect: ScheduleSession) -> DeskInput:
        try:
            case, session = self.registry.schedule_session(
                effect.case_id, effect.at_local, place=effect.place, online=effect.online,
                duration=effect.duration, interpreter=effect.interpreter)
        except CaseError as exc:
            log.warning("desk: a session could not be scheduled: %s", exc)
            return DeskFailed("cw_bad_time")
        return SessionBooked(session.session_id, session.starts, case.timezone)
