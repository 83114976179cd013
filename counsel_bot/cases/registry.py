"""Case work on the store: case workers, cases, invitations and sessions.

Used alike by the admin command line and by the running bot, in separate processes: each
change is one transaction on the shards it touches, taken in a fixed order (chat, then case,
then invitation, caseload or the case-worker list) so that two processes never deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from babel import Locale, UnknownLocaleError
from tinydb import TinyDB
from tinydb.table import Document

from counsel_bot.cases import ids
from counsel_bot.cases.localtime import LocalTimeError, parse_local, zone
from counsel_bot.cases.model import ROLES, Case, CaseWorker, Session
from counsel_bot.config.deployment import Deployment
from counsel_bot.store.port import Store

T = TypeVar("T")
INVITE_LIFETIME = timedelta(days=14)
CASEWORKERS = "caseworkers"
BOT_SHARD = "bot"
MIN_DURATION, MAX_DURATION = 15, 480


class CaseError(ValueError):
    """A request that cannot be carried out, said plainly."""


@dataclass(frozen=True)
class Invitation:
    code: str
    case_id: str
    expires: datetime

    def link(self, bot_username: str) -> str:
        return f"https://t.me/{bot_username}?start={self.code}"


def case_shard(case_id: str) -> str:
    return f"case:{case_id}"


def _load_case(db: TinyDB) -> Case | None:
    doc = db.table("case").get(doc_id=1)
    return Case.from_dict(dict(doc)) if isinstance(doc, dict) else None


def _save_case(db: TinyDB, case: Case) -> None:
    db.table("case").upsert(Document(case.to_dict(), doc_id=1))


class Registry:
    def __init__(self, store: Store, deployment: Deployment,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.deployment = deployment
        self.clock = clock

    # -- the bot itself ----------------------------------------------------------------------
    def record_bot_username(self, username: str) -> None:
        """The running bot's username, so the command line can print full invitation links."""
        with self.store.transaction(BOT_SHARD) as db:
            db.table("bot").upsert(Document({"username": username}, doc_id=1))

    def bot_username(self) -> str | None:
        with self.store.snapshot(BOT_SHARD) as db:
            doc = db.table("bot").get(doc_id=1)
        return str(doc["username"]) if isinstance(doc, dict) else None

    # -- case workers ----------------------------------------------------------------------
    def add_caseworker(self, telegram_id: int, name: str, role: str = "caseworker",
                       backup: int | None = None, language: str | None = None) -> CaseWorker:
        if role not in ROLES:
            raise CaseError(f"role must be one of {', '.join(ROLES)}")
        if not name.strip():
            raise CaseError("a case worker needs a name")
        if backup == telegram_id:
            raise CaseError("a case worker cannot be their own backup")
        language = language or self.deployment.default_language
        if language not in self.deployment.languages:
            raise CaseError(f"language must be one of {', '.join(self.deployment.languages)}")
        worker = CaseWorker(telegram_id, name.strip(), role, backup, language)
        with self.store.transaction(CASEWORKERS) as db:
            table = db.table("caseworkers")
            table.upsert(Document(worker.to_dict(), doc_id=telegram_id))
        return worker

    def caseworker(self, telegram_id: int) -> CaseWorker | None:
        with self.store.snapshot(CASEWORKERS) as db:
            doc = db.table("caseworkers").get(doc_id=telegram_id)
        return CaseWorker(**dict(doc)) if isinstance(doc, dict) else None

    def caseworkers(self) -> list[CaseWorker]:
        with self.store.snapshot(CASEWORKERS) as db:
            return [CaseWorker(**dict(d)) for d in db.table("caseworkers").all()]

    # -- cases -----------------------------------------------------------------------------
    def open_case(self, caseworker: int, country: str, language: str,
                  timezone: str) -> tuple[Case, Invitation]:
        if self.caseworker(caseworker) is None:
            raise CaseError(f"no case worker with Telegram ID {caseworker}: add them first")
        if country not in self.deployment.countries:
            raise CaseError(f"country {country!r} has no configuration; known: "
                            f"{', '.join(sorted(self.deployment.countries))}")
        if language not in self.deployment.languages:
            raise CaseError(f"language must be one of {', '.join(self.deployment.languages)}")
        try:
            zone(timezone)
        except LocalTimeError as exc:
            raise CaseError(str(exc)) from None
        case = Case(ids.new_case_id(), caseworker, country, language, timezone,
                    created_at=self.clock().isoformat())
        with self.store.transaction(case_shard(case.case_id)) as db:
            if _load_case(db) is not None:
                raise CaseError("case ID collision; try again")
            _save_case(db, case)
            invitation = self._new_invitation(case.case_id)
        with self.store.transaction(f"caseload:{caseworker}") as db:
            db.table("cases").insert({"case_id": case.case_id})
        return case, invitation

    def _new_invitation(self, case_id: str) -> Invitation:
        invitation = Invitation(ids.new_invite_code(), case_id, self.clock() + INVITE_LIFETIME)
        with self.store.transaction(f"invite:{invitation.code}") as db:
            db.table("invite").upsert(Document(
                {"case_id": case_id, "expires": invitation.expires.isoformat(),
                 "used_at": None}, doc_id=1))
        return invitation

    def reinvite(self, case_id: str) -> Invitation:
        with self.store.transaction(case_shard(case_id)) as db:
            case = self._require(db, case_id)
            if case.status == "closed":
                raise CaseError(f"case {case_id} is closed")
            return self._new_invitation(case_id)

    def case(self, case_id: str) -> Case | None:
        if not ids.CASE_ID.match(case_id):
            return None
        with self.store.snapshot(case_shard(case_id)) as db:
            return _load_case(db)

    def caseload(self, caseworker: int) -> list[Case]:
        with self.store.snapshot(f"caseload:{caseworker}") as db:
            case_ids = [d["case_id"] for d in db.table("cases").all()]
        return [c for c in map(self.case, case_ids) if c is not None]

    def case_of_chat(self, chat: str, *, closed: bool = False) -> Case | None:
        """The open case a chat belongs to, found from the case files (a slow scan over
        every caseload: only for recovering a chat whose own record was damaged). With
        `closed`, a closed case of the chat when it has no open one."""
        found = None
        for worker in self.caseworkers():
            for case in self.caseload(worker.telegram_id):
                if case.chat != chat:
                    continue
                if case.status != "closed":
                    return case
                if closed and found is None:
                    found = case
        return found

    def change_case(self, case_id: str, change: Callable[[Case], T]) -> T:
        """Load a case, apply `change`, save it: one transaction on the case's shard."""
        with self.store.transaction(case_shard(case_id)) as db:
            case = self._require(db, case_id)
            result = change(case)
            _save_case(db, case)
            return result

    def _require(self, db: TinyDB, case_id: str) -> Case:
        case = _load_case(db)
        if case is None:
            raise CaseError(f"no case {case_id}")
        return case

    def redeem(self, code: str, chat: str) -> Case | str:
        """Bind `chat` to the case of an invitation; or the reason it cannot be used."""
        if not ids.INVITE_CODE.match(code):
            return "malformed"
        with self.store.transaction(f"invite:{code}") as db:
            invite = db.table("invite").get(doc_id=1)
            if not isinstance(invite, dict):
                return "unknown"
            if invite["used_at"]:
                if invite.get("used_by") == chat:  # the same person opening the link again
                    return self.case(str(invite["case_id"])) or "used"
                return "used"
            if datetime.fromisoformat(invite["expires"]) <= self.clock():
                return "expired"
            # Used from this instant, even if binding fails below: single use, no race.
            db.table("invite").update({"used_at": self.clock().isoformat(), "used_by": chat},
                                      doc_ids=[1])
            case_id = str(invite["case_id"])
        with self.store.transaction(case_shard(case_id)) as case_db:
            case = _load_case(case_db)
            if case is None or case.status == "closed":
                return "unknown"
            case.chat, case.status = chat, "active"
            _save_case(case_db, case)
        return case

    def unlink_chat(self, case_id: str, status: str) -> Case | None:
        """The returnee declined or withdrew counselling consent: the chat leaves the case."""
        with self.store.transaction(case_shard(case_id)) as db:
            case = _load_case(db)
            if case is None:
                return None
            case.chat, case.status = None, status
            _save_case(db, case)
            return case

    # -- sessions --------------------------------------------------------------------------
    def schedule_session(self, case_id: str, local_at: str, *, place: str | None = None,
                         online: str | None = None, duration: int = 60,
                         interpreter: str | None = None) -> tuple[Case, Session]:
        with self.store.transaction(case_shard(case_id)) as db:
            case = self._require(db, case_id)
            if case.status == "closed":
                raise CaseError(f"case {case_id} is closed")
            at = self._future_time(local_at, case.timezone)
            _check_session_details(place, online, duration, interpreter)
            session = Session(ids.session_id(case_id, len(case.sessions) + 1), at.isoformat(),
                              duration, place, online, interpreter)
            case.sessions.append(session)
            _save_case(db, case)
            return case, session

    def move_session(self, session_id: str, local_at: str) -> tuple[Case, Session]:
        def move(case: Case, session: Session) -> None:
            session.at = self._future_time(local_at, case.timezone).isoformat()
            session.version += 1
            session.answer = session.suggestion = None
        return self._change_session(session_id, move)

    def cancel_session(self, session_id: str) -> tuple[Case, Session]:
        def cancel(_case: Case, session: Session) -> None:
            session.status = "cancelled"
            session.version += 1
        return self._change_session(session_id, cancel)

    def answer_session(self, case_id: str, session_id: str, answer: str,
                       suggestion: str | None = None) -> tuple[Case, Session]:
        def record(_case: Case, session: Session) -> None:
            session.answer = answer
            session.suggestion = suggestion
        if ids.case_of_session(session_id) != case_id:
            raise CaseError(f"no session {session_id}")
        return self._change_session(session_id, record)

    def _change_session(self, session_id: str,
                        change: Callable[[Case, Session], None]) -> tuple[Case, Session]:
        case_id = ids.case_of_session(session_id)
        if case_id is None:
            raise CaseError(f"{session_id!r} is not a session ID (like C-XXXXXXXX-S1)")
        with self.store.transaction(case_shard(case_id)) as db:
            case = self._require(db, case_id)
            session = case.session(session_id)
            if session is None:
                raise CaseError(f"no session {session_id}")
            if session.status == "cancelled":
                raise CaseError(f"session {session_id} is cancelled")
            change(case, session)
            _save_case(db, case)
            return case, session

    def _future_time(self, local_at: str, timezone: str) -> datetime:
        try:
            at = parse_local(local_at, timezone)
        except LocalTimeError as exc:
            raise CaseError(str(exc)) from None
        if at <= self.clock():
            raise CaseError(f"{local_at} ({timezone}) is in the past")
        return at


def _check_session_details(place: str | None, online: str | None, duration: int,
                           interpreter: str | None) -> None:
    if bool(place) == bool(online):
        raise CaseError("give either a place or an online link")
    if online and not online.startswith(("https://", "http://")):
        raise CaseError("the online link must start with https://")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise CaseError(f"the duration must be {MIN_DURATION} to {MAX_DURATION} minutes")
    if interpreter:
        try:
            Locale.parse(interpreter)
        except (UnknownLocaleError, ValueError):
            raise CaseError(f"unknown interpreter language {interpreter!r} (use a code like "
                            "ps or ti)") from None
