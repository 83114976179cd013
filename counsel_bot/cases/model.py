"""The records of case management, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

ROLES = ("caseworker", "supervisor", "admin")
CLOSE_REASONS = ("completed", "withdrawn", "ineligible", "relocated", "deceased", "unreachable",
                 "other")
SESSION_ANSWERS = ("confirmed", "change_requested", "declined")


@dataclass
class CaseWorker:
    telegram_id: int
    name: str
    role: str = "caseworker"
    backup: int | None = None
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Session:
    session_id: str
    at: str  # UTC, ISO 8601
    duration: int  # minutes
    place: str | None = None
    online: str | None = None
    interpreter: str | None = None  # language code
    status: str = "scheduled"  # scheduled, cancelled
    answer: str | None = None  # confirmed, change_requested, declined
    suggestion: str | None = None  # the returnee's words when asking to change
    version: int = 1  # bumped on every move, so old reminders know they are stale

    @property
    def starts(self) -> datetime:
        return datetime.fromisoformat(self.at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Case:
    case_id: str
    caseworker: int
    country: str
    language: str
    timezone: str
    created_at: str
    status: str = "invited"  # invited, active, declined, closed
    chat: str | None = None  # the returnee's chat, once they joined by the invitation
    sessions: list[Session] = field(default_factory=list)
    arrival: str | None = None  # date of arrival (ISO): check-ins count from it
    checkin_plan: list[int] | None = None  # days after arrival; None: the deployment's plan
    checkin_monthly: bool | None = None  # then monthly until closure; None: deployment's
    checkins: list[dict[str, Any]] = field(default_factory=list)  # answers, newest last
    unanswered: dict[str, str] = field(default_factory=dict)  # check-in id -> when asked
    missed_in_a_row: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    closed_reason: str | None = None
    closed_at: str | None = None
    closure_note: str | None = None
    evaluation: dict[str, Any] | None = None
    referrals: list[dict[str, Any]] = field(default_factory=list)
    erasure_requested: str | None = None  # when the returnee asked for erasure
    anonymised: bool = False

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        return next((a for a in self.alerts if a["alert_id"] == alert_id), None)

    @property
    def open_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["status"] == "open"]

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        data = dict(data)
        data["sessions"] = [Session(**s) for s in data.get("sessions", [])]
        return cls(**data)
