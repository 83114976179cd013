"""The admin command line against the database from any machine: with
COUNSEL_BOT_DATABASE_URL and COUNSEL_BOT_KEY set and an empty data folder, the commands that
tell the bot something leave their notes in the database's inbox, where a bot instance on
another machine takes them, and nothing in the folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from counsel_bot.runtime.pg_inbox import PgInbox
from counsel_bot.store.keys import encode_key
from counsel_bot.store.postgres import PostgresStore
from tests.future import local

WORKER = 7101


def cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "counsel_bot.cli", *args, "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_commands_that_tell_the_bot_post_into_the_database(tmp_path: Path, pg_url, key):
    data = tmp_path / "elsewhere"  # an admin's machine: an empty folder, no key file
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNSEL_BOT_")}
    env.update(COUNSEL_BOT_DATABASE_URL=pg_url, COUNSEL_BOT_KEY=encode_key(key),
               COUNSEL_BOT_DATA_DIR=str(data), COUNSEL_BOT_KEY_FILE=str(tmp_path / "no-key"),
               COUNSEL_BOT_EMBEDDINGS="none")
    cli(env, "caseworker", "add", "--name", "Nadia", "--telegram-id", str(WORKER))
    case = cli(env, "case", "new", "--caseworker", str(WORKER), "--country", "XS",
               "--language", "fr", "--timezone", "Europe/Paris")["case_id"]
    cli(env, "case", "checkins", case, "--arrival", local(11, 20, "")[:10], "--days", "3,7")
    session = cli(env, "session", "schedule", case, "--at", local(12, 1, "14:30"),
                  "--place", "Bureau 3")
    cli(env, "caseworker", "web-link", str(WORKER))
    cli(env, "case", "close", case, "--reason", "completed")
    assert list(data.rglob("*")) == []  # nothing on the admin's machine
    assert not (tmp_path / "no-key").exists()

    store = PostgresStore(pg_url, key)  # a bot instance, somewhere else
    try:
        inbox = PgInbox(store)
        notes = inbox.take()
        assert [n["type"] for _c, n in notes] == ["checkins", "session", "web_link", "closed"]
        assert notes[1][1]["session_id"] == session["session_id"]
        for claim, _note in notes:
            inbox.done(claim)
        assert PgInbox(store).take() == []
    finally:
        store.close()
