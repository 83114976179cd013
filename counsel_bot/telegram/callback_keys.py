"""Callback data that carries no meaning: short random keys, mapped on the server.

A key lives in the shard of the chat it was sent to, so a key from another chat, a forged
one or one already used is simply not found. Pressing one button of a message consumes
all that message's keys, so a replay is refused too.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from tinydb import Query, TinyDB

from counsel_bot.engine.effects import Send
from counsel_bot.runtime.transport import OutButton

TABLE = "callback_keys"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
LIFETIME = timedelta(days=14)
MAX_KEYS_PER_CHAT = 300


def new_key() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 random bits


def register(db: TinyDB, send: Send, now: datetime) -> tuple[tuple[OutButton, ...], ...]:
    """Give each button of `send` a fresh key; store key -> action in the chat's shard."""
    if not send.buttons:
        return ()
    table = db.table(TABLE)
    group = new_key()
    expires = (now + LIFETIME).isoformat()
    rows = []
    docs = []
    for row in send.buttons:
        out_row = []
        for button in row:
            key = new_key()
            docs.append({"key": key, "action": button.action, "group": group, "exp": expires})
            out_row.append(OutButton(button.label, key))
        rows.append(tuple(out_row))
    table.insert_multiple(docs)
    _prune(db, now)
    return tuple(rows)


def resolve(db: TinyDB, data: str | None, now: datetime) -> str | None:
    """The action behind a pressed key, once; None for anything forged, used or expired."""
    if not data or not KEY_PATTERN.match(data):
        return None
    table = db.table(TABLE)
    entry = Query()
    found = table.get(entry.key == data)
    if found is None or not isinstance(found, dict):
        return None
    table.remove(entry.group == found["group"])
    if datetime.fromisoformat(found["exp"]) <= now:
        return None
    return str(found["action"])


def _prune(db: TinyDB, now: datetime) -> None:
    table = db.table(TABLE)
    entry = Query()
    table.remove(entry.exp.test(lambda exp: datetime.fromisoformat(exp) <= now))
    excess = len(table) - MAX_KEYS_PER_CHAT
    if excess > 0:
        table.remove(doc_ids=[doc.doc_id for doc in table.all()[:excess]])
