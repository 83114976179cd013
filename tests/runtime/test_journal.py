"""The outbox journal: encrypted, append-only, and whole after a crash."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from counsel_bot.runtime.journal import (
    Journal,
    JournalError,
    check_journal,
    journal_in_use,
    lock_journal,
    repair_journal,
)
from counsel_bot.store.crypto import ShardCipher
from tests.damage import damage_frame, frames


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


# -- damage is contained -------------------------------------------------------------------

def written(tmp_path, key: bytes, count: int = 5):
    journal = Journal(tmp_path / "j.journal", ShardCipher(key), quarantine=tmp_path / "q")
    for i in range(count):
        journal.append([{"id": i, "text": f"secret words {i}"}])
    journal.close()
    return tmp_path / "j.journal"


def reopen(tmp_path, key: bytes) -> Journal:
    return Journal(tmp_path / "j.journal", ShardCipher(key), quarantine=tmp_path / "q")


def test_a_damaged_record_in_the_middle_is_set_aside_and_the_rest_read(tmp_path, key, caplog):
    path = written(tmp_path, key)
    damaged = damage_frame(path, 2)
    journal = reopen(tmp_path, key)
    with caplog.at_level(logging.WARNING):
        assert [r["id"] for r in journal.replay()] == [0, 1, 3, 4]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "1 damaged record" in errors[0].getMessage()
    assert "secret" not in caplog.text
    kept = list((tmp_path / "q").iterdir())
    assert [p.read_bytes() for p in kept] == [damaged]  # as it was, still encrypted
    assert kept[0].name.startswith("j.") and stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    journal.append([{"id": 5}])
    journal.close()
    caplog.clear()
    again = reopen(tmp_path, key)  # the file was mended: nothing more to set aside
    with caplog.at_level(logging.WARNING):
        assert [r["id"] for r in again.replay()] == [0, 1, 3, 4, 5]
    assert not caplog.records and len(list((tmp_path / "q").iterdir())) == 1


def test_a_damaged_length_is_passed_by_resynchronising(tmp_path, key):
    path = written(tmp_path, key)
    damage_frame(path, 1, at=1)  # the length prefix now points far past the file's end
    assert [r["id"] for r in reopen(tmp_path, key).replay()] == [0, 2, 3, 4]


def test_a_damaged_last_record_is_set_aside_not_cut_as_torn(tmp_path, key):
    path = written(tmp_path, key, 3)
    damaged = damage_frame(path, 2)
    assert [r["id"] for r in reopen(tmp_path, key).replay()] == [0, 1]
    assert [p.read_bytes() for p in (tmp_path / "q").iterdir()] == [damaged]


def test_a_torn_tail_is_cut_and_not_kept(tmp_path, key):
    path = written(tmp_path, key, 3)
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # an append cut short
    assert [r["id"] for r in reopen(tmp_path, key).replay()] == [0, 1]
    assert not (tmp_path / "q").exists()
    assert path.read_bytes() == data[:frames(data)[2][0]]


def test_when_no_record_authenticates_nothing_is_changed(tmp_path, key):
    path = written(tmp_path, key, 1)
    damage_frame(path, 0)
    before = path.read_bytes()
    with pytest.raises(JournalError, match="no record authenticates"):
        reopen(tmp_path, key).replay()
    assert path.read_bytes() == before and not (tmp_path / "q").exists()


def test_check_and_repair_without_the_journal_open(tmp_path, key):
    path = written(tmp_path, key)
    damage_frame(path, 1)
    damage_frame(path, 3)
    check = check_journal(path, ShardCipher(key))
    assert (check.records, len(check.damaged), check.torn) == (3, 2, 0)
    fd = lock_journal(path)
    try:
        kept = repair_journal(path, ShardCipher(key), tmp_path / "q")
    finally:
        os.close(fd)
    assert len(kept) == 2
    assert check_journal(path, ShardCipher(key)).damaged == ()
    assert [r["id"] for r in reopen(tmp_path, key).replay()] == [0, 2, 4]


def test_a_journal_open_elsewhere_is_in_use(tmp_path, key):
    journal = reopen(tmp_path, key)
    assert journal_in_use(journal.path)
    with pytest.raises(JournalError, match="in use"):
        lock_journal(journal.path)
    journal.close()
    assert not journal_in_use(journal.path)


def test_files_are_private_whatever_the_umask(tmp_path, key):
    old = os.umask(0o022)
    try:
        journal = Journal(tmp_path / "a" / "b" / "j.journal", ShardCipher(key),
                          quarantine=tmp_path / "a" / "q")
        journal.append([{"id": 1}])
        journal.rewrite([{"id": 2}])
        journal.close()
        damage_frame(journal.path, 0)
        journal = Journal(journal.path, ShardCipher(key), quarantine=tmp_path / "a" / "q")
        journal.append([{"id": 3}])
        journal.replay()
        journal.close()
    finally:
        os.umask(old)
    for path in (tmp_path / "a").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
