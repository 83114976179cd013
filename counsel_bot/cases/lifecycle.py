"""The end of a case on the store: closure, reopening, export, erasure and anonymisation.

Erasure removes the case's shard, the returnee's chat shard and the invitation from the
caseload; a tombstone with no personal data remains so that the audit trail still adds up.
Anonymisation (after the retention period) keeps what statistics need and drops the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tinydb import Query

from counsel_bot.cases.model import CLOSE_REASONS, Case
from counsel_bot.cases.registry import CaseError, Registry, case_shard

TOMBSTONES = "tombstones"


class Lifecycle:
    def __init__(self, registry: Registry, chat_shard: Callable[[str], str]) -> None:
        self.registry = registry
        self.store = registry.store
        self.chat_shard = chat_shard

    def _change(self, case_id: str, change: Callable[[Case], Any]) -> Any:
        return self.registry.change_case(case_id, change)

    def close(self, case_id: str, reason: str, note: str | None, at: datetime) -> Case:
        if reason not in CLOSE_REASONS:
            raise CaseError(f"reason must be one of {', '.join(CLOSE_REASONS)}")

        def change(case: Case) -> Case:
            if case.status == "closed":
                raise CaseError(f"case {case_id} is already closed")
            case.status, case.closed_reason = "closed", reason
            case.closed_at, case.closure_note = at.isoformat(), note
            for session in case.sessions:
                if session.status == "scheduled" and session.starts > at:
                    session.status = "cancelled"
            return case
        return self._change(case_id, change)

    def reopen(self, case_id: str) -> Case:
        def change(case: Case) -> Case:
            if case.status != "closed":
                raise CaseError(f"case {case_id} is not closed")
            if case.closed_reason == "deceased":
                raise CaseError("a case closed because the person died cannot be reopened")
            if case.anonymised:
                raise CaseError(f"case {case_id} was made anonymous and cannot be reopened")
            case.status = "active" if case.chat else "invited"
            case.closed_reason = case.closed_at = None
            return case
        return self._change(case_id, change)

    def record_evaluation(self, case_id: str, evaluation: dict[str, Any]) -> None:
        def change(case: Case) -> None:
            case.evaluation = evaluation
        self._change(case_id, change)

    def record_referral(self, case_id: str, partner: str, granted: bool, at: datetime) -> None:
        def change(case: Case) -> None:
            case.referrals.append({"partner": partner, "granted": granted,
                                   "at": at.isoformat()})
        self._change(case_id, change)

    def request_erasure(self, case_id: str, at: datetime) -> Case:
        def change(case: Case) -> Case:
            case.erasure_requested = case.erasure_requested or at.isoformat()
            return case
        return self._change(case_id, change)

    def export(self, case_id: str) -> dict[str, Any]:
        """One JSON-ready document: the case, consents, sessions, check-ins and alerts."""
        case = self.registry.case(case_id)
        if case is None:
            raise CaseError(f"no case {case_id}")
        document: dict[str, Any] = {"format": "counsel-bot case export v1", **case.to_dict()}
        document.pop("chat", None)
        document.pop("unanswered", None)
        consents: list[dict[str, Any]] = []
        if case.chat:
            with self.store.snapshot(self.chat_shard(case.chat)) as db:
                state = db.table("conversation").get(doc_id=1)
            if isinstance(state, dict):
                consents = list(state.get("consent_log", []))
                document["language_chosen"] = state.get("language")
        document["consents"] = consents
        return document

    def erase(self, case_id: str, at: datetime, why: str) -> dict[str, Any]:
        """Remove everything about the case from the store; leave a tombstone."""
        case = self.registry.case(case_id)
        if case is None:
            raise CaseError(f"no case {case_id}")
        if case.chat:
            self.store.erase(self.chat_shard(case.chat))
        with self.store.transaction(f"caseload:{case.caseworker}") as db:
            db.table("cases").remove(lambda doc: doc.get("case_id") == case_id)
        self.store.erase(case_shard(case_id))
        tombstone = {"case_id": case_id, "erased_at": at.isoformat(), "why": why}
        with self.store.transaction(TOMBSTONES) as db:
            db.table("tombstones").upsert(tombstone, Query().case_id == case_id)
        return tombstone

    def anonymise(self, case_id: str) -> Case:
        """Keep country, language, status, dates and answers' numbers; drop the rest."""
        case = self.registry.case(case_id)
        if case is None:
            raise CaseError(f"no case {case_id}")
        if case.chat:
            self.store.erase(self.chat_shard(case.chat))

        def change(case: Case) -> Case:
            case.chat = None
            case.closure_note = None
            case.timezone = "UTC"
            for session in case.sessions:
                session.place = session.online = session.suggestion = None
            for checkin in case.checkins:
                checkin["comment"] = None
            for alert in case.alerts:
                alert["text"] = None
            if case.evaluation:
                case.evaluation["comment"] = None
            case.unanswered = {}
            case.anonymised = True
            return case
        return self._change(case_id, change)

    def tombstone(self, case_id: str) -> dict[str, Any] | None:
        with self.store.snapshot(TOMBSTONES) as db:
            doc = db.table("tombstones").get(Query().case_id == case_id)
        return dict(doc) if isinstance(doc, dict) else None
