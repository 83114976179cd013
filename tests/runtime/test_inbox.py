"""The bot's inbox: a note that cannot be read is set aside, the others are acted on."""

from __future__ import annotations

import logging
import os

from counsel_bot.runtime.inbox import Inbox
from counsel_bot.store.crypto import ShardCipher
from tests.damage import flip


def test_an_unreadable_note_goes_to_quarantine_and_the_others_are_read(tmp_path, caplog):
    inbox = Inbox(tmp_path, ShardCipher(os.urandom(32)))
    inbox.post({"type": "session", "n": 1})
    inbox.post({"type": "session", "n": 2})
    first = sorted(inbox.folder.glob("*.note"))[0]
    damaged = flip(first, 30)
    with caplog.at_level(logging.WARNING):
        notes = inbox.take()
    assert [note["n"] for _path, note in notes] == [2]
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert [p.read_bytes() for p in (tmp_path / "quarantine").iterdir()] == [damaged]
    assert inbox.damaged() == []
