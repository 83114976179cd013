"""What the engine asks the world to do, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Lower goes first: safety alerts, then replies, then bulk messages."""

    URGENT = 0
    REPLY = 1
    BULK = 2


@dataclass(frozen=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True)
class Send:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    rtl: bool = False
    protect: bool = False
    priority: Priority = Priority.REPLY

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(b.action for row in self.buttons for b in row)


@dataclass(frozen=True)
class Audit:
    """An event for the audit trail. `details` never holds a returnee's words."""

    event: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ForgetPersonalData:
    """Counselling consent was declined or withdrawn: remove what was kept to counsel the
    person, and unlink the chat from its case (whose worker is told)."""

    case_id: str | None = None


@dataclass(frozen=True)
class NotifyCaseWorker:
    """Tell the case's worker something. `details` holds only what that event allows."""

    case_id: str
    event: str  # joined, consent_declined, session_confirmed, session_declined,
    #             session_change_requested, message
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswerSession:
    case_id: str
    session_id: str
    answer: str  # confirmed, change_requested, declined
    suggestion: str | None = None


@dataclass(frozen=True)
class RaiseAlert:
    """Someone may be in danger: alert the case worker, who must acknowledge in time.

    `text` is the returnee's message, kept (encrypted) with the alert for "Show details";
    the alert message itself carries only the case ID, severity, categories and time.
    `justification` is "consent" or "vital_interest" (an urgent alert without consent).
    """

    case_id: str
    severity: str  # urgent, high, review
    categories: tuple[str, ...]
    justification: str
    text: str | None = None


@dataclass(frozen=True)
class WatchSafety:
    """The person was asked whether they are safe, and urgent danger seemed probable: with
    no answer by the deadline, the case worker is alerted (as high)."""

    case_id: str
    check_id: str
    categories: tuple[str, ...]
    justification: str
    asked_at: str  # ISO 8601, UTC: the deadline counts from the question
    minutes: int = 10


@dataclass(frozen=True)
class RecordCheckin:
    case_id: str
    checkin_id: str
    wellbeing: int
    needs: tuple[str, ...]
    comment: str | None = None
    safe: str | None = None  # the answer to the check-in's safety question


@dataclass(frozen=True)
class SnoozeCheckin:
    case_id: str
    checkin_id: str


@dataclass(frozen=True)
class RecordEvaluation:
    case_id: str
    met: str | None  # yes, partly, no
    missing: tuple[str, ...]
    support: int | None  # 1-5
    comment: str | None


@dataclass(frozen=True)
class ReferralAnswer:
    """The returnee's explicit answer to one referral, recorded like a consent."""

    case_id: str
    partner: str  # the partner's code
    granted: bool


@dataclass(frozen=True)
class StopContact:
    case_id: str | None
    reason: str | None  # one of the offered reasons, or None


@dataclass(frozen=True)
class RequestErasure:
    case_id: str


@dataclass(frozen=True)
class ConsentChanged:
    """The person gave, refused or withdrew consent for one purpose (the runtime follows:
    check-ins planned or cancelled at once)."""

    case_id: str | None
    purpose: str
    granted: bool
    withdrawal: bool = False


@dataclass(frozen=True)
class ReopenCase:
    """Someone who stopped contact with /stop came back and consented again: the case that
    /stop closed opens again."""

    case_id: str


Effect = (Send | Audit | ForgetPersonalData | NotifyCaseWorker | AnswerSession | RaiseAlert
          | RecordCheckin | SnoozeCheckin | RecordEvaluation | ReferralAnswer | StopContact
          | RequestErasure | ConsentChanged | ReopenCase | WatchSafety)
