"""Labelled examples that case workers teach the screening, kept encrypted in the store.

Every "False alarm" on an alert and every "This was distress" on a message shown in a case
(the Telegram desk, and the web desk) stores one example; ``counsel-bot screen train``
retrains the deployment's classifier from them. The store encrypts every shard, so the
words stay encrypted at rest; they are never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from counsel_bot.store.port import Store

SHARD = "screening:examples"
TABLE = "examples"
LABELS = ("false_alarm", "distress")


class LabelledExamples:
    """``add`` one labelled message; ``all`` of them, oldest first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, text: str, lang: str | None, label: str, source: str, at: datetime) -> None:
        """Keep one example. ``label`` is "false_alarm" or "distress"; ``source`` says
        where it came from ("telegram_desk", "web_desk"); ``at`` is stored in UTC."""
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {label!r}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("an example needs the message's text")
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware (UTC)")
        with self.store.transaction(SHARD) as db:
            db.table(TABLE).insert({"text": text, "lang": lang, "label": label,
                                    "source": source, "at": at.isoformat()})

    def all(self) -> list[dict[str, Any]]:
        """Every example: ``{"text", "lang", "label", "source", "at"}``."""
        if not self.store.exists(SHARD):
            return []
        with self.store.snapshot(SHARD) as db:
            return [dict(doc) for doc in db.table(TABLE).all()]
