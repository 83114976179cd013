"""One-time sign-in links for the case workers' web desk.

The bot issues a link on `/web` (or on the admin command line's note) and sends it to the
worker's own Telegram chat; the web desk redeems it. Only a hash of the token is stored, a
token works once and for ten minutes. The token rides in the link's fragment (after `#`),
which browsers never send to a server: it stays out of access logs, proxies and Referer
headers, and a link preview cannot use it up.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tinydb.table import Document

from counsel_bot.store.port import Store

LINK_LIFETIME = timedelta(minutes=10)
LINKS_SHARD = "web:links"
WEB_SHARD = "web:desk"
WEB_URL_ENV = "COUNSEL_BOT_WEB_URL"
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SignInLinks:
    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 env: dict[str, str] | None = None) -> None:
        self.store = store
        self.clock = clock
        self.env = os.environ if env is None else env

    # -- where the desk is ---------------------------------------------------------------
    def record_web_url(self, url: str) -> None:
        """The desk's base URL, recorded by the running desk so the bot can build links."""
        with self.store.transaction(WEB_SHARD) as db:
            db.table("desk").upsert(Document({"url": url.rstrip("/")}, doc_id=1))

    def web_url(self) -> str | None:
        """COUNSEL_BOT_WEB_URL in the bot's environment, else what the desk recorded."""
        configured = self.env.get(WEB_URL_ENV, "").strip()
        if configured:
            return configured.rstrip("/")
        with self.store.snapshot(WEB_SHARD) as db:
            doc = db.table("desk").get(doc_id=1)
        return str(doc["url"]) if isinstance(doc, dict) else None

    # -- links ---------------------------------------------------------------------------
    def issue(self, telegram_id: int) -> str | None:
        """A new sign-in link for this case worker, or None when no desk URL is known."""
        base = self.web_url()
        if base is None:
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        with self.store.transaction(LINKS_SHARD) as db:
            table = db.table("links")
            table.remove(lambda d: datetime.fromisoformat(d["expires"]) < now - LINK_LIFETIME)
            table.insert({"hash": token_hash(token), "worker": telegram_id,
                          "expires": (now + LINK_LIFETIME).isoformat(), "used_at": None})
        return f"{base}/signin#{token}"

    def redeem(self, token: str) -> int | str:
        """The case worker's Telegram ID, or why the token cannot be used: "unknown",
        "used" or "expired". The token is used up from this instant, whatever follows."""
        if not 20 <= len(token) <= 100:
            return "unknown"
        wanted = token_hash(token)
        now = self.clock()
        with self.store.transaction(LINKS_SHARD) as db:
            table = db.table("links")
            doc = next((d for d in table.all() if secrets.compare_digest(d["hash"], wanted)),
                       None)
            if doc is None:
                return "unknown"
            if doc["used_at"]:
                return "used"
            if datetime.fromisoformat(doc["expires"]) <= now:
                return "expired"
            table.update({"used_at": now.isoformat()}, doc_ids=[doc.doc_id])
            return int(doc["worker"])
