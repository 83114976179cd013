"""Follow-up on the store: check-in answers, missed check-ins and safety alerts."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from counsel_bot.cases.model import Case
from counsel_bot.cases.registry import CaseError, Registry

DEADLINES = {"urgent": 15 * 60, "high": 4 * 3600}  # seconds to acknowledge, by default


class FollowUp:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def _change(self, case_id: str, change: Callable[[Case], Any]) -> Any:
        return self.registry.change_case(case_id, change)

    # -- check-ins -----------------------------------------------------------------------
    def set_plan(self, case_id: str, arrival: date | None, days: Iterable[int] | None,
                 monthly: bool | None) -> Case:
        plan = sorted(set(days)) if days is not None else None
        if plan is not None and (not plan or plan[0] < 1 or plan[-1] > 366):
            raise CaseError("check-in days must be between 1 and 366 after arrival")

        def change(case: Case) -> Case:
            if arrival is not None:
                case.arrival = arrival.isoformat()
            if plan is not None:
                case.checkin_plan = plan
            if monthly is not None:
                case.checkin_monthly = monthly
            return case
        return self._change(case_id, change)

    def asked(self, case_id: str, checkin_id: str, at: datetime) -> None:
        def change(case: Case) -> None:
            case.unanswered.setdefault(checkin_id, at.isoformat())
        self._change(case_id, change)

    def record_checkin(self, case_id: str, checkin_id: str, wellbeing: int,
                       needs: tuple[str, ...], comment: str | None, at: datetime,
                       safe: str | None = None) -> None:
        def change(case: Case) -> None:
            case.checkins.append({"checkin_id": checkin_id, "at": at.isoformat(),
                                  "wellbeing": wellbeing, "needs": list(needs),
                                  "comment": comment, "safe": safe})
            case.unanswered.pop(checkin_id, None)
            case.missed_in_a_row = 0
        self._change(case_id, change)

    def missed(self, case_id: str, checkin_id: str) -> int | None:
        """Count a check-in as missed if still unanswered; the streak, or None if answered."""
        def change(case: Case) -> int | None:
            if checkin_id not in case.unanswered:
                return None
            del case.unanswered[checkin_id]
            case.missed_in_a_row += 1
            return case.missed_in_a_row
        return self._change(case_id, change)

    def is_unanswered(self, case_id: str, checkin_id: str) -> bool:
        case = self.registry.case(case_id)
        return case is not None and checkin_id in case.unanswered

    # -- alerts --------------------------------------------------------------------------
    def raise_alert(self, case_id: str, severity: str, categories: tuple[str, ...],
                    justification: str, text: str | None, at: datetime) -> dict[str, Any]:
        alert = {"alert_id": "A-" + secrets.token_hex(4).upper(), "severity": severity,
                 "categories": list(categories), "at": at.isoformat(),
                 "justification": justification, "text": text,
                 "status": "open" if severity != "review" else "review",
                 "acked_by": None, "acked_at": None, "calling": False, "escalated": False}

        def change(case: Case) -> dict[str, Any]:
            case.alerts.append(alert)
            return alert
        return self._change(case_id, change)

    def acknowledge(self, case_id: str, alert_id: str, by: int, at: datetime,
                    calling: bool = False) -> dict[str, Any]:
        def change(case: Case) -> dict[str, Any]:
            alert = case.alert(alert_id)
            if alert is None:
                raise CaseError(f"no alert {alert_id}")
            if alert["status"] == "open":
                alert.update(status="acknowledged", acked_by=by, acked_at=at.isoformat())
            alert["calling"] = alert["calling"] or calling
            return dict(alert)
        return self._change(case_id, change)

    def escalate(self, case_id: str, alert_id: str) -> dict[str, Any] | None:
        """Mark an open alert escalated; None when it was acknowledged meanwhile."""
        def change(case: Case) -> dict[str, Any] | None:
            alert = case.alert(alert_id)
            if alert is None or alert["status"] != "open":
                return None
            alert["escalated"] = True
            return dict(alert)
        return self._change(case_id, change)
