"""The case worker's desk in Telegram: caseload, case details, new cases, sessions.

Pure like the returnee's engine: the runtime passes the case worker's caseload in, applies
the commands that come out (open a case, schedule a session), and passes their results
back in. Each guided flow asks one thing at a time, with buttons where there are choices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from counsel_bot.cases.ids import CASE_ID
from counsel_bot.cases.localtime import LocalTimeError, parse_local
from counsel_bot.cases.model import CLOSE_REASONS, Case, CaseWorker
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.effects import Audit, Button, Send
from counsel_bot.engine.inbound import Command, Inbound, Press, Start, Text
from counsel_bot.engine.input_check import problem_with
from counsel_bot.i18n.catalogs import Translator, language_name

DURATIONS = (30, 45, 60, 90)


@dataclass
class DeskState:
    flow: str | None = None  # newcase, schedule
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DeskState:
        return cls(**data) if data else cls()


@dataclass(frozen=True)
class DeskView:
    worker: CaseWorker
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class OpenCase:
    country: str
    language: str
    timezone: str


@dataclass(frozen=True)
class ScheduleSession:
    case_id: str
    at_local: str
    place: str | None
    online: str | None
    duration: int
    interpreter: str | None


@dataclass(frozen=True)
class CaseOpened:
    case_id: str
    link: str
    days: int


@dataclass(frozen=True)
class SessionBooked:
    session_id: str
    at: datetime
    timezone: str


@dataclass(frozen=True)
class AckAlert:
    case_id: str
    alert_id: str
    calling: bool = False


@dataclass(frozen=True)
class ShowAlert:
    case_id: str
    alert_id: str


@dataclass(frozen=True)
class LabelAlert:
    """The case worker says an alert was a false alarm, or (from its details) distress."""

    case_id: str
    alert_id: str
    label: str  # false_alarm | distress


@dataclass(frozen=True)
class LabelMessage:
    """The case worker says a returnee's message shown to them was distress."""

    case_id: str
    language: str | None
    text: str


@dataclass(frozen=True)
class Labelled:
    case_id: str
    label: str
    kept: bool  # a message was there to keep as an example


@dataclass(frozen=True)
class SetPlan:
    case_id: str
    days: tuple[int, ...]
    monthly: bool


@dataclass(frozen=True)
class CloseCase:
    case_id: str
    reason: str


@dataclass(frozen=True)
class CaseWasClosed:
    case_id: str
    reason: str


@dataclass(frozen=True)
class AlertAcked:
    case_id: str
    calling: bool


@dataclass(frozen=True)
class AlertDetails:
    case_id: str
    alert_id: str
    text: str | None


@dataclass(frozen=True)
class PlanSet:
    case_id: str
    days: tuple[int, ...]
    monthly: bool


@dataclass(frozen=True)
class IssueWebLink:
    """A one-time sign-in link for the web desk, for this case worker."""


@dataclass(frozen=True)
class WebLinkIssued:
    link: str | None  # None: the web desk's address is not known
    minutes: int


@dataclass(frozen=True)
class DeskFailed:
    reason: str  # a system-text name


DeskEffect = (Send | Audit | OpenCase | ScheduleSession | AckAlert | ShowAlert | SetPlan
              | CloseCase | IssueWebLink | LabelAlert | LabelMessage)
DeskInput = (Inbound | CaseOpened | SessionBooked | DeskFailed | AlertAcked | AlertDetails
             | PlanSet | CaseWasClosed | WebLinkIssued | Labelled)


class Desk:
    def __init__(self, state: DeskState, view: DeskView, ctx: EngineContext) -> None:
        self.state = DeskState.from_dict(state.to_dict())
        self.view = view
        self.ctx = ctx
        self.tr: Translator = ctx.translator(view.worker.language)
        self.effects: list[DeskEffect] = []

    def text(self, name: str, **values: object) -> str:
        return self.tr(self.ctx.dialogs.system[name], **values)

    def say(self, text: str, buttons: tuple[tuple[Button, ...], ...] = (),
            protect: bool = False) -> None:
        self.effects.append(Send(text, buttons, rtl=self.tr.rtl, protect=protect))

    def ask(self, step: str, name: str, choices: list[tuple[str, str]], **values: object) -> None:
        self.state.step = step
        rows = tuple((Button(label, f"desk:{step}:{value}"),) for label, value in choices)
        cancel = (Button(self.text("cancel"), f"desk:{step}:cancel"),)
        self.say(self.text(name, **values), (*rows, cancel))

    def reset(self) -> None:
        self.state = DeskState()

    # -- input ---------------------------------------------------------------------------
    def handle(self, inbound: DeskInput) -> None:
        match inbound:
            case Start() | Command(name="help"):
                self.reset()
                self.say(self.text("cw_welcome"))
            case Command(name="cases"):
                self.reset()
                self.caseload()
            case Command(name="case"):
                self.reset()
                self.case_details(inbound.args.strip().upper())
            case Command(name="newcase"):
                self.reset()
                self.state.flow = "newcase"
                self.ask("country", "cw_newcase_country",
                         [(self.tr(c.name), code)
                          for code, c in sorted(self.ctx.deployment.countries.items())])
            case Command(name="schedule"):
                self.reset()
                self.start_schedule()
            case Command(name="plan"):
                self.plan(inbound.args)
            case Command(name="close"):
                self.reset()
                self.start_close(inbound.args.strip().upper())
            case Command(name="web"):
                self.reset()
                self.effects.append(IssueWebLink())
            case Command():
                self.say(self.text("cw_welcome"))
            case Press():
                self.on_press(inbound.action)
            case Text():
                self.on_text(inbound.text)
            case CaseOpened():
                self.reset()
                self.say(self.text("cw_newcase_done", case_id=self.tr.ltr(inbound.case_id),
                                   period=self.tr.days(inbound.days),
                                   link=self.tr.ltr(inbound.link)),
                         protect=True)
            case SessionBooked():
                self.reset()
                self.say(self.text("cw_schedule_done", session_id=self.tr.ltr(inbound.session_id),
                                   when=self.tr.when(inbound.at, inbound.timezone)))
            case DeskFailed():
                self.say(self.text(inbound.reason))
            case AlertAcked():
                self.say(self.text("cw_calling" if inbound.calling else "cw_acked",
                                   case_id=self.tr.ltr(inbound.case_id)))
            case AlertDetails():
                self.effects.append(Audit("alert_details_viewed", {
                    "case_id": inbound.case_id, "alert_id": inbound.alert_id,
                    "by": self.view.worker.telegram_id}))
                if inbound.text is None:
                    self.say(self.text("cw_no_details"))
                else:
                    base = f"alert:{inbound.case_id}:{inbound.alert_id}"
                    self.say(self.text("cw_details_text", case_id=self.tr.ltr(inbound.case_id),
                                       text=inbound.text),
                             ((Button(self.text("cw_was_distress"), f"{base}:distress"),
                               Button(self.text("cw_false_alarm"), f"{base}:false")),),
                             protect=True)
            case Labelled():
                name = ("cw_nothing_to_learn" if not inbound.kept else
                        "cw_marked_false_alarm" if inbound.label == "false_alarm"
                        else "cw_marked_distress")
                self.say(self.text(name, case_id=self.tr.ltr(inbound.case_id)))
            case CaseWasClosed():
                self.reset()
                self.say(self.text("cw_closed", case_id=self.tr.ltr(inbound.case_id),
                                   reason=self.text(f"cw_reason_{inbound.reason}")))
            case WebLinkIssued(link=None):
                self.say(self.text("cw_web_unavailable"))
            case WebLinkIssued(link=str() as link):
                self.say(self.text("cw_web_link", link=self.tr.ltr(link),
                                   period=self.tr.minutes(inbound.minutes)), protect=True)
            case PlanSet():
                self.say(self.text("cw_plan_set", case_id=self.tr.ltr(inbound.case_id),
                                   plan=self.plan_words(inbound.days, inbound.monthly)))
            case _:
                self.say(self.text("unsupported_kind"))

    def on_text(self, text: str) -> None:
        problem = problem_with(text)
        if problem:
            self.say(self.text(problem, limit=self.tr.number(4000)))
            return
        if self.state.flow == "schedule" and self.state.step == "when":
            self.schedule_when(text.strip())
        elif self.state.flow == "schedule" and self.state.step == "where":
            self.schedule_where(text.strip())
        else:
            self.say(self.text("cw_welcome"))

    def on_press(self, action: str) -> None:
        if action.startswith("distress:") and action.count(":") >= 3:
            _, case_id, language, text = action.split(":", 3)
            if self.find(case_id) is None:
                self.say(self.text("cw_not_found"))
                return
            self.effects.append(LabelMessage(case_id, language or None, text))
            return
        if action.startswith("alert:") and action.count(":") == 3:
            _, case_id, alert_id, verb = action.split(":")
            if verb == "details":
                self.effects.append(ShowAlert(case_id, alert_id))
            elif verb in ("ack", "call"):
                self.effects.append(AckAlert(case_id, alert_id, calling=verb == "call"))
            elif verb in ("false", "distress"):
                self.effects.append(LabelAlert(case_id, alert_id,
                                               "false_alarm" if verb == "false" else "distress"))
            else:
                self.say(self.text("stale_button"))
            return
        _, step, value = action.split(":", 2) if action.count(":") >= 2 else ("", "", "")
        if not action.startswith("desk:") or step != self.state.step:
            self.say(self.text("stale_button"))
            return
        if value == "cancel":
            self.reset()
            self.say(self.text("cw_cancelled"))
            return
        handler = getattr(self, f"on_{self.state.flow}_{step}", None)
        if handler is None:
            self.say(self.text("stale_button"))
            return
        handler(value)

    # -- caseload ------------------------------------------------------------------------
    def status(self, case: Case) -> str:
        return self.text(f"cw_status_{case.status}")

    def next_session(self, case: Case) -> str:
        upcoming = sorted((s for s in case.sessions
                           if s.status == "scheduled" and s.starts > self.ctx.now),
                          key=lambda s: s.starts)
        if not upcoming:
            return self.text("cw_none")
        return self.tr.when(upcoming[0].starts, case.timezone)

    def last_checkin(self, case: Case) -> str:
        if not case.checkins:
            return self.text("cw_none")
        last = case.checkins[-1]
        return f"{self.tr.date(datetime.fromisoformat(last['at']), case.timezone)} " \
               f"({last['wellbeing']}/5)"

    def plan_words(self, days: tuple[int, ...], monthly: bool) -> str:
        words = ", ".join(self.tr.days(d) for d in days)
        return f"{words}, +30" if monthly else words

    def plan(self, args: str) -> None:
        """/plan CASE_ID 3,7,14,30 [monthly]: change a case's check-in plan."""
        parts = args.split()
        case_id = parts[0].upper() if parts else ""
        case = self.find(case_id)
        days_text = parts[1] if len(parts) > 1 else ""
        days = tuple(int(d) for d in days_text.split(",") if d.strip().isdigit())
        if len(parts) < 2 or not days or len(days) != len(days_text.split(",")):
            self.say(self.text("cw_plan_usage"))
            return
        if case is None:
            self.say(self.text("cw_not_found"))
            return
        self.effects.append(SetPlan(case.case_id, days, "monthly" in parts[2:]))

    def caseload(self) -> None:
        if not self.view.cases:
            self.say(self.text("cw_no_cases"))
            return
        lines = [self.text("cw_cases_heading")]
        for case in self.view.cases:
            lines.append("• " + self.text(
                "cw_case_line", case_id=self.tr.ltr(case.case_id), status=self.status(case),
                next_session=self.next_session(case), last_checkin=self.last_checkin(case),
                alerts=self.tr.number(len(case.open_alerts))))
        self.say("\n".join(lines), protect=True)

    def case_details(self, case_id: str) -> None:
        if not case_id:
            self.say(self.text("cw_case_usage"))
            return
        case = self.find(case_id)
        if not CASE_ID.match(case_id) or case is None:
            self.say(self.text("cw_not_found"))  # the same answer whether or not it exists
            return
        lines = [self.text("cw_case_details", case_id=self.tr.ltr(case.case_id),
                           status=self.status(case), country=self.tr(
                               self.ctx.deployment.country(case.country).name),
                           language=language_name(case.language), timezone=case.timezone,
                           opened=self.tr.date(datetime.fromisoformat(case.created_at),
                                               case.timezone))]
        if case.sessions:
            lines.append(self.text("cw_sessions_heading"))
            for session in case.sessions:
                status = self.text(f"cw_session_{session.status}")
                if session.answer and session.status == "scheduled":
                    status += ", " + self.text(f"cw_answer_{session.answer}")
                lines.append("• " + self.text(
                    "cw_session_line", session_id=self.tr.ltr(session.session_id),
                    when=self.tr.when(session.starts, case.timezone), status=status))
        if case.checkins:
            lines.append(self.text("cw_checkins_heading"))
            for checkin in case.checkins[-5:]:
                needs = ", ".join(self.text(f"need_{n}") for n in checkin["needs"])
                lines.append("• " + self.text(
                    "cw_checkin_line", date=self.tr.date(datetime.fromisoformat(checkin["at"]),
                                                         case.timezone),
                    wellbeing=checkin["wellbeing"], needs=needs or self.text("cw_none")))
        if case.open_alerts:
            lines.append(self.text("cw_alerts_heading"))
            for alert in case.open_alerts:
                lines.append("• " + self.text(
                    "cw_alert_line", time=self.tr.when(datetime.fromisoformat(alert["at"]),
                                                       case.timezone),
                    severity=self.text(f"cw_severity_{alert['severity']}"),
                    categories=", ".join(self.text(f"category_{c}") if
                                         f"category_{c}" in self.ctx.dialogs.system else c
                                         for c in alert["categories"])))
        self.effects.append(Audit("case_viewed", {"case_id": case.case_id,
                                                  "by": self.view.worker.telegram_id}))
        self.say("\n".join(lines), protect=True)

    # -- closing a case ------------------------------------------------------------------
    def start_close(self, case_id: str) -> None:
        if not case_id:
            self.say(self.text("cw_close_usage"))
            return
        case = self.find(case_id)
        if case is None or case.status == "closed":
            self.say(self.text("cw_not_found"))
            return
        self.state.flow = "close"
        self.state.data["case_id"] = case_id
        self.ask("reason", "cw_close_reason",
                 [(self.text(f"cw_reason_{r}"), r) for r in CLOSE_REASONS],
                 case_id=self.tr.ltr(case_id))

    def on_close_reason(self, value: str) -> None:
        if value not in CLOSE_REASONS:
            self.say(self.text("stale_button"))
            return
        self.state.data["reason"] = value
        self.ask("confirm", "cw_close_confirm", [(self.text("cw_confirm"), "yes")],
                 case_id=self.tr.ltr(self.state.data["case_id"]),
                 reason=self.text(f"cw_reason_{value}"))

    def on_close_confirm(self, value: str) -> None:
        self.state.step = "closing"
        self.effects.append(CloseCase(self.state.data["case_id"], self.state.data["reason"]))

    # -- a new case ----------------------------------------------------------------------
    def on_newcase_country(self, value: str) -> None:
        if value not in self.ctx.deployment.countries:
            self.say(self.text("stale_button"))
            return
        self.state.data["country"] = value
        self.ask("language", "cw_newcase_language",
                 [(language_name(lang), lang) for lang in self.ctx.deployment.languages])

    def on_newcase_language(self, value: str) -> None:
        if value not in self.ctx.deployment.languages:
            self.say(self.text("stale_button"))
            return
        self.state.data["language"] = value
        country = self.ctx.deployment.country(self.state.data["country"])
        self.ask("timezone", "cw_newcase_timezone", [(tz, tz) for tz in country.timezones])

    def on_newcase_timezone(self, value: str) -> None:
        country = self.ctx.deployment.country(self.state.data["country"])
        if value not in country.timezones:
            self.say(self.text("stale_button"))
            return
        self.state.step = "opening"
        self.effects.append(OpenCase(self.state.data["country"], self.state.data["language"],
                                     value))

    # -- a session -----------------------------------------------------------------------
    def start_schedule(self) -> None:
        cases = [c for c in self.view.cases if c.status in ("invited", "active")]
        if not cases:
            self.say(self.text("cw_no_cases"))
            return
        self.state.flow = "schedule"
        self.ask("case", "cw_schedule_case", [(c.case_id, c.case_id) for c in cases])

    def find(self, case_id: str | None) -> Case | None:
        """A case of this worker's caseload, or None."""
        return next((c for c in self.view.cases if c.case_id == case_id), None)

    def _case(self) -> Case | None:
        return self.find(self.state.data.get("case_id"))

    def on_schedule_case(self, value: str) -> None:
        case = self.find(value)
        if case is None:
            self.say(self.text("stale_button"))
            return
        self.state.data["case_id"] = value
        self.state.step = "when"
        self.say(self.text("cw_schedule_when", timezone=case.timezone))

    def schedule_when(self, text: str) -> None:
        case = self._case()
        if case is None:
            self.reset()
            self.say(self.text("cw_not_found"))
            return
        try:
            at = parse_local(text, case.timezone)
        except LocalTimeError:
            at = None
        if at is None or at <= self.ctx.now:
            self.say(self.text("cw_bad_time"))
            return
        self.state.data["at_local"] = text
        self.state.step = "where"
        self.say(self.text("cw_schedule_where"))

    def schedule_where(self, text: str) -> None:
        if text.startswith(("https://", "http://")):
            self.state.data["online"] = text
        elif len(text) >= 3 and "://" not in text:
            self.state.data["place"] = text
        else:
            self.say(self.text("cw_bad_place"))
            return
        self.ask("duration", "cw_schedule_duration",
                 [(self.tr.minutes(d), str(d)) for d in DURATIONS])

    def on_schedule_duration(self, value: str) -> None:
        if not value.isdigit() or int(value) not in DURATIONS:
            self.say(self.text("stale_button"))
            return
        self.state.data["duration"] = int(value)
        case = self._case()
        language = case.language if case else "en"
        self.ask("interpreter", "cw_schedule_interpreter",
                 [(self.text("cw_no_interpreter"), "none"),
                  (self.tr.language_in_own_words(language), language)])

    def on_schedule_interpreter(self, value: str) -> None:
        data = self.state.data
        self.state.step = "booking"
        self.effects.append(ScheduleSession(
            data["case_id"], data["at_local"], data.get("place"), data.get("online"),
            data["duration"], None if value == "none" else value))


def desk_step(state: DeskState, inbound: DeskInput, view: DeskView,
              ctx: EngineContext) -> tuple[DeskState, list[DeskEffect]]:
    desk = Desk(state, view, ctx)
    desk.handle(inbound)
    return desk.state, desk.effects
