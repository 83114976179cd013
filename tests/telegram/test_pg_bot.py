"""The whole bot on the PostgreSQL store (COUNSEL_BOT_DATABASE_URL), through the real frameworks
and the fake Bot API: a returnee joins and writes in distress, the case worker is alerted,
the database holds none of it in plain text, and the audit chain in it verifies."""

from __future__ import annotations

import psycopg
import pytest

from counsel_bot.audit.pg import PgAuditLog
from counsel_bot.store.postgres import PostgresStore
from tests.pg_server import all_rows
from tests.telegram.conftest import (
    button_data,
    french_returnee_in_distress,
    start_bot,
    stop_bot,
)

WORKER, RETURNEE = 820_173_645, 820_273_645  # long: a short number turns up in hex hashes


@pytest.mark.parametrize(("framework", "mode", "processes"),
                         [("ptb", "polling", 0), ("aiogram", "webhook", 1)])
async def test_a_returnee_on_the_postgresql_store(fake_bot_api, tmp_path, pg_url, framework,
                                                  mode, processes):
    bot = await start_bot(fake_bot_api, tmp_path, framework, mode, step_processes=processes,
                          database_url=pg_url)
    api = fake_bot_api
    try:
        assert isinstance(bot.app.store, PostgresStore)
        case, _answer, alert = await french_returnee_in_distress(bot, WORKER, RETURNEE)
        assert case.case_id in alert["text"]
        mark = api.mark()
        await bot.press(WORKER, button_data(alert, "Show details"))
        (details,) = await bot.replies(WORKER, since=mark)
        assert "je veux mourir" in details["text"]  # read back from the database
        audit = bot.app.audit
        assert isinstance(audit, PgAuditLog)
        result = audit.verify()
        assert result.ok and result.entries >= 2
        assert "alert_details_viewed" in {e.event for e in audit.entries()}
    finally:
        await stop_bot(bot)
    for table, rows in all_rows(pg_url).items():  # text forms, and bytea columns raw
        for row in rows:
            for needle in ("mourir", str(RETURNEE), case.case_id, "Nadia"):
                assert needle.encode() not in row, (needle, table)
    with psycopg.connect(pg_url) as conn:
        (shards,) = conn.execute("SELECT count(*) FROM counsel_shards").fetchone()
    assert shards >= 3  # the chat, the case, the case workers
