"""Sessions in motion: notices to the returnee and reminders on the scheduler.

Whoever changes a session (the command line in another process, or a case worker at the
desk), this module tells the returnee and plans the reminders: 24 hours and 1 hour before,
moved out of the returnee's quiet hours, never for a session that has passed, been moved or
been cancelled, and none whose time had already passed when the session was planned (a
session planned for this afternoon gets no "tomorrow").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from counsel_bot.cases.localtime import out_of_quiet_hours
from counsel_bot.cases.model import Case, Session
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.inbound import SessionEvent
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.runtime.ports import Chats
from counsel_bot.runtime.scheduler import Item, Schedule

log = logging.getLogger(__name__)

REMINDERS = (  # kind, how long before, the latest it still makes sense, the earliest lead
    ("reminder_day", timedelta(hours=24), timedelta(hours=3)),
    ("reminder_hour", timedelta(hours=1), timedelta(minutes=10)),
)
SESSION_KINDS = ("scheduled", "moved", "cancelled")


class Casework:
    """The shared services of the runtime: the conversations, the scheduler, the chats."""

    def __init__(self, conversations: ConversationService, scheduler: Schedule,
                 chats: Chats) -> None:
        self.conversations = conversations
        self.scheduler = scheduler
        self.chats = chats
        self.registry = conversations.registry
        scheduler.on("session_reminder", self._on_reminder)

    @property
    def context(self) -> EngineContext:
        return self.conversations.context

    def audit(self, event: str, *, actor: str = "system", why: str = "safety",
              **details: Any) -> None:
        """An entry in the audit log, for what the runtime does by itself."""
        audit = self.conversations.audit
        if audit is not None:
            audit.record(actor, event, why=why, details=details, at=self.now())

    @property
    def quiet_hours(self) -> tuple[int, int]:
        return self.context.deployment.quiet_hours

    def now(self) -> datetime:
        return self.conversations.clock()

    async def session_changed(self, session_id: str, kind: str) -> None:
        """A session was scheduled, moved or cancelled: tell the returnee; plan reminders."""
        case_id = session_id.rsplit("-S", 1)[0]
        case = self.registry.case(case_id)
        session = case.session(session_id) if case else None
        if case is None or session is None:
            log.warning("a change to an unknown session was announced")
            return
        self.scheduler.cancel_tag(f"session:{session_id}")
        if kind != "cancelled":
            self.plan_reminders(case, session)
        if case.chat is None:
            return
        first = case.sessions[0].session_id == session_id
        key = f"session:{session_id}:v{session.version}:{kind}"
        await self.chats.deliver(case.chat, SessionEvent(kind, session, first), key=key)

    def plan_reminders(self, case: Case, session: Session) -> list[str]:
        now = self.now()
        starts = session.starts
        planned = []
        for kind, before, last_useful in REMINDERS:
            if starts - before < now:  # "tomorrow" or "in one hour" would not be true now;
                continue               # the notice of the session has just told its time
            due = out_of_quiet_hours(starts - before, case.timezone, self.quiet_hours,
                                     not_before=now, not_after=starts - last_useful)
            if due is None:
                continue
            planned.append(self.scheduler.add(
                "session_reminder", due,
                {"case_id": case.case_id, "session_id": session.session_id,
                 "version": session.version, "kind": kind},
                tags=(f"session:{session.session_id}", f"case:{case.case_id}"),
                expires=starts - last_useful))
        return planned

    async def _on_reminder(self, item: Item, now: datetime) -> None:
        data = item.data
        case = self.registry.case(data["case_id"])
        session = case.session(data["session_id"]) if case else None
        if (case is None or session is None or case.chat is None or case.status != "active"
                or session.status != "scheduled" or session.version != data["version"]
                or session.starts <= now):
            log.info("scheduler: a reminder no longer applies and is dropped")
            return
        await self.chats.deliver(case.chat, SessionEvent(data["kind"], session),
                                 key=f"sched:{item.id}")
