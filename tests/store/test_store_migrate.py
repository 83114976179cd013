"""`counsel-bot store migrate`: a data folder into PostgreSQL and back, verified; refusals."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from store_helpers import all_files

from counsel_bot.audit import AuditLog
from counsel_bot.audit.pg import PgAuditLog
from counsel_bot.cli.main import main
from counsel_bot.cli.queue_migrate import folder_work
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import data_journal
from counsel_bot.runtime.outbox import Outbox
from counsel_bot.runtime.pg_scheduler import PgScheduler
from counsel_bot.runtime.scheduler import Scheduler
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.store import TinyDBStore
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.store.keys import encode_key
from counsel_bot.store.postgres import PostgresStore
from counsel_bot.telegram.update_journal import UpdateJournal
from tests.damage import damage_shard

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SHARDS = [f"chat:telegram:{i}" for i in range(30)] + ["caseworkers", "case:K7F3"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, key: bytes, tmp_path: Path) -> Path:
    monkeypatch.setenv("COUNSEL_BOT_KEY", encode_key(key))
    data = tmp_path / "data"
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(data))
    return data


def _fill(data: Path, key: bytes) -> None:
    store = TinyDBStore(data, key)
    for n, shard in enumerate(SHARDS):
        with store.transaction(shard) as db:
            db.table("state").insert({"n": n, "text": "je veux rentrer ✓"})
            db.table("log").insert_multiple([{"i": i} for i in range(n % 4)])
    audit = AuditLog(data, store.cipher)
    for i in range(12):
        audit.record("caseworker:7", "case_viewed", why="casework",
                     details={"case_id": f"K{i}"}, at=AT)
    audit.close()
    store.close()


def _queue_work(data: Path, key: bytes) -> None:
    """Work still to come: two reminders, a message not yet sent, an update not yet stepped,
    a note from the command line not yet read."""
    cipher = ShardCipher(key)
    with contextlib.closing(data_journal(data, "schedule", cipher)) as journal:
        schedule = Scheduler(journal)
        schedule.add("session_reminder", AT + timedelta(days=400), {"session": "S1"},
                     tags=("session:S1",))
        schedule.add("checkin", AT + timedelta(days=500), {"case_id": "K7F3"},
                     tags=("case:K7F3",), expires=AT + timedelta(days=501))
    with contextlib.closing(data_journal(data, "outbox", cipher)) as journal:
        Outbox(journal, None).enqueue("telegram:5", [OutMessage(5, "Bonjour ✓")])  # type: ignore[arg-type]
    with contextlib.closing(data_journal(data, "updates", cipher)) as journal:
        UpdateJournal(journal).accept({"update_id": 77, "message": {
            "message_id": 1, "date": 0, "chat": {"id": 6, "type": "private"}, "text": "salam"}})
        journal.sync()
    Inbox(data, cipher).post({"type": "checkins", "case_id": "K7F3"})


def _work(data: Path, key: bytes) -> dict[str, list]:
    work = folder_work(data, ShardCipher(key))
    return {name: [(e.payload, e.chat, e.due, e.tags) for e in rows]
            for name, rows in work.items()}


def _contents(store) -> dict[str, dict]:
    out = {}
    for shard in SHARDS:
        with store.snapshot(shard) as db:
            out[shard] = {name: db.table(name).all() for name in sorted(db.tables())}
    return out


def test_a_data_folder_round_trips_through_postgresql(env: Path, key: bytes, pg_url: str,
                                                      tmp_path: Path, monkeypatch, capsys
                                                      ) -> None:
    _fill(env, key)
    _queue_work(env, key)
    work = _work(env, key)
    assert {name: len(rows) for name, rows in work.items()} == {
        "schedule": 2, "outbox": 1, "updates": 1, "inbox": 1}
    before = _contents(TinyDBStore(env, key))
    source_anchor = AuditLog(env, TinyDBStore(env, key).cipher).verify().anchor

    assert main(["store", "migrate", "--to", pg_url]) == 0
    said = capsys.readouterr().out
    assert f"copied {len(SHARDS)} shards and 12 audit entries" in said
    assert "1 outbox" in said and "2 schedule" in said
    pg = PostgresStore(pg_url, key)
    assert _contents(pg) == before
    reminders = PgScheduler(pg).tagged("session:S1")
    assert [(i.kind, i.due, i.data) for i in reminders] == [
        ("session_reminder", AT + timedelta(days=400), {"session": "S1"})]
    assert PgAuditLog(pg.pool, pg.cipher).verify().anchor == source_anchor
    pg.close()

    back = tmp_path / "back"
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(back))
    assert main(["store", "migrate", "--from", pg_url]) == 0
    assert f"copied {len(SHARDS)} shards and 12 audit entries" in capsys.readouterr().out
    again = TinyDBStore(back, key)
    assert _contents(again) == before
    assert _work(back, key) == work  # the work still to come came back, the same
    audit = AuditLog(back, again.cipher)
    assert audit.verify().anchor == source_anchor
    assert [e.details for e in audit.entries()] == [{"case_id": f"K{i}"} for i in range(12)]
    audit.record("system", "case_closed", why="casework", at=AT)  # the chain goes on
    assert audit.verify().ok


def test_a_non_empty_database_is_refused_and_left_as_it_was(env: Path, key: bytes, pg_url: str,
                                                            capsys) -> None:
    _fill(env, key)
    pg = PostgresStore(pg_url, key)
    with pg.transaction("chat:telegram:0") as db:
        db.insert({"mine": True})
    pg.close()
    assert main(["store", "migrate", "--to", pg_url]) == 1
    assert "not empty" in capsys.readouterr().err
    pg = PostgresStore(pg_url, key)
    assert pg.count() == 1
    with pg.snapshot("chat:telegram:0") as db:
        assert db.all() == [{"mine": True}]
    pg.close()


def test_a_non_empty_folder_is_refused_and_left_as_it_was(env: Path, key: bytes, pg_url: str,
                                                          monkeypatch, tmp_path, capsys) -> None:
    _fill(env, key)
    assert main(["store", "migrate", "--to", pg_url]) == 0
    other = tmp_path / "other"
    store = TinyDBStore(other, key)
    with store.transaction("case:mine") as db:
        db.insert({"v": 1})
    store.close()
    files = all_files(other)
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(other))
    assert main(["store", "migrate", "--from", pg_url]) == 1
    assert "not empty" in capsys.readouterr().err
    assert all_files(other) == files


def test_a_damaged_shard_stops_the_copy_and_nothing_is_copied(env: Path, key: bytes,
                                                              pg_url: str, capsys) -> None:
    _fill(env, key)
    damage_shard(str(env), key, "chat:telegram:7")
    assert main(["store", "migrate", "--to", pg_url]) == 1
    assert "doctor" in capsys.readouterr().err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM counsel_shards").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM counsel_audit").fetchone() == (0,)


def test_an_altered_audit_chain_stops_the_copy(env: Path, key: bytes, pg_url: str,
                                               capsys) -> None:
    _fill(env, key)
    log = env / "audit" / "audit.log"
    data = bytearray(log.read_bytes())
    data[40] ^= 0x55  # inside the first entry
    log.write_bytes(bytes(data))
    assert main(["store", "migrate", "--to", pg_url]) == 1
    assert "audit chain" in capsys.readouterr().err
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM counsel_shards").fetchone() == (0,)
