"""`counsel-bot doctor [--repair]` on PostgreSQL: it checks the database, not the (empty)
data folder. Damaged shard rows and queue rows are reported by id and count, never content;
--repair sets them aside in counsel_quarantine, as they were; the audit chain is never
changed; a wrong key is refused and an empty database is not given a key."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from counsel_bot.cli.doctor import run_doctor
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.pg_inbox import PgInbox
from counsel_bot.store.keys import encode_key
from counsel_bot.store.pg_shared import PgQueue
from counsel_bot.store.postgres import PostgresStore
from tests.seeded_app import app_with_a_case

WORKER = 9202
SECRET = "Samira a peur de son propriétaire"  # what a returnee wrote: never printed


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, key: bytes, monkeypatch) -> Settings:
    monkeypatch.setenv("COUNSEL_BOT_KEY", encode_key(key))
    monkeypatch.setenv("COUNSEL_BOT_KEY_FILE", str(tmp_path / "no-key"))
    return Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
                              "COUNSEL_BOT_DATABASE_URL": pg_url})


def build(settings: Settings, key: bytes) -> str:
    """A database with a case, audit entries, an outbox message and an inbox note."""
    app, case_id = app_with_a_case(settings, WORKER)
    app.close()
    store = PostgresStore(settings.database_url or "", key)
    try:
        PgQueue(store, "outbox").put({"text": SECRET}, chat="1", key="m:1")
        PgQueue(store, "outbox").put({"text": "second"}, chat="1", key="m:2")
        PgInbox(store).post({"type": "session", "text": SECRET})
    finally:
        store.close()
    return case_id


def doctor(settings: Settings, case_id: str, *, repair: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(argparse.Namespace(repair=repair), settings, out)
    text = out.getvalue()
    assert SECRET not in text and case_id not in text and "Nadia" not in text
    return code, text


def flip(url: str, sql_select: str, table: str, column: str, by: str = "id"
         ) -> tuple[str, bytes]:
    """Flip one byte of one row's blob; returns the row's id and the damaged blob."""
    with psycopg.connect(url) as conn:
        (rid,) = conn.execute(sql_select).fetchone()
        (blob,) = conn.execute(
            f"UPDATE {table} SET {column} = set_byte({column}, 40, get_byte({column}, 40) # 255)"
            f" WHERE {by} = %s RETURNING {column}", (rid,)).fetchone()
        return str(rid), bytes(blob)


def quarantined(url: str) -> list[tuple[str, bytes]]:
    with psycopg.connect(url) as conn:
        return [(i, bytes(b)) for i, b in conn.execute(
            "SELECT id, blob FROM counsel_quarantine ORDER BY n").fetchall()]


def test_a_healthy_database_is_reported_clean(settings, key):
    case_id = build(settings, key)
    code, out = doctor(settings, case_id)
    assert code == 0, out
    assert "shards: " in out and "row(s), intact" in out
    assert "queue outbox: 2 row(s) waiting, intact" in out
    assert "queue inbox: 1 row(s) waiting, intact" in out
    assert "audit chain: " in out and "entries, intact" in out
    assert out.strip().endswith("no damage found")
    assert not (settings.data_dir / "shards").exists()  # the folder was not looked at


def test_damaged_shard_and_queue_rows_are_reported_and_repair_sets_them_aside(
        settings, key, pg_url):
    case_id = build(settings, key)
    shard, shard_blob = flip(pg_url, "SELECT id FROM counsel_shards WHERE blob IS NOT NULL "
                             "ORDER BY id LIMIT 1", "counsel_shards", "blob")
    row, row_blob = flip(pg_url, "SELECT min(id) FROM counsel_queue WHERE queue = 'outbox'",
                         "counsel_queue", "payload")
    code, out = doctor(settings, case_id)
    assert code == 1, out
    assert f"damaged shard: {shard}" in out and f"damaged rows: {row}" in out
    assert "queue outbox: 2 row(s) waiting, 1 damaged" in out
    assert "damage found (shard: 1, queue: 1)" in out and "--repair" in out
    assert quarantined(pg_url) == []
    code, out = doctor(settings, case_id, repair=True)
    assert code == 0 and "repaired" in out, out
    assert quarantined(pg_url) == [(shard, shard_blob), (f"queue:outbox:{row}", row_blob)]
    code, out = doctor(settings, case_id)
    assert code == 0 and "queue outbox: 1 row(s) waiting, intact" in out, out
    store = PostgresStore(pg_url, key)
    try:  # the intact message is still there to send
        [claim] = PgQueue(store, "outbox").claim(10)
        assert claim.payload == {"text": "second"}
    finally:
        store.close()


def test_a_damaged_audit_chain_is_reported_and_never_changed(settings, key, pg_url):
    case_id = build(settings, key)
    _seq, damaged = flip(pg_url, "SELECT min(seq) FROM counsel_audit", "counsel_audit",
                         "blob", by="seq")
    code, out = doctor(settings, case_id)
    assert code == 1 and "audit chain: 0 entries intact, then damage: entry 1" in out, out
    code, out = doctor(settings, case_id, repair=True)
    assert code == 1 and "still damaged (audit: 1)" in out and "never changes it" in out, out
    with psycopg.connect(pg_url) as conn:
        (blob,) = conn.execute("SELECT blob FROM counsel_audit ORDER BY seq LIMIT 1").fetchone()
    assert bytes(blob) == damaged and quarantined(pg_url) == []


def test_an_empty_database_is_not_given_a_key(settings, tmp_path):
    code, out = doctor(settings, "no case yet")
    assert code == 2 and "holds no counsel-bot data yet" in out, out
    assert not (tmp_path / "no-key").exists()


def test_the_command_refuses_a_wrong_key_and_changes_nothing(settings, key, pg_url, tmp_path):
    build(settings, key)
    flip(pg_url, "SELECT min(id) FROM counsel_queue", "counsel_queue", "payload")
    env = {**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_DATABASE_URL": pg_url,
           "COUNSEL_BOT_KEY": encode_key(os.urandom(32))}
    done = subprocess.run([sys.executable, "-m", "counsel_bot.cli", "doctor", "--repair"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stdout == "" and "key" in done.stderr
    assert quarantined(pg_url) == []
