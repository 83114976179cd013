"""Damage is contained and recoverable: a damaged chat shard, a damaged journal record,
`counsel-bot doctor`, and the modes of the data folder, on the real bot and frameworks."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from counsel_bot.engine.effects import Priority
from counsel_bot.i18n.catalogs import language_name
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.runtime.journal import data_journal
from counsel_bot.runtime.outbox import Queued
from counsel_bot.runtime.scheduler import Item
from counsel_bot.runtime.transport import OutMessage
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.telegram.updates import chat_key
from tests.damage import damage_frame, flip, frames
from tests.telegram.conftest import (
    LiveBot,
    SimClock,
    button_data,
    join,
    start_bot,
    stop_bot,
)

WORKER, RETURNEE = 9101, 9102
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECRET = "mon frère Karim dort dehors"  # a returnee's words: never in a log line


async def cli(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    """The real command line, in its own process (it sets its own umask)."""
    full = {**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
            "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key"), **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", *args, env=full,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, (out + err).decode()


async def opened_case(bot: LiveBot, lang: str = "fr") -> str:
    registry = bot.app.conversations.registry
    registry.add_caseworker(WORKER, "Nadia", language="en")
    case, invitation = registry.open_case(WORKER, "XS", lang, "Europe/Paris")
    await join(bot, RETURNEE, invitation.code, lang)
    return case.case_id


async def press_last(bot: LiveBot, label: str) -> None:
    await bot.press(RETURNEE, button_data(bot.api.messages_to(RETURNEE)[-1], label))
    await bot.settle()


def quarantined(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "data" / "quarantine"
    return sorted(folder.iterdir()) if folder.exists() else []


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- a damaged chat shard ------------------------------------------------------------------

async def test_a_damaged_chat_shard_asks_the_returnee_to_start_again(
        fake_bot_api, tmp_path, framework, caplog):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api, tr = fake_bot_api, bot.app.context.translator("fr")
    try:
        case_id = await opened_case(bot)
        chat = chat_key(RETURNEE)
        shard = Path(bot.app.store._handle(f"chat:{chat}", exclusive=False).data)
        damaged = flip(shard, len(shard.read_bytes()) // 2)
        audit_before = [e.hash for e in bot.app.audit.entries()]
        since = len(api.sent)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await bot.text(RETURNEE, SECRET, language_code="en")  # the app is in English
            answer = await bot.replies(RETURNEE, since=since)
            await bot.settle()
        # the kind answer, in the language of their case (not their app's)
        assert answer[0]["text"] == bot.app.context.system_text("fr", "conversation_lost")
        assert len(api.sent) == since + 1
        logged = errors(caplog)
        assert len(logged) == 1 and "quarantine" in logged[0], logged
        assert SECRET not in caplog.text and str(RETURNEE) not in logged[0]
        assert case_id not in logged[0]
        assert [p.read_bytes() for p in quarantined(tmp_path)] == [damaged]  # kept as it was
        case = bot.app.conversations.registry.case(case_id)
        assert case is not None and case.chat == chat and case.status == "active"
        code, out = await cli(tmp_path, "audit", "verify")
        assert code == 0 and "chain intact" in out, out
        assert [e.hash for e in bot.app.audit.entries()][:len(audit_before)] == audit_before

        await bot.text(RETURNEE, "/start", language_code="en")  # they start again
        await bot.replies(RETURNEE, 2, since=since + 1)
        await bot.settle()
        await press_last(bot, language_name("fr"))
        for label in ("Yes, I agree", "Yes, alert my case worker", "Yes, send check-ins"):
            await press_last(bot, tr(label))
        state = bot.app.conversations.state_of(chat)
        assert state.case_id == case_id and state.has_consent("counselling")
        await press_last(bot, tr("Write to my case worker"))
        await bot.text(RETURNEE, "Je voudrais un rendez-vous", language_code="en")
        await api.wait_for_sent(lambda r: "Je voudrais un rendez-vous" in r.get("text", ""),
                                chat_id=WORKER, timeout=10)
    finally:
        await stop_bot(bot)


# -- a damaged journal record --------------------------------------------------------------

async def restart_with(tmp_path: Path, api, framework: str, journal: str, records: list[dict],
                       clock: SimClock | None = None) -> tuple[LiveBot, bytes]:
    """Run the bot once and stop it; append `records` to a journal and damage the middle
    one; start the bot again. Returns it and the damaged frame."""
    first = await start_bot(api, tmp_path, framework, "polling", clock=clock)
    await stop_bot(first)
    cipher = ShardCipher(first.app.key)
    opened = data_journal(tmp_path / "data", journal, cipher)
    opened.append(records)
    opened.close()
    middle = len(frames(opened.path.read_bytes())) - 2
    damaged = damage_frame(opened.path, middle)
    return await start_bot(api, tmp_path, framework, "polling", clock=clock), damaged


def one_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture, journal: str,
                  damaged: bytes) -> None:
    logged = errors(caplog)
    assert len(logged) == 1 and f"{journal}.journal" in logged[0], logged
    assert "secret" not in caplog.text
    kept = [p for p in quarantined(tmp_path) if p.name.startswith(f"{journal}.")]
    assert [p.read_bytes() for p in kept] == [damaged]


async def test_a_damaged_outbox_record_does_not_stop_the_bot(fake_bot_api, tmp_path, framework,
                                                             caplog):
    records = [Queued(Priority.REPLY, 900 + i, f"telegram:{8000 + i}",
                      OutMessage(8000 + i, f"secret {i}")).record() for i in range(3)]
    with caplog.at_level(logging.WARNING):
        bot, damaged = await restart_with(tmp_path, fake_bot_api, framework, "outbox", records)
    try:
        await fake_bot_api.wait_for_sent(lambda r: r["text"] in ("secret 0", "secret 2"),
                                         count=2, timeout=10)
        await bot.settle()
        assert "secret 1" not in [r["text"] for r in fake_bot_api.sent]
        one_set_aside(tmp_path, caplog, "outbox", damaged)
    finally:
        await stop_bot(bot)


async def test_a_damaged_schedule_record_does_not_stop_the_bot(fake_bot_api, tmp_path,
                                                               framework, caplog):
    due = START + timedelta(days=30)
    items = [Item(due, f"item{i}", "session_reminder", {"secret": f"secret {i}"},
                  ("recovery",)) for i in range(3)]
    with caplog.at_level(logging.WARNING):
        bot, damaged = await restart_with(tmp_path, fake_bot_api, framework, "schedule",
                                          [i.record() for i in items], clock=SimClock(START))
    try:
        assert sorted(i.id for i in bot.runner.scheduler.tagged("recovery")) == ["item0", "item2"]
        one_set_aside(tmp_path, caplog, "schedule", damaged)
    finally:
        await stop_bot(bot)


async def test_a_damaged_update_record_does_not_stop_the_bot(fake_bot_api, tmp_path, framework,
                                                             caplog):
    users = [8100, 8101, 8102]
    updates = [fake_bot_api.user_sends_text(user, f"secret {user}", queue=False)
               for user in users]
    with caplog.at_level(logging.WARNING):
        bot, damaged = await restart_with(tmp_path, fake_bot_api, framework, "updates",
                                          [{"op": "in", "update": u} for u in updates])
    try:
        for user in (users[0], users[2]):  # the updates accepted before the stop are handled
            await bot.replies(user, since=0)
        await bot.settle()
        assert fake_bot_api.messages_to(users[1]) == []
        one_set_aside(tmp_path, caplog, "updates", damaged)
    finally:
        await stop_bot(bot)


# -- counsel-bot doctor on a real bot's data -----------------------------------------------

async def test_doctor_repair_lets_a_bot_start_that_could_not(fake_bot_api, tmp_path, framework):
    first = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    await first.text(RETURNEE, "/start")
    await first.replies(RETURNEE, 2, since=0)
    await first.settle()
    await stop_bot(first)
    path = tmp_path / "data" / "updates" / "updates.journal"
    for index in range(len(frames(path.read_bytes()))):  # every record damaged
        damage_frame(path, index)
    code, out = await cli(tmp_path, "run", "--framework", framework, "--step-processes", "0",
                          COUNSEL_BOT_TOKEN=fake_bot_api.token,
                          COUNSEL_BOT_API_URL=fake_bot_api.root)
    assert code == 2 and "no record authenticates" in out and "Traceback" not in out, out
    code, out = await cli(tmp_path, "doctor")
    assert code == 1 and "no record authenticates although the key is right" in out, out
    code, out = await cli(tmp_path, "doctor", "--repair")
    assert code == 0 and "moved updates/updates.journal to quarantine/updates." in out, out
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    try:
        since = len(fake_bot_api.sent)
        await bot.text(RETURNEE, "/help")
        await bot.replies(RETURNEE, since=since)
    finally:
        await stop_bot(bot)
    code, out = await cli(tmp_path, "doctor")
    assert code == 0 and "no damage found" in out, out


async def test_doctor_repairs_nothing_while_the_bot_runs(fake_bot_api, tmp_path):
    bot = await start_bot(fake_bot_api, tmp_path, "ptb", "polling", clock=SimClock(START))
    try:
        case_id = await opened_case(bot)
        shard = Path(bot.app.store._handle(f"case:{case_id}", exclusive=False).data)
        damaged = flip(shard, 40)
        code, out = await cli(tmp_path, "doctor", "--repair")
        assert code == 1, out
        assert "the bot is running" in out and "nothing was repaired" in out, out
        assert shard.read_bytes() == damaged and quarantined(tmp_path) == []
    finally:
        await stop_bot(bot)
    code, out = await cli(tmp_path, "doctor", "--repair")
    assert code == 0 and "moved shards/" in out, out
    assert [p.read_bytes() for p in quarantined(tmp_path)] == [damaged]


# -- modes, whatever the umask -------------------------------------------------------------

async def test_every_file_is_private_whatever_the_umask(fake_bot_api, tmp_path, framework):
    old = os.umask(0o022)
    try:
        bot = await start_bot(fake_bot_api, tmp_path, framework, "polling",
                              clock=SimClock(START))
        try:
            case_id = await opened_case(bot)
            Inbox(bot.app.settings.data_dir, ShardCipher(bot.app.key)).post(
                {"type": "checkins", "case_id": case_id})
            code, out = await cli(tmp_path, "case", "show", case_id)
            assert code == 0, out
            code, out = await cli(tmp_path, "doctor")
            assert code == 0, out
            await bot.settle()
            bot.runner.outbox.journal.rewrite([])  # a compaction, as after many messages
            shard = Path(bot.app.store._handle(f"chat:{chat_key(RETURNEE)}",
                                               exclusive=False).data)
            flip(shard, 40)  # set aside at the next message: quarantine/ is made now
            since = len(fake_bot_api.sent)
            await bot.text(RETURNEE, "Bonjour")
            await bot.replies(RETURNEE, since=since)
        finally:
            await stop_bot(bot)
        damage_frame(tmp_path / "data" / "updates" / "updates.journal", 1)
        again = await start_bot(fake_bot_api, tmp_path, framework, "polling",
                                clock=SimClock(START))  # sets a record aside
        await stop_bot(again)
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert len(quarantined(tmp_path)) == 2 and (data / "inbox").is_dir()
    seen = {"dirs": 0, "files": 0}
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        kind = "dirs" if path.is_dir() else "files"
        seen[kind] += 1
        assert mode == (0o700 if kind == "dirs" else 0o600), (path.relative_to(tmp_path), oct(mode))
    assert seen["dirs"] >= 8 and seen["files"] >= 10
    for path in (tmp_path / "keys", tmp_path / "keys" / "key"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600)
