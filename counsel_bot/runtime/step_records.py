"""What a step asked for, kept in the chat's shard under the step's key.

A step (an update from Telegram, a scheduled item) is carried out inside one transaction of
the chat's shard. Its record goes into the same transaction, so it exists exactly when the
step's new state does. If the process dies after the commit and before everything the step
asked for is queued, the step comes again (the update journal or the scheduler still has
it); the record is then found and replayed instead of stepping twice, and the dedupe keys
derived from the step's key keep the outbox and the scheduler from doing anything twice.

Records hold the step's messages (personal data, encrypted with the shard); only the last
few are kept, and none longer than a week: a step comes again only at the next start-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tinydb import Query, TinyDB

TABLE = "steps"
KEEP = 16
MAX_AGE = timedelta(days=7)


def find(db: TinyDB, key: str) -> dict[str, Any] | None:
    doc = db.table(TABLE).get(Query().key == key)
    return dict(doc["record"]) if isinstance(doc, dict) else None


def keep(db: TinyDB, key: str, record: dict[str, Any], now: datetime) -> None:
    table = db.table(TABLE)
    horizon = (now - MAX_AGE).isoformat()
    docs = sorted(table.all(), key=lambda d: d.doc_id)
    stale = [d.doc_id for d in docs if d.get("at", "") < horizon]
    stale += [d.doc_id for d in docs[: max(0, len(docs) - KEEP + 1)] if d.doc_id not in stale]
    if stale:
        table.remove(doc_ids=stale)
    table.insert({"key": key, "at": now.isoformat(), "record": record})
