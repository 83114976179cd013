"""The outbox journal: encrypted, append-only, and whole after a crash."""

from __future__ import annotations

import os

import pytest

from counsel_bot.runtime.journal import Journal, JournalError
from counsel_bot.store.crypto import ShardCipher


def test_records_round_trip_encrypted(tmp_path):
    journal = Journal(tmp_path / "j.log", ShardCipher(os.urandom(32)))
    journal.append([{"op": "enq", "id": 1, "text": "Amina je veux mourir"}])
    journal.append([{"op": "sent", "id": 1}])
    assert journal.replay() == [{"op": "enq", "id": 1, "text": "Amina je veux mourir"},
                                {"op": "sent", "id": 1}]
    assert b"Amina" not in (tmp_path / "j.log").read_bytes()


def test_a_torn_tail_is_cut_and_earlier_records_survive(tmp_path):
    key = os.urandom(32)
    journal = Journal(tmp_path / "j.log", ShardCipher(key))
    journal.append([{"id": 1}, {"id": 2}])
    journal.close()
    with open(tmp_path / "j.log", "ab") as fh:  # a crash in the middle of an append
        fh.write(b"\x00\x00\x01\x00garbage")
    journal = Journal(tmp_path / "j.log", ShardCipher(key))
    assert journal.replay() == [{"id": 1}, {"id": 2}]
    journal.append([{"id": 3}])
    assert journal.replay() == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_a_wrong_key_destroys_nothing(tmp_path):
    journal = Journal(tmp_path / "j.log", ShardCipher(os.urandom(32)))
    journal.append([{"id": 1}, {"id": 2}])
    journal.close()
    before = (tmp_path / "j.log").read_bytes()
    with pytest.raises(JournalError):
        Journal(tmp_path / "j.log", ShardCipher(os.urandom(32))).replay()
    assert (tmp_path / "j.log").read_bytes() == before


def test_only_one_process_may_own_the_journal(tmp_path):
    owner = Journal(tmp_path / "j.log", ShardCipher(os.urandom(32)))
    with pytest.raises(JournalError, match="in use"):
        Journal(tmp_path / "j.log", ShardCipher(os.urandom(32)))
    owner.close()


def test_rewrite_compacts_atomically(tmp_path):
    journal = Journal(tmp_path / "j.log", ShardCipher(os.urandom(32)))
    journal.append([{"id": i} for i in range(100)])
    journal.rewrite([{"id": 99}])
    journal.append([{"id": 100}])
    assert journal.replay() == [{"id": 99}, {"id": 100}]
