"""The work still to come, moved by `store migrate` with the store.

A data folder keeps its queues in journals (and the inbox as note files); a database keeps
them as rows of `counsel_queue`. What is still to come moves: scheduled items (reminders,
check-ins, alert deadlines, retention purges), messages not yet sent, updates received but
not yet stepped, and notes from the command line not yet read. What is done (and the dedupe
memory of done work) does not: the bot is stopped while a deployment moves, so nothing can
come again that it would need to recognise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import Journal, data_journal
from counsel_bot.runtime.outbox import Queued, replay_outbox
from counsel_bot.runtime.scheduler import Item, Scheduler
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.pg_shared import Entry, PgQueue
from counsel_bot.store.postgres import PostgresStore
from counsel_bot.telegram.update_journal import UpdateJournal
from counsel_bot.telegram.updates import chat_of

# The queue names, in the database as in the journals' names (the inbox has no journal).
QUEUES = ("schedule", "outbox", "updates", "inbox")


@contextmanager
def _journal(data: Path, name: str, cipher: ShardCipher) -> Iterator[Journal]:
    journal = data_journal(data, name, cipher)  # locked: refused while a bot runs on it
    try:
        yield journal
    finally:
        journal.close()


def folder_work(data: Path, cipher: ShardCipher) -> dict[str, list[Entry]]:
    """The data folder's work still to come, as rows to put."""
    work: dict[str, list[Entry]] = {}
    with _journal(data, "schedule", cipher) as journal:
        schedule = Scheduler(journal)
        schedule.load()
        work["schedule"] = [Entry(i.record(), due=i.due, tags=i.tags) for i in schedule.items()]
    with _journal(data, "outbox", cipher) as journal:
        pending = replay_outbox(journal).pending
        work["outbox"] = [Entry({**r, "id": 0}, chat=r["chat"], priority=int(r["priority"]))
                          for _, r in sorted(pending.items())]
    with _journal(data, "updates", cipher) as journal:
        work["updates"] = [Entry({"u": u}, chat=_chat(u), key=f"u:{u['update_id']}")
                           for u in UpdateJournal(journal).load()]
    work["inbox"] = [Entry(note) for _path, note in Inbox(data, cipher).take()]
    return work


def _chat(update: dict[str, Any]) -> str | None:
    chat = chat_of(update)
    return None if chat is None else str(chat)


def folder_counts(data: Path, cipher: ShardCipher) -> dict[str, int]:
    return {name: len(rows) for name, rows in folder_work(data, cipher).items()}


def folder_has_work(data: Path) -> bool:
    """Whether the folder holds any queue already (a target must hold none)."""
    journals = [data / "outbox", data / "schedule", data / "updates"]
    files = [f for d in journals if d.is_dir() for f in d.iterdir() if f.stat().st_size]
    notes = list((data / "inbox").glob("*.note")) if (data / "inbox").is_dir() else []
    return bool(files or notes)


def put_into_database(pg: PostgresStore, work: dict[str, list[Entry]],
                      conn: psycopg.Connection[Any]) -> None:
    """Into the database, in the caller's transaction."""
    for name in QUEUES:
        PgQueue(pg, name).put_many(work[name], conn)


def database_counts(pg: PostgresStore) -> dict[str, int]:
    return {name: PgQueue(pg, name).pending() for name in QUEUES}


def database_to_folder(pg: PostgresStore, data: Path, cipher: ShardCipher) -> None:
    """The database's work still to come, into the folder's journals and inbox."""
    with _journal(data, "schedule", cipher) as journal:
        items = [Item.from_record(c.payload) for c in PgQueue(pg, "schedule").waiting()]
        journal.append([i.record() for i in items])
    with _journal(data, "outbox", cipher) as journal:
        messages = [Queued.from_record({**c.payload, "id": n})
                    for n, c in enumerate(PgQueue(pg, "outbox").waiting(), start=1)]
        journal.append([m.record() for m in messages])
    with _journal(data, "updates", cipher) as journal:
        updates = UpdateJournal(journal)
        for claim in PgQueue(pg, "updates").waiting():
            updates.accept(claim.payload["u"])
        journal.sync()
    inbox = Inbox(data, cipher)
    for claim in PgQueue(pg, "inbox").waiting():
        inbox.post(claim.payload)
