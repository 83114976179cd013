"""Labelled examples for screening: messages a person judged (a false alarm, say), kept to
tune the lexicons later. Stored in the encrypted store, in one shard; never logged.

Minimal version, written for the web desk's "false alarm" button; the screening work may
grow it (the interface stays: ``add`` and ``all``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from counsel_bot.store.port import Store

EXAMPLES_SHARD = "screening:examples"
LABELS = frozenset({"false_alarm", "missed", "confirmed"})


class LabelledExamples:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, text: str, lang: str | None, label: str, source: str, at: datetime) -> None:
        if label not in LABELS:
            raise ValueError(f"label must be one of {', '.join(sorted(LABELS))}")
        if not text.strip():
            raise ValueError("an example needs a text")
        with self.store.transaction(EXAMPLES_SHARD) as db:
            db.table("examples").insert({"text": text, "lang": lang, "label": label,
                                         "source": source, "at": at.isoformat()})

    def all(self) -> list[dict[str, Any]]:
        with self.store.snapshot(EXAMPLES_SHARD) as db:
            return [dict(d) for d in db.table("examples").all()]
