"""Follow-up in motion: check-ins on plan, missed ones noticed, alerts that a person must
acknowledge in time or that go to someone else.

- Check-ins go out at the deployment's hour in the returnee's timezone, outside quiet
  hours, only while the check-in consent holds; withdrawing it cancels them at once. An
  unanswered one gets one reminder at the same time the next day (on the returnee's wall
  clock, also outside quiet hours); two missed in a row are reported. Monthly ones come
  every 30 days at the check-in hour, whatever the clock changes in between.
- An alert goes at once, ahead of every queue, to the case worker, with buttons to
  acknowledge, see details, or say they will call. Without an acknowledgement by the
  deadline (15 minutes urgent, 4 hours high) it goes again, and to the backup or the
  supervisors. If there is nobody else, that failure is logged loudly: the returnee still
  has the emergency contacts they were given.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from counsel_bot.cases.localtime import out_of_quiet_hours, zone
from counsel_bot.cases.model import Case, CaseWorker
from counsel_bot.engine.effects import (
    Button,
    ConsentChanged,
    NotifyCaseWorker,
    Priority,
    RecordCheckin,
    Send,
    SnoozeCheckin,
    WatchSafety,
)
from counsel_bot.engine.inbound import CheckinDue
from counsel_bot.engine.notices import caseworker_notice
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.conversations import AlertRaised
from counsel_bot.runtime.dispatch import AfterStep
from counsel_bot.runtime.scheduler import Item

log = logging.getLogger(__name__)

MISSED_AFTER = timedelta(hours=48)
MONTH = timedelta(days=30)  # between monthly check-ins, counted in the returnee's days


class Care:
    def __init__(self, casework: Casework) -> None:
        self.casework = casework
        self.chats = casework.chats
        self.scheduler = casework.scheduler
        self.registry = casework.registry
        self.conversations = casework.conversations
        self.followup = casework.conversations.followup
        self.deployment = casework.context.deployment
        for kind, handler in (("checkin_due", self._on_checkin_due),
                              ("checkin_followup", self._on_checkin_followup),
                              ("checkin_missed", self._on_checkin_missed),
                              ("alert_deadline", self._on_alert_deadline),
                              ("safety_unanswered", self._on_safety_unanswered)):
            self.scheduler.on(kind, handler)

    def now(self) -> datetime:
        return self.casework.now()

    # -- after a returnee's step (handlers of the after phase) ---------------------------
    def on_alert_raised(self, effect: AlertRaised, _after: AfterStep) -> None:
        self.alert(effect.case_id, effect.alert_id)

    def on_watch_safety(self, effect: WatchSafety, after: AfterStep) -> None:
        """The person was asked whether they are safe: no answer in time alerts as high."""
        self.scheduler.add(
            "safety_unanswered",
            datetime.fromisoformat(effect.asked_at) + timedelta(minutes=effect.minutes),
            {"case_id": effect.case_id, "chat": after.chat, "check_id": effect.check_id,
             "categories": list(effect.categories), "justification": effect.justification},
            tags=(f"case:{effect.case_id}", f"safety_check:{effect.check_id}"),
            key=f"safety_unanswered:{effect.check_id}")

    async def _on_safety_unanswered(self, item: Item, now: datetime) -> None:
        data = item.data
        if self.conversations.state_of(data["chat"]).safety_check != data["check_id"]:
            return  # answered meanwhile (or asked again)
        categories = tuple(dict.fromkeys([*data["categories"], "no_safety_answer"]))
        alert = self.followup.raise_alert(data["case_id"], "high", categories,
                                          data["justification"], None, now)
        self.alert(data["case_id"], alert["alert_id"])

    def on_checkin_recorded(self, effect: RecordCheckin, _after: AfterStep) -> None:
        self.scheduler.cancel_tag(f"checkin:{effect.checkin_id}")

    def on_checkin_snoozed(self, effect: SnoozeCheckin, _after: AfterStep) -> None:
        self._snooze(effect.case_id, effect.checkin_id)

    def on_consent_changed(self, effect: ConsentChanged, after: AfterStep) -> None:
        case_id = effect.case_id or after.case_id
        if effect.purpose != "checkins" or case_id is None:
            return
        if effect.granted:
            self.plan_checkins(case_id)
        else:
            cancelled = self.scheduler.cancel_tag(f"checkins:{case_id}")
            log.info("check-in consent withdrawn: %d check-in(s) cancelled", cancelled)

    def on_notify(self, effect: NotifyCaseWorker, after: AfterStep) -> None:
        """Tell the case's worker what the returnee did, with only what the event allows."""
        case = self.registry.case(effect.case_id)
        worker = self.registry.caseworker(case.caseworker) if case else None
        if worker is None:
            log.error("a notice for case %s has no case worker to go to", effect.case_id)
            return
        context = self.casework.context
        tr = context.translator(worker.language)
        text = caseworker_notice(effect.event, effect.case_id, effect.details,
                                 context.dialogs.system, tr)
        fingerprint = hashlib.sha256(json.dumps(
            [effect.event, effect.details], sort_keys=True, default=str).encode()).hexdigest()
        buttons: tuple[tuple[Button, ...], ...] = ()
        if effect.event == "message" and effect.details.get("text"):
            # the message rides with the button (kept, encrypted, in the worker's shard)
            language = case.language if case else ""
            buttons = ((Button(tr(context.dialogs.system["cw_was_distress"]),
                               f"distress:{effect.case_id}:{language}:"
                               f"{effect.details['text']}"),),)
        self.chats.to_worker(worker, Send(text, buttons, rtl=tr.rtl, protect=True),
                             key=after.dedupe(f"notify:{fingerprint[:16]}"))

    # -- check-ins -----------------------------------------------------------------------
    def plan_checkins(self, case_id: str) -> list[str]:
        """(Re)plan a case's check-ins from its arrival date; past days are skipped."""
        self.scheduler.cancel_tag(f"checkins:{case_id}")
        case = self.registry.case(case_id)
        if case is None or case.arrival is None or case.status != "active":
            return []
        arrival = date.fromisoformat(case.arrival)
        days = case.checkin_plan or list(self.deployment.checkin_days)
        planned = []
        for day in days:
            due = self._waking_time(arrival + timedelta(days=day), case.timezone)
            if due is not None and due > self.now():
                planned.append(self._add_checkin(case, due))
        monthly = (case.checkin_monthly if case.checkin_monthly is not None
                   else self.deployment.checkin_monthly)
        if monthly:
            first = arrival + timedelta(days=max(days) + 30)
            while (due := self._waking_time(first, case.timezone)) is not None \
                    and due <= self.now():
                first += MONTH
            if due is not None:
                planned.append(self._add_checkin(case, due, monthly=True, day=first))
        return [p for p in planned if p is not None]

    def _waking_time(self, day: date, timezone: str) -> datetime | None:
        local = datetime.combine(day, time(self.deployment.checkin_hour), tzinfo=zone(timezone))
        when = local.astimezone(UTC).astimezone(local.tzinfo)  # a time in a DST gap moves on
        return out_of_quiet_hours(when, timezone, self.deployment.quiet_hours,
                                  not_before=when - timedelta(hours=12),
                                  not_after=when + timedelta(hours=12))

    def _a_day_later(self, when: datetime, timezone: str) -> datetime | None:
        """The same time on the returnee's wall clock the next day (not 24 hours: the
        clocks may change in the night), out of the quiet hours."""
        tz = zone(timezone)
        local = when.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
        later = local.replace(tzinfo=tz).astimezone(UTC)  # a time in a DST gap moves on
        return out_of_quiet_hours(later, timezone, self.deployment.quiet_hours,
                                  not_before=later - timedelta(hours=12),
                                  not_after=later + timedelta(hours=12))

    def _add_checkin(self, case: Case, due: datetime, *, monthly: bool = False,
                     checkin_id: str | None = None, day: date | None = None,
                     key: str | None = None) -> str | None:
        """`day`: the day of the plan a monthly check-in stands for (the next month's is
        planned from it, at the check-in hour)."""
        checkin_id = checkin_id or "K-" + secrets.token_hex(4)
        data: dict[str, Any] = {"case_id": case.case_id, "checkin_id": checkin_id,
                                "monthly": monthly}
        if day is not None:
            data["day"] = day.isoformat()
        return self.scheduler.add(
            "checkin_due", due, data,
            tags=(f"case:{case.case_id}", f"checkins:{case.case_id}", f"checkin:{checkin_id}"),
            expires=due + timedelta(hours=12), key=key)

    def _next_month(self, case: Case, item: Item, now: datetime) -> None:
        """Plan the monthly check-in after `item`'s: 30 days on, at the check-in hour."""
        planned = item.data.get("day")
        day = (date.fromisoformat(planned) if planned
               else item.due.astimezone(zone(case.timezone)).date())
        for _ in range(120):  # ten years of months, after the longest downtime
            day += MONTH
            due = self._waking_time(day, case.timezone)
            if due is not None and due > now:
                self._add_checkin(case, due, monthly=True, day=day,
                                  key=f"next_month:{item.id}")
                return
        log.error("no time for the next monthly check-in of case %s was found", case.case_id)

    def _snooze(self, case_id: str, checkin_id: str) -> None:
        case = self.registry.case(case_id)
        if case is None:
            return
        self.scheduler.cancel_tag(f"checkin:{checkin_id}")
        local_day = self.now().astimezone(zone(case.timezone)).date() + timedelta(days=1)
        due = self._waking_time(local_day, case.timezone)
        if due is not None:
            self._add_checkin(case, due, checkin_id=checkin_id)

    def _may_check_in(self, case: Case | None) -> bool:
        if case is None or case.chat is None or case.status != "active":
            return False
        return self.conversations.state_of(case.chat).has_consent("checkins")

    async def _on_checkin_due(self, item: Item, now: datetime) -> None:
        data = item.data
        case = self.registry.case(data["case_id"])
        if data.get("monthly") and case is not None and case.status == "active":
            self._next_month(case, item, now)
        if not self._may_check_in(case):
            return
        assert case is not None and case.chat is not None
        self.followup.asked(case.case_id, data["checkin_id"], now)
        await self.chats.deliver(case.chat, CheckinDue(data["checkin_id"]),
                                   key=f"sched:{item.id}")
        tags = (f"case:{case.case_id}", f"checkins:{case.case_id}",
                f"checkin:{data['checkin_id']}")
        remind = self._a_day_later(now, case.timezone)
        if remind is not None:
            self.scheduler.add("checkin_followup", remind, data, tags=tags,
                               expires=now + MISSED_AFTER)
        self.scheduler.add("checkin_missed", now + MISSED_AFTER, data, tags=tags)

    async def _on_checkin_followup(self, item: Item, now: datetime) -> None:
        data = item.data
        case = self.registry.case(data["case_id"])
        if not self._may_check_in(case) or not self.followup.is_unanswered(
                data["case_id"], data["checkin_id"]):
            return
        assert case is not None and case.chat is not None
        await self.chats.deliver(case.chat, CheckinDue(data["checkin_id"], reminder=True),
                                   key=f"sched:{item.id}")

    async def _on_checkin_missed(self, item: Item, now: datetime) -> None:
        streak = self.followup.missed(item.data["case_id"], item.data["checkin_id"])
        if streak is not None and streak >= 2:
            self.notify(item.data["case_id"], "cw_checkins_missed", key=f"sched:{item.id}")

    # -- alerts --------------------------------------------------------------------------
    def alert(self, case_id: str, alert_id: str) -> None:
        """Send a new alert to the case worker and watch its deadline."""
        case = self.registry.case(case_id)
        alert = case.alert(alert_id) if case else None
        worker = self.registry.caseworker(case.caseworker) if case else None
        if case is None or alert is None or worker is None:
            log.error("ALERT %s for case %s has no case worker to go to", alert_id, case_id)
            return
        if alert["severity"] == "review":
            self._send_alert(worker, case, alert, "cw_alert_review", buttons=False)
            return  # (a review note has no buttons: nothing was alarmed)
        # recorded and its deadline planned before it can leave: the case worker may act on
        # it at once ("show details" came into the audit trail before "raised"), and a
        # kill after the send must not leave an alert that never goes to the backup
        self._audit(case_id, "alert_raised", alert)
        deadline = timedelta(minutes=self.deployment.alert_deadline(alert["severity"]))
        self.scheduler.add("alert_deadline", datetime.fromisoformat(alert["at"]) + deadline,
                           {"case_id": case_id, "alert_id": alert_id},
                           tags=(f"case:{case_id}", f"alert:{alert_id}"),
                           key=f"alert_deadline:{alert_id}")
        self._send_alert(worker, case, alert, "cw_alert")

    async def _on_alert_deadline(self, item: Item, now: datetime) -> None:
        case_id, alert_id = item.data["case_id"], item.data["alert_id"]
        alert = self.followup.escalate(case_id, alert_id)
        if alert is None:
            return  # acknowledged meanwhile
        case = self.registry.case(case_id)
        assert case is not None
        worker = self.registry.caseworker(case.caseworker)
        if worker is not None:
            self._send_alert(worker, case, alert, "cw_alert_again")
        others = self._backups(case, worker)
        for other in others:
            self._send_alert(other, case, alert, "cw_alert_backup")
        self._audit(case_id, "alert_escalated", alert, count=len(others))
        if not others:
            log.error("ALERT %s for case %s (%s) is unacknowledged after its deadline and "
                      "no backup or supervisor is registered to receive it", alert_id, case_id,
                      alert["severity"])

    def _backups(self, case: Case, worker: CaseWorker | None) -> list[CaseWorker]:
        if worker is not None and worker.backup is not None:
            backup = self.registry.caseworker(worker.backup)
            if backup is not None:
                return [backup]
        return [w for w in self.registry.caseworkers()
                if w.role in ("supervisor", "admin") and w.telegram_id != case.caseworker]

    def _send_alert(self, worker: CaseWorker, case: Case, alert: dict[str, Any], text_name: str,
                    buttons: bool = True) -> None:
        context = self.casework.context
        tr = context.translator(worker.language)
        system = context.dialogs.system
        categories = ", ".join(tr(system.get(f"category_{c}", c)) if f"category_{c}" in system
                               else c for c in alert["categories"])
        text = tr(system[text_name], case_id=tr.ltr(case.case_id),
                  severity=tr(system.get(f"cw_severity_{alert['severity']}", alert["severity"])),
                  categories=categories,
                  time=tr.when(datetime.fromisoformat(alert["at"]), case.timezone))
        rows: tuple[tuple[Button, ...], ...] = ()
        if buttons:
            base = f"alert:{case.case_id}:{alert['alert_id']}"
            rows = ((Button(tr(system["cw_ack"]), f"{base}:ack"),
                     Button(tr(system["cw_details"]), f"{base}:details")),
                    (Button(tr(system["cw_will_call"]), f"{base}:call"),
                     Button(tr(system["cw_false_alarm"]), f"{base}:false")))
        key = f"alert:{alert['alert_id']}:{text_name}:{worker.telegram_id}"  # each one once
        self.chats.to_worker(worker, Send(text, rows, rtl=tr.rtl, protect=True,
                                          priority=Priority.URGENT), key=key)

    def notify(self, case_id: str, text_name: str, key: str | None = None,
               translate: dict[str, str] | None = None,
               content: dict[str, str] | None = None, **values: str) -> None:
        """A notice to the case's worker, in their language; `translate` values are source
        texts to translate first, `content` values texts of the deployment's own files."""
        case = self.registry.case(case_id)
        worker = self.registry.caseworker(case.caseworker) if case else None
        if worker is None:
            return
        tr = self.casework.context.translator(worker.language)
        values.update({k: tr(v) for k, v in (translate or {}).items()})
        values.update({k: tr.content(v) for k, v in (content or {}).items()})
        text = tr(self.casework.context.dialogs.system[text_name], case_id=tr.ltr(case_id),
                  **values)
        self.chats.to_worker(worker, Send(text, rtl=tr.rtl, protect=True), key=key)

    def _audit(self, case_id: str, event: str, alert: dict[str, Any], **extra: Any) -> None:
        log.info("audit: %s %s (case %s, %s)", event, alert["alert_id"], case_id,
                 alert["severity"])
        why = "escalation_timeout" if event == "alert_escalated" else "safety"
        self.casework.audit(event, why=why, case_id=case_id, alert_id=alert["alert_id"],
                            severity=alert["severity"],
                            justification=alert.get("justification"), **extra)
