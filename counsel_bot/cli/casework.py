"""Administrator and case-worker commands: case workers, cases, invitations, sessions.

They work while the bot runs on the same data folder: the store is safe for several
processes, and each change that the returnee must hear about is left as a note in the
bot's inbox, which the running bot reads within a second.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from counsel_bot.audit import AuditLog
from counsel_bot.bootstrap import build_app
from counsel_bot.cases.followup import FollowUp
from counsel_bot.cases.lifecycle import Lifecycle
from counsel_bot.cases.model import CLOSE_REASONS
from counsel_bot.cases.registry import CaseError, Registry
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.inbox import NoteBox, open_inbox
from counsel_bot.store.crypto import ShardCipher


def bot_username(registry: Registry) -> str | None:
    """The username the running bot recorded, or COUNSEL_BOT_USERNAME."""
    return registry.bot_username() or os.environ.get("COUNSEL_BOT_USERNAME") or None


def _emit(args: argparse.Namespace, result: dict[str, Any], lines: list[str]) -> None:
    for line in lines:
        print(line)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


@dataclass(frozen=True)
class Admin:
    """What an administrator's command works with."""

    registry: Registry
    inbox: NoteBox
    audit: AuditLog
    lifecycle: Lifecycle

    def record(self, event: str, why: str, **details: str | int | bool | None) -> None:
        self.audit.record("admin", event, why=why, details=details)


def _with_admin(action: Callable[[argparse.Namespace, Admin], int]
                ) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        app = build_app(settings, screening=False)
        try:
            admin = Admin(app.conversations.registry,
                          open_inbox(app.store, settings.data_dir, ShardCipher(app.key)),
                          app.audit, app.conversations.lifecycle)
            return action(args, admin)
        except CaseError as exc:
            if getattr(args, "json", False):
                print(json.dumps({"error": str(exc)}, ensure_ascii=False))
            else:
                print(f"counsel-bot: {exc}")
            return 1
        finally:
            app.close()
    return run


@_with_admin
def caseworker_add(args: argparse.Namespace, admin: Admin) -> int:
    registry = admin.registry
    worker = registry.add_caseworker(args.telegram_id, args.name, args.role, args.backup,
                                     args.language)
    _emit(args, worker.to_dict(), [f"Case worker {worker.telegram_id} registered "
                                   f"({worker.role})."])
    return 0


def _invite_result(registry: Registry, case_id: str, code: str) -> dict[str, Any]:
    username = bot_username(registry)
    link = f"https://t.me/{username}?start={code}" if username else None
    return {"case_id": case_id, "invite_code": code, "invite_link": link}


@_with_admin
def caseworker_web_link(args: argparse.Namespace, admin: Admin) -> int:
    import secrets

    worker = admin.registry.caseworker(args.telegram_id)
    if worker is None:
        raise CaseError(f"no case worker with Telegram ID {args.telegram_id}")
    admin.inbox.post({"type": "web_link", "caseworker": worker.telegram_id,
                      "nonce": secrets.token_hex(8)})
    _emit(args, {"caseworker": worker.telegram_id, "requested": True},
          [f"The running bot will send a sign-in link for the web desk to case worker "
           f"{worker.telegram_id}'s own Telegram chat (single use, 10 minutes)."])
    return 0


@_with_admin
def case_new(args: argparse.Namespace, admin: Admin) -> int:
    registry = admin.registry
    case, invitation = registry.open_case(args.caseworker, args.country, args.language,
                                          args.timezone)
    result = _invite_result(registry, case.case_id, invitation.code)
    lines = [f"Case {case.case_id} opened.",
             f"Invitation (single use, until {invitation.expires:%Y-%m-%d}): "
             f"{result['invite_link'] or invitation.code}"]
    if result["invite_link"] is None:
        lines.append("(Start the bot once, or set COUNSEL_BOT_USERNAME, to get a full link.)")
    _emit(args, result, lines)
    return 0


@_with_admin
def case_invite(args: argparse.Namespace, admin: Admin) -> int:
    registry = admin.registry
    invitation = registry.reinvite(args.case_id)
    result = _invite_result(registry, args.case_id, invitation.code)
    _emit(args, result, [f"New invitation: {result['invite_link'] or invitation.code}"])
    return 0


@_with_admin
def case_show(args: argparse.Namespace, admin: Admin) -> int:
    registry = admin.registry
    case = registry.case(args.case_id)
    if case is None:
        raise CaseError(f"no case {args.case_id}")
    admin.record("case_viewed", "casework", case_id=case.case_id)
    data = case.to_dict()
    data.pop("chat", None)  # the chat ID is for the bot, not for people
    lines = [f"Case {case.case_id}: {case.status}; {case.country}, {case.language}, "
             f"{case.timezone}; case worker {case.caseworker}"]
    lines += [f"  {s.session_id}: {s.at} UTC, {s.duration} min, {s.status}"
              f"{', ' + s.answer if s.answer else ''}" for s in case.sessions]
    if case.checkins:
        lines.append("Check-ins:")
        for c in case.checkins[-10:]:
            comment = f"; comment: {c['comment']}" if c["comment"] else ""
            lines.append(f"  {c['at'][:16]} UTC: wellbeing {c['wellbeing']}/5; needs: "
                         f"{', '.join(c['needs']) or 'none'}{comment}")
    if case.alerts:
        lines.append("Alerts:")
        lines += [f"  {a['alert_id']} {a['at'][:16]} UTC: {a['severity']}, "
                  f"{', '.join(a['categories'])}; {a['status']}" for a in case.alerts]
    for alert in data["alerts"]:
        alert.pop("text", None)  # the returnee's words stay behind "Show details"
    _emit(args, data, lines)
    return 0


@_with_admin
def case_checkins(args: argparse.Namespace, admin: Admin) -> int:
    registry, inbox = admin.registry, admin.inbox
    days = None
    if args.days:
        try:
            days = [int(d) for d in args.days.split(",")]
        except ValueError:
            raise CaseError("--days takes numbers of days after arrival, like 3,7,14,30") from None
    arrival = None
    if args.arrival:
        try:
            arrival = date.fromisoformat(args.arrival)
        except ValueError:
            raise CaseError("--arrival takes a date like 2026-12-01") from None
    case = FollowUp(registry).set_plan(args.case_id, arrival, days, args.monthly)
    inbox.post({"type": "checkins", "case_id": case.case_id})
    result = {"case_id": case.case_id, "arrival": case.arrival, "days": case.checkin_plan,
              "monthly": case.checkin_monthly}
    monthly = "as deployed" if case.checkin_monthly is None else case.checkin_monthly
    _emit(args, result, [f"Check-ins for {case.case_id}: arrival {case.arrival or 'not set'}, "
                         f"days {case.checkin_plan or 'as deployed'}, monthly {monthly}"])
    return 0


@_with_admin
def session_schedule(args: argparse.Namespace, admin: Admin) -> int:
    registry, inbox = admin.registry, admin.inbox
    _case, session = registry.schedule_session(
        args.case_id, args.at, place=args.place, online=args.online, duration=args.duration,
        interpreter=args.interpreter)
    inbox.post({"type": "session", "kind": "scheduled", "session_id": session.session_id})
    _emit(args, {"session_id": session.session_id, "at_utc": session.at},
          [f"Session {session.session_id} scheduled ({session.at} UTC)."])
    return 0


@_with_admin
def session_move(args: argparse.Namespace, admin: Admin) -> int:
    registry, inbox = admin.registry, admin.inbox
    _case, session = registry.move_session(args.session_id, args.at)
    inbox.post({"type": "session", "kind": "moved", "session_id": session.session_id})
    _emit(args, {"session_id": session.session_id, "at_utc": session.at},
          [f"Session {session.session_id} moved to {session.at} UTC."])
    return 0


@_with_admin
def session_cancel(args: argparse.Namespace, admin: Admin) -> int:
    registry, inbox = admin.registry, admin.inbox
    _case, session = registry.cancel_session(args.session_id)
    inbox.post({"type": "session", "kind": "cancelled", "session_id": session.session_id})
    _emit(args, {"session_id": session.session_id, "status": session.status},
          [f"Session {session.session_id} cancelled."])
    return 0


@_with_admin
def case_close(args: argparse.Namespace, admin: Admin) -> int:
    case = admin.lifecycle.close(args.case_id, args.reason, args.note, datetime.now(UTC))
    admin.record("case_closed", "deceased" if args.reason == "deceased" else "casework",
                 case_id=case.case_id, reason=args.reason)
    admin.inbox.post({"type": "closed", "case_id": case.case_id})
    lines = [f"Case {case.case_id} closed ({args.reason}). Everything scheduled for it is "
             "cancelled."]
    if args.reason == "deceased":
        lines += ["Nothing will be sent to the person's chat again. What to do now:",
                  "1. Inform the authorities, and the family where they do not know yet.",
                  "2. Inform the other services that were helping the person.",
                  "3. Support is available for you too: please talk to your supervisor."]
    _emit(args, {"case_id": case.case_id, "status": case.status, "reason": args.reason},
          lines)
    return 0


@_with_admin
def case_reopen(args: argparse.Namespace, admin: Admin) -> int:
    case = admin.lifecycle.reopen(args.case_id)
    admin.record("case_reopened", "casework", case_id=case.case_id)
    admin.inbox.post({"type": "reopened", "case_id": case.case_id})
    _emit(args, {"case_id": case.case_id, "status": case.status},
          [f"Case {case.case_id} is open again ({case.status})."])
    return 0


@_with_admin
def case_export(args: argparse.Namespace, admin: Admin) -> int:
    document = admin.lifecycle.export(args.case_id)
    admin.record("case_exported", "returnee_request", case_id=args.case_id)
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


@_with_admin
def case_erase(args: argparse.Namespace, admin: Admin) -> int:
    tombstone = admin.lifecycle.erase(args.case_id, datetime.now(UTC), "returnee_request")
    admin.record("case_erased", "returnee_request", case_id=args.case_id)
    admin.inbox.post({"type": "erased", "case_id": args.case_id})
    _emit(args, tombstone, [f"Case {args.case_id} is erased. A tombstone without personal "
                            "data remains for the audit trail."])
    return 0


def add_commands(commands: Any) -> None:
    def with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--json", action="store_true",
                            help="also print one JSON object on the last line")
        return parser

    worker = commands.add_parser("caseworker", help="case workers").add_subparsers(
        dest="what", required=True)
    add = with_json(worker.add_parser("add", help="register a case worker"))
    add.add_argument("--name", required=True)
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--role", default="caseworker",
                     choices=("caseworker", "supervisor", "admin"))
    add.add_argument("--backup", type=int, help="Telegram ID of the backup for alerts")
    add.add_argument("--language", help="the language the case worker reads")
    add.set_defaults(run=caseworker_add)
    link = with_json(worker.add_parser(
        "web-link", help="have the running bot send a web desk sign-in link to the worker"))
    link.add_argument("telegram_id", type=int)
    link.set_defaults(run=caseworker_web_link)

    case = commands.add_parser("case", help="cases").add_subparsers(dest="what", required=True)
    new = with_json(case.add_parser("new", help="open a case and get its invitation link"))
    new.add_argument("--caseworker", type=int, required=True, help="their Telegram ID")
    new.add_argument("--country", required=True, help="country code, as configured")
    new.add_argument("--language", required=True)
    new.add_argument("--timezone", required=True, help="e.g. Africa/Dakar")
    new.set_defaults(run=case_new)
    invite = with_json(case.add_parser("invite", help="a new invitation for a case"))
    invite.add_argument("case_id")
    invite.set_defaults(run=case_invite)
    show = with_json(case.add_parser("show", help="a case and its sessions"))
    show.add_argument("case_id")
    show.set_defaults(run=case_show)

    checkins = with_json(case.add_parser("checkins", help="a case's check-in plan"))
    checkins.add_argument("case_id")
    checkins.add_argument("--arrival", help="date of arrival, YYYY-MM-DD")
    checkins.add_argument("--days", help="days after arrival, like 3,7,14,30")
    checkins.add_argument("--monthly", action=argparse.BooleanOptionalAction, default=None,
                          help="then monthly until closure")
    checkins.set_defaults(run=case_checkins)

    close = with_json(case.add_parser("close", help="close a case"))
    close.add_argument("case_id")
    close.add_argument("--reason", required=True, choices=CLOSE_REASONS)
    close.add_argument("--note", help="a note for the file (kept encrypted)")
    close.set_defaults(run=case_close)
    reopen = with_json(case.add_parser("reopen", help="reopen a closed case (not after a death)"))
    reopen.add_argument("case_id")
    reopen.set_defaults(run=case_reopen)
    export = case.add_parser("export", help="the whole case as one JSON document")
    export.add_argument("case_id")
    export.set_defaults(run=case_export)
    erase = with_json(case.add_parser("erase", help="erase a case for good (confirms /delete)"))
    erase.add_argument("case_id")
    erase.set_defaults(run=case_erase)

    session = commands.add_parser("session", help="counselling sessions").add_subparsers(
        dest="what", required=True)
    schedule = with_json(session.add_parser("schedule", help="schedule a session"))
    schedule.add_argument("case_id")
    schedule.add_argument("--at", required=True, help='"YYYY-MM-DD HH:MM", returnee\'s time')
    where = schedule.add_mutually_exclusive_group(required=True)
    where.add_argument("--place")
    where.add_argument("--online", help="https link")
    schedule.add_argument("--duration", type=int, default=60, help="minutes")
    schedule.add_argument("--interpreter", help="language code of the interpreter")
    schedule.set_defaults(run=session_schedule)
    move = with_json(session.add_parser("move", help="move a session"))
    move.add_argument("session_id")
    move.add_argument("--at", required=True, help='"YYYY-MM-DD HH:MM", returnee\'s time')
    move.set_defaults(run=session_move)
    cancel = with_json(session.add_parser("cancel", help="cancel a session"))
    cancel.add_argument("session_id")
    cancel.set_defaults(run=session_cancel)
