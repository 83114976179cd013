"""Who is at the desk: server-side sessions, the second factor, and sign-in attempt limits.

A session is a random ID in a cookie (Secure, HttpOnly, SameSite=Strict, `__Host-` prefixed);
the store keeps only its hash, the worker, a CSRF token and when it was last used. It ends
after 30 minutes without a request, after 12 hours in any case, and at sign-out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import pyotp

from counsel_bot.store.port import Store

SESSION_COOKIE = "__Host-desk"
PRE_COOKIE = "__Host-desk-pre"  # the CSRF token of the sign-in form, before any session
IDLE = timedelta(minutes=30)
LONGEST = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often
SESSIONS_SHARD = "web:sessions"
FACTORS_SHARD = "web:factors"
MAX_SECOND_FACTOR_TRIES = 5


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))


@dataclass
class DeskSession:
    key: str  # the hash of the cookie's value
    worker: int
    csrf: str
    stage: str  # "second_factor" until the TOTP code is given, then "in"
    created: str
    last_seen: str
    lang: str | None = None
    tries: int = 0

    @property
    def signed_in(self) -> bool:
        return self.stage == "in"


class Sessions:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def create(self, worker: int, stage: str) -> tuple[str, DeskSession]:
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = DeskSession(_hash(cookie), worker, secrets.token_urlsafe(32), stage,
                              now.isoformat(), now.isoformat())
        with self.store.transaction(SESSIONS_SHARD) as db:
            table = db.table("sessions")
            table.remove(lambda d: not self._alive(d, now))
            table.insert(asdict(session))
        return cookie, session

    def _alive(self, doc: dict[str, str], now: datetime) -> bool:
        return (now - datetime.fromisoformat(doc["last_seen"]) < IDLE
                and now - datetime.fromisoformat(doc["created"]) < LONGEST)

    def get(self, cookie: str | None) -> DeskSession | None:
        """The live session of this cookie (its idle time restarts), or None."""
        if not cookie or len(cookie) > 100:
            return None
        key, now = _hash(cookie), self.clock()
        with self.store.transaction(SESSIONS_SHARD) as db:
            table = db.table("sessions")
            doc = next((d for d in table.all() if same(d["key"], key)), None)
            if doc is None:
                return None
            if not self._alive(doc, now):
                table.remove(doc_ids=[doc.doc_id])
                return None
            if now - datetime.fromisoformat(doc["last_seen"]) >= TOUCH_EVERY:
                table.update({"last_seen": now.isoformat()}, doc_ids=[doc.doc_id])
            return DeskSession(**{**doc, "last_seen": now.isoformat()})

    def update(self, session: DeskSession, **changes: object) -> None:
        with self.store.transaction(SESSIONS_SHARD) as db:
            table = db.table("sessions")
            table.update(changes, lambda d: d["key"] == session.key)
        for name, value in changes.items():
            setattr(session, name, value)

    def end(self, session: DeskSession) -> None:
        with self.store.transaction(SESSIONS_SHARD) as db:
            db.table("sessions").remove(lambda d: d["key"] == session.key)


class SecondFactors:
    """Optional TOTP (RFC 6238) per case worker; each code is accepted once."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def _get(self, worker: int) -> dict[str, object] | None:
        with self.store.snapshot(FACTORS_SHARD) as db:
            doc = db.table("totp").get(doc_id=worker)
        return dict(doc) if isinstance(doc, dict) else None

    def enabled(self, worker: int) -> bool:
        doc = self._get(worker)
        return bool(doc and doc.get("confirmed"))

    def pending_secret(self, worker: int) -> str | None:
        doc = self._get(worker)
        return str(doc["secret"]) if doc and not doc.get("confirmed") else None

    def begin(self, worker: int) -> str:
        """A new secret, not in force until `confirm` sees a code made from it."""
        from tinydb.table import Document

        secret = pyotp.random_base32()
        with self.store.transaction(FACTORS_SHARD) as db:
            db.table("totp").upsert(Document({"secret": secret, "confirmed": False,
                                              "last_step": None}, doc_id=worker))
        return secret

    def _check(self, worker: int, code: str, confirmed: bool) -> bool:
        code = code.strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            return False
        now = self.clock()
        with self.store.transaction(FACTORS_SHARD) as db:
            table = db.table("totp")
            doc = table.get(doc_id=worker)
            if not isinstance(doc, dict) or bool(doc["confirmed"]) != confirmed:
                return False
            totp = pyotp.TOTP(str(doc["secret"]))
            for drift in (0, -1, 1):  # one step of clock drift either way
                step = totp.timecode(now) + drift
                if same(totp.generate_otp(step), code) and step != doc.get("last_step"):
                    table.update({"confirmed": True, "last_step": step}, doc_ids=[worker])
                    return True
        return False

    def confirm(self, worker: int, code: str) -> bool:
        return self._check(worker, code, confirmed=False)

    def verify(self, worker: int, code: str) -> bool:
        return self._check(worker, code, confirmed=True)

    def provisioning_uri(self, secret: str, name: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)


class AttemptLimiter:
    """Sign-in attempts: at most `per_client` per client and `overall` in all, per window.

    Kept in the desk process's memory (one process serves the desk); a restart forgets it.
    """

    def __init__(self, per_client: int = 10, overall: int = 100, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self.clock = clock
        self._lock = threading.Lock()
        self._by_client: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            for attempts in (self._all, *self._by_client.values()):
                while attempts and attempts[0] <= now - self.window:
                    attempts.popleft()
            self._by_client = {k: v for k, v in self._by_client.items() if v}
            mine = self._by_client.setdefault(client, deque())
            if len(mine) >= self.per_client or len(self._all) >= self.overall:
                return False
            mine.append(now)
            self._all.append(now)
            return True
