"""The inbox on PostgreSQL (runtime/pg_inbox.py): a damaged note is set aside and never shown,
each note is acted on by one reader, a note whose action fails is taken again."""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
import pytest

from counsel_bot.runtime.inbox import Inbox, open_inbox
from counsel_bot.runtime.notes import NoteReader
from counsel_bot.runtime.pg_inbox import PgInbox
from counsel_bot.store import TinyDBStore
from counsel_bot.store.postgres import PostgresStore


@pytest.fixture
def pg_store(pg_url: str, key: bytes):
    store = PostgresStore(pg_url, key)
    yield store
    store.close()


def test_open_inbox_picks_the_database_for_the_postgresql_store(pg_store, tmp_path, key):
    assert isinstance(open_inbox(pg_store, tmp_path, pg_store.cipher), PgInbox)
    folder = TinyDBStore(tmp_path / "data", key)
    assert isinstance(open_inbox(folder, tmp_path / "data", folder.cipher), Inbox)
    folder.close()


def test_a_damaged_note_is_set_aside_and_the_others_are_read(pg_store, pg_url, caplog):
    inbox = PgInbox(pg_store)
    for n in range(3):
        inbox.post({"type": "session", "n": n})
    with psycopg.connect(pg_url) as conn:  # one byte of the second note's row, flipped
        conn.execute("UPDATE counsel_queue SET payload = overlay(payload placing "
                     "decode(lpad(to_hex(get_byte(payload, 20) # 85), 2, '0'), 'hex') "
                     "from 21 for 1) WHERE queue = 'inbox' AND id = "
                     "(SELECT min(id) + 1 FROM counsel_queue WHERE queue = 'inbox')")
    assert len(inbox.damaged()) == 1
    with caplog.at_level(logging.WARNING):
        notes = inbox.take()
    assert [note["n"] for _claim, note in notes] == [0, 2]
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert inbox.damaged() == []
    for claim, _note in notes:
        inbox.done(claim)
    assert inbox.waiting() == 0 and inbox.take() == []


def test_two_readers_take_each_note_once(pg_store):
    poster = PgInbox(pg_store)
    for n in range(300):
        poster.post({"type": "ping", "n": n})
    got: dict[str, list[int]] = {"a": [], "b": []}

    def read(name: str) -> None:
        inbox = PgInbox(pg_store)
        while notes := inbox.take(limit=7):
            for claim, note in notes:
                got[name].append(note["n"])
                inbox.done(claim)

    threads = [threading.Thread(target=read, args=(name,)) for name in got]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(got["a"] + got["b"]) == list(range(300))
    assert got["a"] and got["b"]


def _reader(inbox: PgInbox, handled: list[Any], fail_once: set[int]) -> NoteReader:
    """A NoteReader whose only note type records what it is given (the casework is not
    needed to read the inbox)."""
    reader = NoteReader(inbox, None, None, None)  # type: ignore[arg-type]

    async def ping(note: dict[str, Any]) -> None:
        if note["n"] in fail_once:
            fail_once.discard(note["n"])
            raise RuntimeError("the store is away for a moment")
        handled.append(note["n"])

    reader.handlers = {"ping": ping}
    return reader


async def test_bot_instances_act_on_each_note_once_and_retry_a_failed_one(pg_store):
    poster = PgInbox(pg_store)  # the command line, on another machine
    for n in range(20):
        poster.post({"type": "ping", "n": n})
    handled: list[int] = []
    fail_once = {5}
    readers = [_reader(PgInbox(pg_store), handled, fail_once) for _ in range(2)]
    first = await readers[0].read()
    second = await readers[1].read()
    assert (first, second) == (19, 1)  # the failed note is given back for the next look
    assert sorted(handled) == list(range(20))
    assert await readers[0].read() == 0 and await readers[1].read() == 0


def test_notes_done_long_ago_are_purged(pg_store, pg_url):
    inbox = PgInbox(pg_store)
    inbox.post({"type": "ping", "n": 1})
    ((claim, _note),) = inbox.take()
    inbox.done(claim)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE counsel_queue SET done_at = now() - interval '2 hours'")
    inbox.post({"type": "ping", "n": 2})
    inbox._purged_at -= 2 * 3600  # the hour since the last purge has gone by
    assert [n["n"] for _c, n in inbox.take()] == [2]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM counsel_queue").fetchone() == (1,)
