"""`counsel-bot store migrate`: a data folder into PostgreSQL and back, verified; refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from store_helpers import all_files

from counsel_bot.audit import AuditLog
from counsel_bot.audit.pg import PgAuditLog
from counsel_bot.cli.main import main
from counsel_bot.store import TinyDBStore
from counsel_bot.store.keys import encode_key
from counsel_bot.store.postgres import PostgresStore
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
    before = _contents(TinyDBStore(env, key))
    source_anchor = AuditLog(env, TinyDBStore(env, key).cipher).verify().anchor

    assert main(["store", "migrate", "--to", pg_url]) == 0
    assert f"copied {len(SHARDS)} shards and 12 audit entries" in capsys.readouterr().out
    pg = PostgresStore(pg_url, key)
    assert _contents(pg) == before
    assert PgAuditLog(pg.pool, pg.cipher).verify().anchor == source_anchor
    pg.close()

    back = tmp_path / "back"
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(back))
    assert main(["store", "migrate", "--from", pg_url]) == 0
    assert f"copied {len(SHARDS)} shards and 12 audit entries" in capsys.readouterr().out
    again = TinyDBStore(back, key)
    assert _contents(again) == before
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
