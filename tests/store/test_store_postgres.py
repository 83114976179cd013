"""What the PostgreSQL store puts in the database: no readable trace, the key check, tampering,
migrations run once under their lock, and the audit chain. A real server (tests/pg_server.py)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import psycopg
import pytest
from test_store_files import SECRETS, SHARD_KEYS, _forms

from counsel_bot.audit import AuditError
from counsel_bot.audit.pg import PgAuditLog
from counsel_bot.store import (
    CorruptShardError,
    LockTimeoutError,
    MissingKeyError,
    StoreError,
    WrongKeyError,
    open_store,
)
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.keys import encode_key
from counsel_bot.store.postgres import LATEST, MIGRATIONS, PostgresStore
from tests.pg_server import all_rows

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _rows(url: str) -> dict[str, bytes]:
    with psycopg.connect(url) as conn:
        return {fid: bytes(blob) for fid, blob in conn.execute(
            "SELECT id, blob FROM counsel_shards")}


def test_no_plaintext_in_the_database(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    for shard in SHARD_KEYS:
        with store.transaction(shard) as db:
            db.table("profile").insert({"name": "Amina Haddad", "phone": "+212600112233"})
            db.table("messages").insert({"text": "je veux mourir", "ar": "كلمة", "case": "K7F3"})
    store.erase("caseworkers")
    store.quarantine("invite:abc987654321")
    PgAuditLog(store.pool, store.cipher).record("caseworker:7", "case_viewed", why="casework",
                                                details={"case_id": "K7F3"}, at=AT)
    store.close()
    needles = set().union(*(_forms(s) for s in [*SECRETS, *SHARD_KEYS]))
    needles |= {key, encode_key(key).encode()}
    needles -= {b"K7F3", b"k7f3"}  # the audit names cases by id, as the file log does (sealed)
    found = all_rows(pg_url)
    assert found["counsel_shards"] and found["counsel_quarantine"] and found["counsel_audit"]
    for table, rows in found.items():
        for row in rows:
            for needle in needles:
                assert needle not in row, f"{needle!r} found in {table}"
    for blob in _rows(pg_url).values():
        assert blob.startswith(b"CB1")


def test_the_case_id_is_sealed_in_the_audit_chain(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    PgAuditLog(store.pool, store.cipher).record("caseworker:7", "case_viewed", why="casework",
                                                details={"case_id": "K7F3"}, at=AT)
    store.close()
    for rows in all_rows(pg_url).values():
        assert not any(b"K7F3" in row for row in rows)


def test_rows_are_named_by_the_hmac_and_sealed_like_the_files(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    with store.transaction("chat:telegram:987654321") as db:
        db.insert({"v": 1})
    store.close()
    ((fid, blob),) = _rows(pg_url).items()
    cipher = ShardCipher(key)
    assert fid == cipher.file_id("chat:telegram:987654321")
    payload = json.loads(cipher.decrypt(blob, fid.encode()))
    assert payload == {"k": "chat:telegram:987654321", "t": {"_default": {"1": {"v": 1}}}}


def test_reads_and_empty_transactions_leave_no_rows(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    with store.snapshot("case:a"):
        pass
    with store.transaction("case:b") as db:
        db.table("t").all()
    assert _rows(pg_url) == {}
    assert not store.exists("case:b")
    store.close()


def test_wrong_key_is_refused_and_changes_nothing(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    for i in range(3):
        with store.transaction(f"case:{i}") as db:
            db.insert({"i": i})
    store.close()
    before = all_rows(pg_url)
    wrong = bytes(32)
    with pytest.raises(WrongKeyError) as err:
        open_store(pg_url, wrong)
    assert "postgresql://127.0.0.1" in str(err.value)
    assert encode_key(wrong) not in str(err.value)
    assert all_rows(pg_url) == before


def test_missing_key_for_an_initialised_database(pg_url: str, key: bytes, monkeypatch,
                                                 tmp_path) -> None:
    PostgresStore(pg_url, key).close()
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(tmp_path / "nowhere" / "key"))
    with pytest.raises(MissingKeyError, match="database"):
        open_store(pg_url)
    assert not (tmp_path / "nowhere").exists()  # no fresh key invented


def test_a_new_database_gets_a_new_key_file(pg_url: str, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(tmp_path / "k" / "key"))
    open_store(pg_url).close()
    assert (tmp_path / "k" / "key").exists()
    open_store(pg_url).close()  # and it opens it again


def test_shards_without_keycheck_refused(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    with store.transaction("case:1") as db:
        db.insert({"v": 1})
    store.close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("DELETE FROM counsel_meta WHERE name = 'keycheck'")
    with pytest.raises(StoreError, match="no key check"):
        PostgresStore(pg_url, key)


def test_a_tampered_row_raises_and_is_not_overwritten(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    with store.transaction("case:T") as db:
        db.insert({"v": 1})
    ((fid, blob),) = _rows(pg_url).items()
    bad = blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:]
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE counsel_shards SET blob = %s", (bad,))
    for opener in (store.snapshot, store.transaction):
        with pytest.raises(CorruptShardError), opener("case:T"):
            pass
    assert _rows(pg_url) == {fid: bad}
    where = store.quarantine("case:T")
    assert where and "counsel_quarantine" in where
    assert _rows(pg_url) == {}
    with psycopg.connect(pg_url) as conn:
        assert [bytes(r[0]) for r in conn.execute("SELECT blob FROM counsel_quarantine")] == [bad]
    with store.transaction("case:T") as db:  # the key starts afresh
        db.insert({"v": 2})
    store.close()


def test_swapped_rows_are_detected(pg_url: str, key: bytes) -> None:
    store = PostgresStore(pg_url, key)
    for name in ("case:A", "case:B"):
        with store.transaction(name) as db:
            db.insert({"who": name})
    cipher = ShardCipher(key)
    a, b = cipher.file_id("case:A"), cipher.file_id("case:B")
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE counsel_shards SET blob = CASE id WHEN %s THEN "
                     "(SELECT blob FROM counsel_shards WHERE id = %s) ELSE "
                     "(SELECT blob FROM counsel_shards WHERE id = %s) END WHERE id IN (%s, %s)",
                     (a, b, a, a, b))
    with pytest.raises(CorruptShardError), store.snapshot("case:A"):
        pass
    store.close()


def test_a_transaction_waits_for_the_row_lock_and_times_out(pg_url: str, key: bytes) -> None:
    holder = PostgresStore(pg_url, key)
    waiter = PostgresStore(pg_url, key, lock_timeout=0.3)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction("case:L") as db:
            db.insert({"v": 1})
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(LockTimeoutError), waiter.transaction("case:L"):
            pass
        with waiter.snapshot("case:L") as db:  # a snapshot never waits: the last commit
            assert db.all() == []
    finally:
        release.set()
        thread.join()
    with waiter.snapshot("case:L") as db:
        assert db.all() == [{"v": 1}]
    holder.close()
    waiter.close()


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM counsel_schema ORDER BY 1")]


def test_instances_starting_together_migrate_once(pg_url: str, key: bytes) -> None:
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []
    stores: list[PostgresStore] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(PostgresStore(pg_url, key))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert _versions(pg_url) == [v for v, _, _ in MIGRATIONS]
    for s in stores:
        s.close()


def test_reopening_applies_nothing_and_a_newer_schema_is_refused(pg_url: str, key: bytes) -> None:
    PostgresStore(pg_url, key).close()
    PostgresStore(pg_url, key).close()
    assert _versions(pg_url) == list(range(1, LATEST + 1))
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO counsel_schema (version, what) VALUES (%s, 'future')",
                     (LATEST + 1,))
    with pytest.raises(StoreError, match="newer"):
        PostgresStore(pg_url, key)


# -- the audit chain in the database ---------------------------------------------------------
@pytest.fixture
def pg_audit(pg_url: str, key: bytes):
    store = PostgresStore(pg_url, key)
    yield PgAuditLog(store.pool, store.cipher)
    store.close()


def _record(log: PgAuditLog, n: int) -> None:
    for i in range(n):
        log.record("caseworker:7", "case_viewed", why="casework",
                   details={"case_id": f"K{i}"}, at=AT)


def test_audit_chain_verifies_and_reads_back(pg_audit: PgAuditLog) -> None:
    _record(pg_audit, 5)
    result = pg_audit.verify()
    assert result.ok and result.entries == 5
    assert [e.details["case_id"] for e in pg_audit.entries()] == [f"K{i}" for i in range(5)]
    assert pg_audit.verify(result.anchor).ok


def test_audit_an_edited_row_is_the_first_bad(pg_audit: PgAuditLog, pg_url: str) -> None:
    _record(pg_audit, 5)
    with psycopg.connect(pg_url) as conn:
        conn.execute("UPDATE counsel_audit SET blob = (SELECT blob FROM counsel_audit "
                     "WHERE seq = 4) WHERE seq = 3")
    result = pg_audit.verify()
    assert not result.ok and result.first_bad == 3


def test_audit_rows_cut_from_the_end_show_and_stop_appends(pg_audit: PgAuditLog,
                                                          pg_url: str) -> None:
    _record(pg_audit, 5)
    anchor = pg_audit.verify().anchor
    with psycopg.connect(pg_url) as conn:
        conn.execute("DELETE FROM counsel_audit WHERE seq >= 4")
    result = pg_audit.verify()
    assert not result.ok and result.first_bad == 4
    with pytest.raises(AuditError):
        _record(pg_audit, 1)
    with psycopg.connect(pg_url) as conn:  # even with the head rolled back, the anchor shows it
        conn.execute("DELETE FROM counsel_meta WHERE name = 'audit_head'")
    assert not pg_audit.verify(anchor).ok


def test_audit_appends_from_many_threads_form_one_chain(pg_audit: PgAuditLog) -> None:
    threads = [threading.Thread(target=_record, args=(pg_audit, 20)) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    result = pg_audit.verify()
    assert result.ok and result.entries == 80
