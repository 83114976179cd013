"""The web desk's pages, on Starlette with Jinja2 templates.

Starlette rather than FastAPI: the desk serves HTML forms, not a JSON API, so FastAPI's
validation and OpenAPI layers would add dependencies and nothing used; Starlette (by Encode,
which also keeps uvicorn and httpx) is small, typed, and what FastAPI itself stands on.

Every request: the session cookie is looked up in the store (server-side sessions), the
idle time-out applied, every POST checked for its CSRF token, and the answer sent with a
strict content security policy and `Cache-Control: no-store`. Nothing personal goes into a
URL (case and session IDs are random and reveal nothing) or into the logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.numbers import format_percent
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counsel_bot.audit import AuditLog
from counsel_bot.cases.model import CLOSE_REASONS, CaseWorker
from counsel_bot.cases.registry import CaseError
from counsel_bot.cases.signin import SignInLinks
from counsel_bot.i18n.catalogs import Translator, language_name
from counsel_bot.runtime.conversations import ConversationService
from counsel_bot.runtime.inbox import NoteBox
from counsel_bot.web import charts
from counsel_bot.web.auth import (
    MAX_SECOND_FACTOR_TRIES,
    PRE_COOKIE,
    SESSION_COOKIE,
    AttemptLimiter,
    DeskSession,
    SecondFactors,
    Sessions,
    same,
)
from counsel_bot.web.service import SORTS, STATUSES, DeskService, NotVisible
from counsel_bot.web.texts import N_, load_desk_texts

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]
DURATIONS = (30, 45, 60, 90)
NOTICES = {  # ?done= codes: what just happened, said on the page it leads to
    "acked": N_("The alert is acknowledged. Its escalation is stopped."),
    "false_alarm": N_("Marked as a false alarm. The alert is acknowledged, and its words "
                      "are kept to improve screening."),
    "false_alarm_no_words": N_("Marked as a false alarm. The alert is acknowledged."),
    "scheduled": N_("The session is scheduled. The returnee will be told."),
    "moved": N_("The session is moved. The returnee will be told."),
    "cancelled": N_("The session is cancelled. The returnee will be told."),
    "closed": N_("The case is closed. Everything scheduled for it is cancelled."),
    "plan": N_("The check-in plan is saved."),
    "second_factor": N_("The second factor is on. You will be asked for a code at each "
                        "sign-in."),
    "signed_out": N_("You are signed out."),
    "expired": N_("Your session ended after 30 minutes without activity. Please sign in "
                  "again with a new link."),
}
ERRORS = {  # ?error= codes
    "bad_time": N_("That time does not exist in the returnee's time zone or has passed."),
    "bad_details": N_("This could not be done: check the place or link (https://), the "
                      "duration and the interpreter's language."),
    "failed": N_("This could not be done: the case may have changed meanwhile."),
    "bad_code": N_("That code is not right. Please try again."),
    "bad_plan": N_("Check-in days must be numbers from 1 to 366, separated by commas."),
}
REFUSALS = {
    "unknown": N_("This sign-in link is not valid. Ask the bot for a new one with /web."),
    "used": N_("This sign-in link was used already. Ask the bot for a new one with /web."),
    "expired": N_("This sign-in link has expired (links last 10 minutes). Ask the bot for a "
                  "new one with /web."),
    "not_worker": N_("This link belongs to nobody registered as a case worker any more."),
    "csrf": N_("The form was out of date. Please open your sign-in link again."),
}


PURPOSES = {
    "counselling": N_("keeping information for counselling"),
    "safety_alerts": N_("safety alerts to the case worker"),
    "checkins": N_("check-in messages"),
}


class SecurityHeaders:
    """Adds the security headers to every response (a plain ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in SECURITY_HEADERS if k not in names]]
            await send(message)
        await self.app(scope, receive, with_headers)


@dataclass
class Page:
    """One request's reader of the desk: who, in which language, with which session."""

    request: Request
    form: dict[str, str]
    session: DeskSession | None
    worker: CaseWorker | None
    lang: str
    tr: Translator
    now: datetime

    @property
    def me(self) -> CaseWorker:
        assert self.worker is not None
        return self.worker


Handler = Callable[[Page], Response]


class WebDesk:
    def __init__(self, conversations: ConversationService, audit: AuditLog, inbox: NoteBox,
                 limiter: AttemptLimiter | None = None, locales_dir: Path | None = None) -> None:
        """The desk reads the time from the conversations' clock, like the case classes;
        its texts from `locales_dir` (COUNSEL_BOT_LOCALES_DIR), else the packaged ones."""

        def clock() -> datetime:
            return conversations.clock()

        self.conversations = conversations
        self.context = conversations.context
        self.deployment = self.context.deployment
        self.service = DeskService(conversations, audit, inbox, clock)
        self.links = SignInLinks(conversations.store, clock)
        self.sessions = Sessions(conversations.store, clock)
        self.factors = SecondFactors(conversations.store, clock)
        self.limiter = limiter or AttemptLimiter()
        self.clock = clock
        self.languages = tuple(self.deployment.languages)
        locales = locales_dir or Path(str(resources.files("counsel_bot.locales")))
        self.texts = load_desk_texts(locales, self.languages)
        templates = resources.files("counsel_bot.web") / "templates"
        self.env = Environment(loader=FileSystemLoader(str(templates)),
                               autoescape=select_autoescape(["html"]))

    # -- plumbing ------------------------------------------------------------------------
    def app(self) -> Starlette:
        static = str(resources.files("counsel_bot.web") / "static")
        r = self.route
        routes = [
            Route("/", r(self.home)),
            Route("/signin", r(self.signin_page, signed_in=False)),
            Route("/signin", r(self.signin, signed_in=False), methods=["POST"]),
            Route("/signin/second", r(self.second_page, signed_in=False)),
            Route("/signin/second", r(self.second, signed_in=False), methods=["POST"]),
            Route("/signout", r(self.signout), methods=["POST"]),
            Route("/language", r(self.language), methods=["POST"]),
            Route("/alerts", r(self.alerts)),
            Route("/alerts/list", r(self.alert_list)),
            Route("/alerts/{case_id}/{alert_id}/ack", r(self.ack), methods=["POST"]),
            Route("/alerts/{case_id}/{alert_id}/words", r(self.words), methods=["POST"]),
            Route("/alerts/{case_id}/{alert_id}/false-alarm", r(self.false_alarm),
                  methods=["POST"]),
            Route("/cases", r(self.cases)),
            Route("/cases/{case_id}", r(self.case)),
            Route("/cases/{case_id}/local-time", r(self.local_time)),
            Route("/cases/{case_id}/sessions", r(self.schedule), methods=["POST"]),
            Route("/cases/{case_id}/sessions/{session_id}/move", r(self.move),
                  methods=["POST"]),
            Route("/cases/{case_id}/sessions/{session_id}/cancel", r(self.cancel),
                  methods=["POST"]),
            Route("/cases/{case_id}/close", r(self.close), methods=["POST"]),
            Route("/cases/{case_id}/plan", r(self.plan), methods=["POST"]),
            Route("/cases/{case_id}/export", r(self.export), methods=["POST"]),
            Route("/security", r(self.security)),
            Route("/security/second-factor", r(self.second_begin), methods=["POST"]),
            Route("/security/second-factor/confirm", r(self.second_confirm),
                  methods=["POST"]),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(SecurityHeaders)
        return app

    def route(self, handler: Handler, *, signed_in: bool = True
              ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            if request.method == "POST":
                form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            return await run_in_threadpool(self._run, handler, request, form, signed_in)
        return endpoint

    def _run(self, handler: Handler, request: Request, form: dict[str, str],
             signed_in: bool) -> Response:
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        worker = (self.conversations.registry.caseworker(session.worker)
                  if session is not None else None)
        if session is not None and worker is None:  # removed as a case worker meanwhile
            self.sessions.end(session)
            session = None
        page = self._page(request, form, session, worker)
        if signed_in:
            if session is None or not session.signed_in:
                expired = SESSION_COOKIE in request.cookies
                return self.redirect("/signin" + ("?done=expired" if expired else ""))
            if request.method == "POST" and not self._csrf_ok(page, session.csrf):
                return self.refuse(page, 403)
        try:
            return handler(page)
        except NotVisible:
            return self.refuse(page, 404)

    def _page(self, request: Request, form: dict[str, str], session: DeskSession | None,
              worker: CaseWorker | None) -> Page:
        lang = session.lang if session and session.lang else None
        if lang is None and worker is not None and worker.language in self.languages:
            lang = worker.language
        if lang is None:
            accepted = [part.split(";")[0].strip().replace("-", "_")
                        for part in request.headers.get("accept-language", "").split(",")]
            lang = negotiate_locale(accepted, list(self.languages)) or \
                self.deployment.default_language
        lang = lang if lang in self.languages else self.deployment.default_language
        return Page(request, form, session, worker, lang, self.texts[lang], self.clock())

    @staticmethod
    def _csrf_ok(page: Page, expected: str | None) -> bool:
        given = page.form.get("csrf") or page.request.headers.get("x-csrf-token")
        return same(given, expected)

    @staticmethod
    def redirect(url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def render(self, page: Page, template: str, status: int = 200, **values: Any) -> Response:
        tr, bot = page.tr, self.context.translator(page.lang)
        system = self.context.dialogs.system

        def sys_text(name: str, fallback: str | None = None, **values: object) -> str:
            return bot(system[name], **values) if name in system else (fallback or name)

        def countdown(deadline: datetime) -> str:
            seconds = int((deadline - page.now).total_seconds())
            text = tr("{time} left") if seconds >= 0 else tr("{time} overdue")
            seconds = abs(seconds)
            clock = f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
            return text.format(time=clock)

        def percent(share: float | None) -> str:
            if share is None:
                return tr("none")
            return format_percent(share, locale=Locale.parse(page.lang))

        def when(at: datetime, timezone: str = "UTC") -> str:
            return tr.when(at, timezone)

        def day(at: datetime | date, timezone: str = "UTC") -> str:
            if not isinstance(at, datetime):
                at = datetime(at.year, at.month, at.day, 12, tzinfo=UTC)
            return tr.date(at, timezone)

        notice = page.request.query_params.get("done")
        error = page.request.query_params.get("error")
        values.setdefault("notice", tr(NOTICES[notice]) if notice in NOTICES else None)
        values.setdefault("error", tr(ERRORS[error]) if error in ERRORS else None)
        html = self.env.get_template(template).render(
            _=tr, gettext=tr, sys_text=sys_text, when=when, day=day, number=tr.number,
            iso=lambda at: at.astimezone(UTC).isoformat(), page=page, lang=page.lang,
            rtl=tr.rtl, me=page.worker, supervises=page.worker is not None
            and self.service.supervises(page.worker),
            csrf=page.session.csrf if page.session else None,
            csrf_headers=json.dumps({"X-CSRF-Token": page.session.csrf})
            if page.session else None,
            languages=[(code, language_name(code)) for code in self.languages],
            now=page.now, countdown=countdown, percent=percent, parse=datetime.fromisoformat,
            language_of=tr.language_in_own_words, minutes_text=tr.minutes,
            names={w.telegram_id: w.name for w in self.conversations.registry.caseworkers()},
            purposes={k: tr(v) for k, v in PURPOSES.items()}, **values)
        return HTMLResponse(html, status_code=status)

    def refuse(self, page: Page, status: int) -> Response:
        messages = {403: N_("This form was refused: it lacks its security token. Please go "
                            "back, reload the page and try again."),
                    404: N_("There is no such page, or it is not yours to see."),
                    429: N_("Too many sign-in attempts. Please wait a few minutes.")}
        return self.render(page, "error.html", status, message=page.tr(messages[status]))

    def _fragment(self, page: Page) -> bool:
        return page.request.headers.get("hx-request") == "true"

    def _param(self, page: Page, name: str) -> str:
        return str(page.request.path_params[name])

    # -- signing in and out --------------------------------------------------------------
    def signin_page(self, page: Page) -> Response:
        if page.session is not None and page.session.signed_in:
            return self.redirect("/alerts")
        import secrets

        pre = secrets.token_urlsafe(32)
        response = self.render(page, "signin.html", pre=pre,
                               refusal=page.request.query_params.get("refused"),
                               refusals={k: page.tr(v) for k, v in REFUSALS.items()})
        response.set_cookie(PRE_COOKIE, pre, httponly=True, secure=True, samesite="strict",
                            path="/")
        return response

    def _client(self, page: Page) -> str:
        return page.request.client.host if page.request.client else "?"

    def signin(self, page: Page) -> Response:
        if not self._csrf_ok(page, page.request.cookies.get(PRE_COOKIE)):
            return self.redirect("/signin?refused=csrf")
        if not self.limiter.allow(self._client(page)):
            self.service.audit_log.record("web", "web_signin_refused", why="casework",
                                          details={"reason": "rate_limited"}, at=page.now)
            return self.refuse(page, 429)
        found = self.links.redeem(page.form.get("code", "").strip())
        worker = (self.conversations.registry.caseworker(found) if isinstance(found, int)
                  else None)
        if worker is None:
            reason = found if isinstance(found, str) else "not_worker"
            self.service.audit_log.record("web", "web_signin_refused", why="casework",
                                          details={"reason": reason}, at=page.now)
            return self.redirect(f"/signin?refused={reason}")
        if page.session is not None:
            self.sessions.end(page.session)  # a fresh session ID at every sign-in
        second = self.factors.enabled(worker.telegram_id)
        cookie, _session = self.sessions.create(worker.telegram_id,
                                                "second_factor" if second else "in")
        if not second:
            self.service.audit(worker, "web_signed_in", "casework", role=worker.role,
                               kind="link")
        response = self.redirect("/signin/second" if second else "/alerts")
        response.set_cookie(SESSION_COOKIE, cookie, httponly=True, secure=True,
                            samesite="strict", path="/")
        response.delete_cookie(PRE_COOKIE, path="/", secure=True, httponly=True,
                               samesite="strict")
        return response

    def second_page(self, page: Page) -> Response:
        if page.session is None or page.session.stage != "second_factor":
            return self.redirect("/signin")
        return self.render(page, "second_factor.html")

    def second(self, page: Page) -> Response:
        session, worker = page.session, page.worker
        if session is None or worker is None or session.stage != "second_factor":
            return self.redirect("/signin")
        if not self._csrf_ok(page, session.csrf):
            return self.refuse(page, 403)
        if self.factors.verify(worker.telegram_id, page.form.get("code", "")):
            self.sessions.update(session, stage="in", tries=0)
            self.service.audit(worker, "web_signed_in", "casework", role=worker.role,
                               kind="link_totp")
            return self.redirect("/alerts")
        tries = session.tries + 1
        self.service.audit_log.record(f"caseworker:{worker.telegram_id}",
                                      "web_signin_refused", why="casework",
                                      details={"by": worker.telegram_id,
                                               "reason": "second_factor"}, at=page.now)
        if tries >= MAX_SECOND_FACTOR_TRIES:
            self.sessions.end(session)
            return self.redirect("/signin?refused=unknown")
        self.sessions.update(session, tries=tries)
        return self.redirect("/signin/second?error=bad_code")

    def signout(self, page: Page) -> Response:
        assert page.session is not None
        self.sessions.end(page.session)
        self.service.audit(page.me, "web_signed_out", "casework")
        response = self.redirect("/signin?done=signed_out")
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True,
                               samesite="strict")
        return response

    def language(self, page: Page) -> Response:
        lang = page.form.get("lang")
        if page.session is not None and lang in self.languages:
            self.sessions.update(page.session, lang=lang)
        back = page.form.get("back", "/alerts")
        return self.redirect(back if back.startswith("/") and not back.startswith("//")
                             else "/alerts")

    # -- alerts --------------------------------------------------------------------------
    def home(self, page: Page) -> Response:
        return self.redirect("/alerts")

    def _alert_values(self, page: Page) -> dict[str, Any]:
        return {"alerts": self.service.open_alerts(page.me)}

    def alerts(self, page: Page) -> Response:
        weeks = self.service.ack_weeks(page.me)
        tr = page.tr
        groups = [(self._short(page, w.week), w.median_share, w.worst_share) for w in weeks]
        chart = charts.against_limit(
            groups, tr("Acknowledgement times against the deadline, by week"),
            tr("For each of the last 8 weeks: the typical (median) and the slowest time to "
               "acknowledge an alert, as a share of its deadline. Above the dashed line is "
               "late. The table below gives the same figures."),
            tr("deadline"), [(0.0, "0%"), (0.5, "50%"), (1.0, "100%"), (2.0, "200%")])
        return self.render(page, "alerts.html", chart=chart, weeks=weeks,
                           **self._alert_values(page))

    def _short(self, page: Page, day: date) -> str:
        from babel.dates import format_skeleton

        return format_skeleton("MMMd", day, locale=Locale.parse(page.lang))

    def alert_list(self, page: Page) -> Response:
        return self.render(page, "_alert_list.html", **self._alert_values(page))

    def _alert_ids(self, page: Page) -> tuple[str, str]:
        return self._param(page, "case_id"), self._param(page, "alert_id")

    def ack(self, page: Page) -> Response:
        case_id, alert_id = self._alert_ids(page)
        self.service.acknowledge(page.me, case_id, alert_id)
        return self.redirect(self._back(page, "/alerts") + "?done=acked")

    def _back(self, page: Page, default: str) -> str:
        back = page.form.get("back", "")
        return back if back.startswith("/") and not back.startswith("//") else default

    def words(self, page: Page) -> Response:
        case_id, alert_id = self._alert_ids(page)
        text = self.service.words(page.me, case_id, alert_id)
        template = "_words.html" if self._fragment(page) else "words.html"
        return self.render(page, template, text=text, case_id=case_id, alert_id=alert_id)

    def false_alarm(self, page: Page) -> Response:
        case_id, alert_id = self._alert_ids(page)
        kept = self.service.false_alarm(page.me, case_id, alert_id)
        done = "false_alarm" if kept else "false_alarm_no_words"
        return self.redirect(self._back(page, "/alerts") + f"?done={done}")

    # -- caseload ------------------------------------------------------------------------
    def cases(self, page: Page) -> Response:
        query = page.request.query_params
        status = query.get("status") if query.get("status") in STATUSES else None
        sort = query.get("sort") if query.get("sort") in SORTS else "case"
        rows = self.service.rows(page.me, status, query.get("alerts") == "1",
                                 query.get("unreachable") == "1", sort)
        counts = self.service.by_status(page.me)
        bot = self.context.translator(page.lang)
        system = self.context.dialogs.system
        items = [charts.Bar(bot(system[f"cw_status_{s}"]), n, page.tr.number(n))
                 for s, n in counts.items()]
        total = sum(counts.values())
        chart = charts.bars(items, page.tr("Caseload by status"),
                            page.tr("{count} cases in all; the table below gives the number "
                                    "in each status.", count=page.tr.number(total)))
        return self.render(page, "cases.html", rows=rows, chart=chart, counts=counts,
                           statuses=STATUSES, sorts=SORTS, status_filter=status, sort=sort,
                           alerts_only=query.get("alerts") == "1",
                           unreachable_only=query.get("unreachable") == "1")

    # -- one case ------------------------------------------------------------------------
    def case(self, page: Page) -> Response:
        case, events = self.service.view(page.me, self._param(page, "case_id"))
        tr = page.tr
        zone = ZoneInfo(case.timezone)
        points = [(self._short(page, datetime.fromisoformat(c["at"]).astimezone(zone).date()),
                   float(c["wellbeing"])) for c in case.checkins]
        chart = charts.line(
            points, 1, 5, tr("Wellbeing at each check-in"),
            tr("{count} check-ins, each scored from 1 (very bad) to 5 (very good); the table "
               "below gives each date and score.", count=tr.number(len(points))),
            [(v, tr.number(v)) for v in (1, 2, 3, 4, 5)]) if points else None
        if case.status == "closed" and case.closed_reason == "deceased" and \
                page.request.query_params.get("done") == "closed":
            self.service.death_protocol_shown(page.me, case)
        country = self.deployment.countries.get(case.country)
        return self.render(page, "case.html", case=case, events=events, chart=chart,
                           reasons=CLOSE_REASONS, durations=DURATIONS,
                           country=self.context.translator(page.lang).content(country.name)
                           if country else case.country,
                           case_language=language_name(case.language),
                           interpreter_name=tr.language_in_own_words(case.language),
                           minutes=[(d, tr.minutes(d)) for d in DURATIONS],
                           deployment=self.deployment)

    def local_time(self, page: Page) -> Response:
        case = self.service.case_for(page.me, self._param(page, "case_id"))
        at = self.service.local_preview(case, page.request.query_params.get("at", ""))
        return self.render(page, "_local_time.html", at=at, case=case)

    def _case_action(self, page: Page, action: Callable[[str], str]) -> Response:
        case_id = self._param(page, "case_id")
        try:
            done = action(case_id)
        except CaseError as exc:
            code = str(exc) if str(exc) in ERRORS else "failed"
            return self.redirect(f"/cases/{case_id}?error={code}")
        return self.redirect(f"/cases/{case_id}?done={done}")

    def schedule(self, page: Page) -> Response:
        form = page.form

        def act(case_id: str) -> str:
            duration = int(form["duration"]) if form.get("duration", "").isdigit() else 0
            self.service.schedule(page.me, case_id, form.get("at", ""), form.get("where", ""),
                                  duration, form.get("interpreter") or None)
            return "scheduled"
        return self._case_action(page, act)

    def move(self, page: Page) -> Response:
        def act(case_id: str) -> str:
            self.service.move(page.me, case_id, self._param(page, "session_id"),
                              page.form.get("at", ""))
            return "moved"
        return self._case_action(page, act)

    def cancel(self, page: Page) -> Response:
        def act(case_id: str) -> str:
            self.service.cancel(page.me, case_id, self._param(page, "session_id"))
            return "cancelled"
        return self._case_action(page, act)

    def close(self, page: Page) -> Response:
        def act(case_id: str) -> str:
            self.service.close(page.me, case_id, page.form.get("reason", ""),
                               page.form.get("note", "").strip() or None)
            return "closed"
        return self._case_action(page, act)

    def plan(self, page: Page) -> Response:
        form = page.form

        def act(case_id: str) -> str:
            arrival = None
            try:
                if form.get("arrival"):
                    arrival = date.fromisoformat(form["arrival"])
                days_text = form.get("days", "").replace(" ", "")
                days = [int(d) for d in days_text.split(",")] if days_text else None
            except ValueError:
                raise CaseError("bad_plan") from None
            try:
                self.service.set_plan(page.me, case_id, arrival, days,
                                      form.get("monthly") == "1")
            except CaseError:
                raise CaseError("bad_plan") from None
            return "plan"
        return self._case_action(page, act)

    def export(self, page: Page) -> Response:
        case_id = self._param(page, "case_id")
        document = self.service.export(page.me, case_id)
        return Response(json.dumps(document, ensure_ascii=False, indent=2),
                        media_type="application/json",
                        headers={"content-disposition":
                                 f'attachment; filename="case-{case_id}.json"'})

    # -- the second factor ---------------------------------------------------------------
    def security(self, page: Page) -> Response:
        worker = page.me
        pending = self.factors.pending_secret(worker.telegram_id)
        uri = (self.factors.provisioning_uri(pending, f"desk-{worker.telegram_id}",
                                             self.deployment.organisation)
               if pending else None)
        grouped = " ".join(pending[i:i + 4] for i in range(0, len(pending), 4)) \
            if pending else None
        return self.render(page, "security.html",
                           enabled=self.factors.enabled(worker.telegram_id),
                           secret=grouped, uri=uri)

    def second_begin(self, page: Page) -> Response:
        self.factors.begin(page.me.telegram_id)
        return self.redirect("/security")

    def second_confirm(self, page: Page) -> Response:
        if self.factors.confirm(page.me.telegram_id, page.form.get("code", "")):
            self.service.audit(page.me, "web_second_factor_set", "casework", kind="totp")
            return self.redirect("/security?done=second_factor")
        return self.redirect("/security?error=bad_code")
