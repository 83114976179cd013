"""Sessions in motion: notices to the returnee, reminders on the scheduler, notes from the
admin command line.

Whoever changes a session (the command line in another process, or a case worker in
Telegram), this module tells the returnee and plans the reminders: 24 hours and 1 hour
before, moved out of the returnee's quiet hours, never for a session that has passed, been
moved or been cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from counsel_bot.cases.localtime import out_of_quiet_hours
from counsel_bot.cases.model import Case, Session
from counsel_bot.engine.inbound import SessionEvent
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.scheduler import Item, Scheduler
from counsel_bot.telegram.gateway import TelegramGateway

log = logging.getLogger(__name__)

REMINDERS = (  # kind, how long before, the latest it still makes sense, the earliest lead
    ("reminder_day", timedelta(hours=24), timedelta(hours=3)),
    ("reminder_hour", timedelta(hours=1), timedelta(minutes=10)),
)
SESSION_KINDS = ("scheduled", "moved", "cancelled")


class Casework:
    def __init__(self, gateway: TelegramGateway, scheduler: Scheduler, inbox: Inbox) -> None:
        self.gateway = gateway
        self.scheduler = scheduler
        self.inbox = inbox
        self.registry = gateway.conversations.registry
        self.plan_changed: Callable[[str], object] | None = None  # set by the check-in planner
        self.closing: Any = None  # set by the runner: closure, reopening, erasure
        scheduler.on("session_reminder", self._on_reminder)

    def audit(self, event: str, *, actor: str = "system", why: str = "safety",
              **details: Any) -> None:
        """An entry in the audit log, for what the runtime does by itself."""
        audit = self.gateway.conversations.audit
        if audit is not None:
            audit.record(actor, event, why=why, details=details, at=self.now())

    @property
    def quiet_hours(self) -> tuple[int, int]:
        return self.gateway.context.deployment.quiet_hours

    def now(self) -> datetime:
        return self.gateway.conversations.clock()

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
        await self.gateway.deliver(case.chat, SessionEvent(kind, session, first), key=key)

    def plan_reminders(self, case: Case, session: Session) -> list[str]:
        now = self.now()
        starts = session.starts
        planned = []
        for kind, before, last_useful in REMINDERS:
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
        await self.gateway.deliver(case.chat, SessionEvent(data["kind"], session),
                                   key=f"sched:{item.id}")

    async def read_inbox(self) -> int:
        """Act on the notes the command line left; returns how many were handled."""
        handled = 0
        for path, note in await asyncio.to_thread(self.inbox.take):
            try:
                if note.get("type") == "session" and note.get("kind") in SESSION_KINDS:
                    await self.session_changed(str(note["session_id"]), str(note["kind"]))
                elif note.get("type") == "checkins" and self.plan_changed is not None:
                    await asyncio.to_thread(self.plan_changed, str(note["case_id"]))
                elif note.get("type") == "closed" and self.closing is not None:
                    await self.closing.case_closed(str(note["case_id"]))
                elif note.get("type") == "reopened" and self.closing is not None:
                    await self.closing.case_reopened(str(note["case_id"]))
                elif note.get("type") == "erased":
                    self.scheduler.cancel_tag(f"case:{note['case_id']}")
                    self.scheduler.cancel_tag(f"retention:{note['case_id']}")
                    self.scheduler.cancel_tag(f"erasure:{note['case_id']}")
                else:
                    log.warning("inbox: a note of an unknown type is ignored")
            except Exception:
                log.exception("inbox: acting on a note failed; it is kept for the next look")
                continue
            self.inbox.done(path)
            handled += 1
        return handled

    async def watch_inbox(self, interval: float = 1.0) -> None:
        while True:
            await self.read_inbox()
            await asyncio.sleep(interval)
