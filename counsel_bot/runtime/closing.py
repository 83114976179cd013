"""Closure in motion: the goodbye, the cancelled schedule, the deceased protocol, stopping,
erasure on request, and anonymisation once the retention period is over.

Whatever closes a case (the command line, the desk, /stop), every scheduled item of the
case is cancelled at once, and the scheduler's handlers check the case again when an item
falls due; after a death the engine says nothing to the chat, whatever comes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from counsel_bot.cases.model import Case
from counsel_bot.cases.registry import CaseError
from counsel_bot.engine.effects import (
    ForgetPersonalData,
    RecordEvaluation,
    ReferralAnswer,
    ReopenCase,
    RequestErasure,
    StopContact,
)
from counsel_bot.engine.inbound import CaseClosed
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.dispatch import AfterStep
from counsel_bot.runtime.scheduler import Item

log = logging.getLogger(__name__)

DAYS_PER_MONTH = 30.44


class Closing:
    def __init__(self, care: Care) -> None:
        self.care = care
        self.casework = care.casework
        self.chats = care.chats
        self.scheduler = care.scheduler
        self.registry = care.registry
        self.lifecycle = care.conversations.lifecycle
        self.deployment = care.deployment
        self.scheduler.on("retention_due", self._on_retention)
        self.scheduler.on("erasure_due", self._on_erasure)

    def now(self) -> datetime:
        return self.casework.now()

    def audit(self, event: str, why: str, actor: str = "system", **details: Any) -> None:
        self.casework.audit(event, actor=actor, why=why, **details)

    # -- closing -------------------------------------------------------------------------
    async def case_closed(self, case_id: str, by: str = "admin") -> None:
        """After the store says closed: cancel, plan retention, say goodbye (or not)."""
        case = self.registry.case(case_id)
        if case is None or case.status != "closed":
            return
        cancelled = self.scheduler.cancel_tag(f"case:{case_id}")
        log.info("case closed: %d scheduled item(s) cancelled", cancelled)
        self._plan_retention(case)
        if case.chat:
            await self.chats.deliver(case.chat, CaseClosed(case.closed_reason or "other"),
                                     key=f"closed:{case_id}:{case.closed_at}")
        if case.closed_reason == "deceased":
            self.care.notify(case_id, "cw_deceased_protocol", key=f"protocol:{case_id}")
            self.audit("deceased_protocol_shown", "deceased", case_id=case_id)

    def _plan_retention(self, case: Case) -> None:
        closed = datetime.fromisoformat(case.closed_at or self.now().isoformat())
        due = closed + timedelta(days=self.deployment.retention_months * DAYS_PER_MONTH)
        self.scheduler.add("retention_due", due, {"case_id": case.case_id},
                           tags=(f"retention:{case.case_id}",),
                           key=f"retention:{case.case_id}:{case.closed_at}")

    async def case_reopened(self, case_id: str) -> None:
        self.scheduler.cancel_tag(f"retention:{case_id}")
        await asyncio.to_thread(self.care.plan_checkins, case_id)

    # -- after a returnee's step (handlers of the after phase) ---------------------------
    def on_stop(self, effect: StopContact, after: AfterStep) -> None:
        if effect.case_id is None:
            return
        try:
            self.lifecycle.close(effect.case_id, "withdrawn", None, self.now())
            self.audit("case_closed", "returnee_request", actor="returnee",
                       case_id=effect.case_id, reason="withdrawn")
        except CaseError:
            pass  # closed already (by this very step, before a restart, or by someone else)
        self.scheduler.cancel_tag(f"case:{effect.case_id}")
        case = self.registry.case(effect.case_id)
        if case is None or case.status != "closed" or case.closed_reason != "withdrawn":
            return
        self._plan_retention(case)
        worker = self.registry.caseworker(case.caseworker)
        if worker is None:
            return
        tr = self.casework.context.translator(worker.language)
        system = self.casework.context.dialogs.system
        reason = tr(system[f"stop_reason_{effect.reason}"] if effect.reason
                    else system["cw_reason_not_given"])
        self.care.notify(effect.case_id, "cw_withdrew", key=after.dedupe("withdrew"),
                         reason=reason)

    def on_forget(self, effect: ForgetPersonalData, _after: AfterStep) -> None:
        if effect.case_id:
            self.scheduler.cancel_tag(f"case:{effect.case_id}")

    def on_erasure_requested(self, effect: RequestErasure, after: AfterStep) -> None:
        self._erasure_requested(effect.case_id, after)

    def on_referral(self, effect: ReferralAnswer, after: AfterStep) -> None:
        self.audit("referral_consented", "referral", actor="returnee", case_id=effect.case_id,
                   target=effect.partner, granted=effect.granted)
        if effect.granted:
            self._notify_referral(effect, after)

    def on_evaluation(self, effect: RecordEvaluation, after: AfterStep) -> None:
        dialogs = self.casework.context.dialogs
        self.care.notify(effect.case_id, "cw_evaluation", key=after.dedupe("evaluation"),
                         translate={"met": dialogs.questions.evaluation.met.label(effect.met)
                                    if effect.met else dialogs.system["cw_reason_not_given"]},
                         support=str(effect.support or "-"))

    def on_reopen(self, effect: ReopenCase, _after: AfterStep) -> None:
        """Back after /stop and consenting again: the case /stop closed opens again."""
        case = self.registry.case(effect.case_id)
        if case is None or case.status != "closed" or case.closed_reason != "withdrawn":
            return
        self.lifecycle.reopen(effect.case_id)
        self.scheduler.cancel_tag(f"retention:{effect.case_id}")
        self.audit("case_reopened", "returnee_action", actor="returnee",
                   case_id=effect.case_id)

    def _erasure_requested(self, case_id: str, after: AfterStep) -> None:
        due = self.now() + timedelta(days=self.deployment.erasure_days)
        self.scheduler.add("erasure_due", due, {"case_id": case_id},
                           tags=(f"erasure:{case_id}",), key=after.dedupe("erasure"))
        case = self.registry.case(case_id)
        if case is not None:
            worker = self.registry.caseworker(case.caseworker)
            language = worker.language if worker else self.deployment.default_language
            tr = self.casework.context.translator(language)
            self.care.notify(case_id, "cw_erasure_requested", key=after.dedupe("erasure"),
                             date=tr.date(due, case.timezone))

    def _notify_referral(self, effect: ReferralAnswer, after: AfterStep) -> None:
        case = self.registry.case(effect.case_id)
        partner = next((p for p in self.deployment.country(case.country if case else None)
                        .referral_partners if p.code == effect.partner), None)
        if partner is not None:
            self.care.notify(effect.case_id, "cw_referral_yes",
                             key=after.dedupe(f"referral:{effect.partner}"),
                             content={"partner": partner.name})

    # -- erasure and retention -----------------------------------------------------------
    def forget_schedule(self, case_id: str) -> None:
        """Cancel everything scheduled about a case, its retention and erasure included."""
        for tag in (f"case:{case_id}", f"retention:{case_id}", f"erasure:{case_id}"):
            self.scheduler.cancel_tag(tag)

    def erase(self, case_id: str, actor: str, why: str) -> None:
        self.forget_schedule(case_id)
        self.lifecycle.erase(case_id, self.now(), why)
        self.audit("case_erased", why, actor=actor, case_id=case_id)

    async def _on_erasure(self, item: Item, now: datetime) -> None:
        case_id = item.data["case_id"]
        if self.registry.case(case_id) is not None:
            await asyncio.to_thread(self.erase, case_id, "system", "returnee_request")

    async def _on_retention(self, item: Item, now: datetime) -> None:
        case = self.registry.case(item.data["case_id"])
        if case is None or case.status != "closed" or case.anonymised:
            return
        await asyncio.to_thread(self.lifecycle.anonymise, case.case_id)
        self.audit("case_anonymised", "retention_policy", case_id=case.case_id)
