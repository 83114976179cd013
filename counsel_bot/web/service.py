"""What the web desk does, on the store, through the case classes (no web types here).

Every change the running bot must act on (a session, a check-in plan, a closure, an alert
acknowledged) is also left as a note in the bot's inbox, as the admin command line does.
Which cases a person sees: a case worker their own caseload, a supervisor or admin all.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from counsel_bot.audit import AuditLog
from counsel_bot.cases.followup import FollowUp
from counsel_bot.cases.lifecycle import Lifecycle
from counsel_bot.cases.localtime import LocalTimeError, parse_local
from counsel_bot.cases.model import CLOSE_REASONS, Case, CaseWorker
from counsel_bot.cases.registry import CaseError, Registry
from counsel_bot.config.deployment import Deployment
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.runtime.inbox import NoteBox
from counsel_bot.screening.examples import LabelledExamples

SUPERVISING = ("supervisor", "admin")
SORTS = ("case", "status", "next_session", "last_checkin", "wellbeing", "alerts")
STATUSES = ("invited", "active", "declined", "closed")


class NotVisible(LookupError):
    """No such case, or not this person's: the same answer either way."""


@dataclass(frozen=True)
class CaseRow:
    case: Case
    worker_name: str
    next_session: datetime | None
    last_checkin: dict[str, Any] | None
    open_alerts: int
    unreachable: str | None


@dataclass(frozen=True)
class AlertRow:
    case: Case
    alert: dict[str, Any]
    raised: datetime
    deadline: datetime


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # opened, consent, session, checkin, alert, ack, closed
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AckWeek:
    week: date  # its Monday
    count: int
    median_share: float | None  # acknowledgement time as a share of the deadline
    worst_share: float | None
    late: int  # acknowledged after the deadline, or not at all by now


class DeskService:
    def __init__(self, conversations: ConversationService, audit: AuditLog, inbox: NoteBox,
                 clock: Callable[[], datetime]) -> None:
        self.conversations = conversations
        self.registry: Registry = conversations.registry
        self.followup: FollowUp = conversations.followup
        self.lifecycle: Lifecycle = conversations.lifecycle
        self.deployment: Deployment = conversations.context.deployment
        self.audit_log = audit
        self.inbox = inbox
        self.examples = LabelledExamples(conversations.store)
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def audit(self, worker: CaseWorker, event: str, why: str, **details: Any) -> None:
        self.audit_log.record(f"caseworker:{worker.telegram_id}", event, why=why,
                              details={"by": worker.telegram_id, **details}, at=self.now())

    # -- what a person may see -------------------------------------------------------------
    @staticmethod
    def supervises(worker: CaseWorker) -> bool:
        return worker.role in SUPERVISING

    def visible_cases(self, worker: CaseWorker) -> list[Case]:
        if not self.supervises(worker):
            return self.registry.caseload(worker.telegram_id)
        return [c for w in self.registry.caseworkers() for c in self.registry.caseload(
            w.telegram_id)]

    def case_for(self, worker: CaseWorker, case_id: str) -> Case:
        case = self.registry.case(case_id)
        if case is None or not (case.caseworker == worker.telegram_id
                                or self.supervises(worker)):
            raise NotVisible(case_id)
        return case

    def why(self, worker: CaseWorker, case: Case) -> str:
        return "casework" if case.caseworker == worker.telegram_id else "supervision"

    # -- caseload ------------------------------------------------------------------------
    def rows(self, worker: CaseWorker, status: str | None = None, alerts_only: bool = False,
             unreachable_only: bool = False, sort: str = "case") -> list[CaseRow]:
        now = self.now()
        names = {w.telegram_id: w.name for w in self.registry.caseworkers()}
        rows = []
        for case in self.visible_cases(worker):
            upcoming = sorted(s.starts for s in case.sessions
                              if s.status == "scheduled" and s.starts > now)
            unreachable = (self.conversations.unreachable_since(case.chat) if case.chat
                           else None)
            rows.append(CaseRow(case, names.get(case.caseworker, "?"),
                                upcoming[0] if upcoming else None,
                                case.checkins[-1] if case.checkins else None,
                                len(case.open_alerts), unreachable))
        rows = [r for r in rows if (status is None or r.case.status == status)
                and (not alerts_only or r.open_alerts) and (not unreachable_only or r.unreachable)]
        far = datetime.max.replace(tzinfo=now.tzinfo)
        keys: dict[str, Callable[[CaseRow], Any]] = {
            "case": lambda r: r.case.case_id,
            "status": lambda r: (STATUSES.index(r.case.status) if r.case.status in STATUSES
                                 else 9, r.case.case_id),
            "next_session": lambda r: (r.next_session or far, r.case.case_id),
            "last_checkin": lambda r: ((r.last_checkin or {}).get("at", ""), r.case.case_id),
            "wellbeing": lambda r: ((r.last_checkin or {}).get("wellbeing", 9), r.case.case_id),
            "alerts": lambda r: (-r.open_alerts, r.case.case_id),
        }
        reverse = sort == "last_checkin"  # the most recent first
        return sorted(rows, key=keys.get(sort, keys["case"]), reverse=reverse)

    def by_status(self, worker: CaseWorker) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for case in self.visible_cases(worker):
            counts[case.status] = counts.get(case.status, 0) + 1
        return counts

    # -- alerts --------------------------------------------------------------------------
    def deadline_of(self, alert: dict[str, Any]) -> datetime:
        minutes = self.deployment.alert_deadline(alert["severity"])
        return datetime.fromisoformat(alert["at"]) + timedelta(minutes=minutes)

    def open_alerts(self, worker: CaseWorker) -> list[AlertRow]:
        rows = [AlertRow(case, alert, datetime.fromisoformat(alert["at"]),
                         self.deadline_of(alert))
                for case in self.visible_cases(worker) for alert in case.open_alerts]
        return sorted(rows, key=lambda r: r.deadline)

    def _alert(self, worker: CaseWorker, case_id: str, alert_id: str) -> tuple[Case, dict]:
        case = self.case_for(worker, case_id)
        alert = case.alert(alert_id)
        if alert is None:
            raise NotVisible(alert_id)
        return case, alert

    def acknowledge(self, worker: CaseWorker, case_id: str, alert_id: str,
                    kind: str = "web") -> dict[str, Any]:
        """As the Telegram desk does: in the case file (the bot's deadline handler re-reads
        it, so the escalation stops), audited, and the bot told to drop the deadline."""
        self._alert(worker, case_id, alert_id)
        alert = self.followup.acknowledge(case_id, alert_id, worker.telegram_id, self.now())
        self.audit(worker, "alert_acknowledged", "safety", case_id=case_id, alert_id=alert_id,
                   severity=alert["severity"], kind=kind)
        self.inbox.post({"type": "alert_acknowledged", "case_id": case_id,
                         "alert_id": alert_id})
        return alert

    def words(self, worker: CaseWorker, case_id: str, alert_id: str) -> str | None:
        case, alert = self._alert(worker, case_id, alert_id)
        self.audit(worker, "alert_details_viewed", self.why(worker, case), case_id=case_id,
                   alert_id=alert_id, kind="web")
        return alert.get("text")

    def false_alarm(self, worker: CaseWorker, case_id: str, alert_id: str) -> bool:
        """Acknowledge, mark the alert a false alarm, keep its words as a labelled example
        for screening; True when there were words to keep."""
        case, alert = self._alert(worker, case_id, alert_id)
        if alert["status"] == "open":
            self.acknowledge(worker, case_id, alert_id, kind="false_alarm")

        def mark(case: Case) -> None:
            found = case.alert(alert_id)
            if found is not None:
                found["false_alarm"] = True
        self.registry.change_case(case_id, mark)
        text = alert.get("text")
        if text:
            self.examples.add(text, case.language, label="false_alarm", source="web_desk",
                              at=self.now())
        self.audit(worker, "alert_false_alarm", "safety", case_id=case_id, alert_id=alert_id)
        return bool(text)

    def ack_weeks(self, worker: CaseWorker, weeks: int = 8) -> list[AckWeek]:
        now = self.now()
        this_monday = (now - timedelta(days=now.weekday())).date()
        mondays = [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
        shares: dict[date, list[float]] = {m: [] for m in mondays}
        late: dict[date, int] = dict.fromkeys(mondays, 0)
        count: dict[date, int] = dict.fromkeys(mondays, 0)
        for case in self.visible_cases(worker):
            for alert in case.alerts:
                if alert["status"] == "review":
                    continue
                raised = datetime.fromisoformat(alert["at"])
                monday = (raised - timedelta(days=raised.weekday())).date()
                if monday not in shares:
                    continue
                count[monday] += 1
                allowed = (self.deadline_of(alert) - raised).total_seconds()
                if alert.get("acked_at"):
                    took = (datetime.fromisoformat(alert["acked_at"]) - raised).total_seconds()
                    shares[monday].append(took / allowed)
                    late[monday] += took > allowed
                elif now > self.deadline_of(alert):
                    late[monday] += 1
        return [AckWeek(m, count[m], statistics.median(shares[m]) if shares[m] else None,
                        max(shares[m]) if shares[m] else None, late[m]) for m in mondays]

    # -- one case ------------------------------------------------------------------------
    def view(self, worker: CaseWorker, case_id: str) -> tuple[Case, list[Event]]:
        """The case and its timeline; audited as a view of the case, as in Telegram."""
        case = self.case_for(worker, case_id)
        self.audit(worker, "case_viewed", self.why(worker, case), case_id=case.case_id,
                   kind="web")
        return case, self.timeline(case)

    def timeline(self, case: Case) -> list[Event]:
        events = [Event(datetime.fromisoformat(case.created_at), "opened")]
        for consent in self.lifecycle.export(case.case_id)["consents"]:
            events.append(Event(datetime.fromisoformat(consent["at"]), "consent", consent))
        for session in case.sessions:
            events.append(Event(session.starts, "session", {"session": session}))
        for checkin in case.checkins:
            events.append(Event(datetime.fromisoformat(checkin["at"]), "checkin", checkin))
        for alert in case.alerts:
            events.append(Event(datetime.fromisoformat(alert["at"]), "alert", alert))
            if alert.get("acked_at"):
                events.append(Event(datetime.fromisoformat(alert["acked_at"]), "ack", alert))
        if case.closed_at:
            events.append(Event(datetime.fromisoformat(case.closed_at), "closed",
                                {"reason": case.closed_reason}))
        return sorted(events, key=lambda e: e.at)

    def _future(self, case: Case, local_at: str) -> str:
        """"YYYY-MM-DDTHH:MM" from a datetime-local field -> the registry's form; CaseError
        with "bad_time" when it does not exist or has passed."""
        text = local_at.strip().replace("T", " ")[:16]
        try:
            at = parse_local(text, case.timezone)
        except LocalTimeError:
            raise CaseError("bad_time") from None
        if at <= self.now():
            raise CaseError("bad_time")
        return text

    def local_preview(self, case: Case, local_at: str) -> datetime | None:
        try:
            return parse_local(local_at.strip().replace("T", " ")[:16], case.timezone)
        except LocalTimeError:
            return None

    def schedule(self, worker: CaseWorker, case_id: str, local_at: str, where: str,
                 duration: int, interpreter: str | None) -> str:
        case = self.case_for(worker, case_id)
        text = self._future(case, local_at)
        where = where.strip()
        online = where if where.startswith(("https://", "http://")) else None
        try:
            _case, session = self.registry.schedule_session(
                case_id, text, place=None if online else where, online=online,
                duration=duration, interpreter=interpreter or None)
        except CaseError:
            raise CaseError("bad_details") from None
        self.inbox.post({"type": "session", "kind": "scheduled",
                         "session_id": session.session_id})
        return session.session_id

    def move(self, worker: CaseWorker, case_id: str, session_id: str, local_at: str) -> None:
        case = self.case_for(worker, case_id)
        if case.session(session_id) is None:
            raise NotVisible(session_id)
        self.registry.move_session(session_id, self._future(case, local_at))
        self.inbox.post({"type": "session", "kind": "moved", "session_id": session_id})

    def cancel(self, worker: CaseWorker, case_id: str, session_id: str) -> None:
        case = self.case_for(worker, case_id)
        if case.session(session_id) is None:
            raise NotVisible(session_id)
        self.registry.cancel_session(session_id)
        self.inbox.post({"type": "session", "kind": "cancelled", "session_id": session_id})

    def close(self, worker: CaseWorker, case_id: str, reason: str, note: str | None) -> None:
        self.case_for(worker, case_id)
        if reason not in CLOSE_REASONS:
            raise CaseError("bad_details")
        self.lifecycle.close(case_id, reason, note or None, self.now())
        self.audit(worker, "case_closed", "deceased" if reason == "deceased" else "casework",
                   case_id=case_id, reason=reason)
        self.inbox.post({"type": "closed", "case_id": case_id})

    def death_protocol_shown(self, worker: CaseWorker, case: Case) -> None:
        self.audit(worker, "deceased_protocol_shown", "deceased", case_id=case.case_id)

    def set_plan(self, worker: CaseWorker, case_id: str, arrival: date | None,
                 days: list[int] | None, monthly: bool) -> None:
        self.case_for(worker, case_id)
        self.followup.set_plan(case_id, arrival, days, monthly)
        self.inbox.post({"type": "checkins", "case_id": case_id})

    def export(self, worker: CaseWorker, case_id: str) -> dict[str, Any]:
        self.case_for(worker, case_id)
        document = self.lifecycle.export(case_id)
        self.audit(worker, "case_exported", "returnee_request", case_id=case_id)
        return document
