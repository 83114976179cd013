"""Telegram's limits and failures, injected by the fake server, met by the real outbox."""

from __future__ import annotations

import asyncio
import time

import pytest

from counsel_bot.runtime.conversations import chat_shard
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.telegram.chats import DELIVERY_TABLE
from counsel_bot.telegram.updates import chat_key
from tests.telegram.conftest import LiveBot, start_bot, stop_bot

USER = 5553001
WELCOME = "Welcome. I am the counselling assistant"


def texts_to(bot: LiveBot, user: int) -> list[str]:
    return [r["text"] for r in bot.api.messages_to(user)]


async def test_429_is_obeyed_and_nothing_is_sent_twice(polling_bot: LiveBot):
    bot = polling_bot
    bot.api.inject("sendMessage", "429", retry_after=1)
    started = time.monotonic()
    await bot.text(USER, "/start")
    await bot.replies(USER, 2, since=0)
    assert time.monotonic() - started >= 1.0
    await bot.settle()
    assert sum(t.startswith(WELCOME) for t in texts_to(bot, USER)) == 1
    assert bot.runner.outbox.stats["rate_limited"] == 1


@pytest.mark.parametrize("fault", ["5xx", "disconnect"])
async def test_server_and_network_errors_are_retried(polling_bot: LiveBot, fault: str):
    bot = polling_bot
    bot.api.inject("sendMessage", fault, times=2)
    await bot.text(USER, "/start")
    await bot.replies(USER, 2, since=0, timeout=15)
    await bot.settle()
    assert sum(t.startswith(WELCOME) for t in texts_to(bot, USER)) == 1
    assert bot.runner.outbox.stats["retried"] >= 2


async def test_html_error_page_from_a_proxy_is_retried(polling_bot: LiveBot):
    bot = polling_bot
    bot.api.inject("sendMessage", "5xx", status=502, html=True)
    await bot.text(USER, "/start")
    await bot.replies(USER, 2, since=0, timeout=15)


async def test_a_blocked_bot_stops_sending_and_marks_the_person_unreachable(
        polling_bot: LiveBot):
    bot = polling_bot
    bot.api.inject("sendMessage", "403_blocked", times=None, chat_id=USER)
    await bot.text(USER, "/start")
    await bot.settle()
    assert texts_to(bot, USER) == []
    assert bot.runner.outbox.stats["blocked"] == 2  # the welcome and the question: dropped
    with bot.app.store.snapshot(chat_shard(chat_key(USER))) as db:
        assert db.table(DELIVERY_TABLE).all()[0]["unreachable_since"]
    attempts = [c for c in bot.api.calls_to("sendMessage") if int(c["params"]["chat_id"]) == USER]
    assert len(attempts) == 1  # nothing tried after the first 403


async def test_a_timeout_is_retried(fake_bot_api, tmp_path, framework):
    fake_bot_api.inject("sendMessage", "timeout", delay=3.0, deliver=False)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", request_timeout=1.0)
    try:
        await bot.text(USER, "/start")
        await bot.replies(USER, 2, since=0, timeout=15)
        assert bot.runner.outbox.stats["retried"] >= 1
    finally:
        await stop_bot(bot)


async def test_queued_messages_survive_a_restart_and_go_once(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    fake_bot_api.inject("sendMessage", "5xx", times=None)
    await bot.text(USER, "/start")
    await bot.runner.wait_idle(timeout=10)
    for _ in range(50):
        if bot.runner.outbox.stats["retried"]:
            break
        await asyncio.sleep(0.05)
    assert bot.runner.outbox.pending == 2
    await stop_bot(bot)
    fake_bot_api.clear_faults()
    again = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    try:
        await again.replies(USER, 2, since=0)
        await again.settle()
        assert sum(t.startswith(WELCOME) for t in texts_to(again, USER)) == 1
        assert again.runner.outbox.pending == 0
    finally:
        await stop_bot(again)


async def test_urgent_and_replies_go_before_bulk(fake_bot_api, tmp_path, framework):
    from counsel_bot.engine.effects import Priority
    from counsel_bot.runtime.transport import OutMessage

    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling",
                          limits=Limits(per_second=20))
    try:
        outbox = bot.runner.outbox
        outbox.enqueue_bulk((f"telegram:{7000 + i}", OutMessage(7000 + i, f"bulk {i}"))
                            for i in range(60))
        outbox.enqueue("telegram:6999", [OutMessage(6999, "urgent")], Priority.URGENT)
        await fake_bot_api.wait_for_sent(lambda r: r["text"] == "urgent", timeout=5)
        position = [r["text"] for r in fake_bot_api.sent].index("urgent")
        assert position <= 25  # only what was already in flight or in the first window
        await bot.settle()
    finally:
        await stop_bot(bot)


async def test_messages_sent_before_a_restart_are_not_sent_again(fake_bot_api, tmp_path,
                                                                 framework):
    """Outcomes are journalled in batches, one record per turn of the event loop; a restart
    reads them back and sends nothing a second time."""
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    for user in range(USER, USER + 5):
        await bot.text(user, "/start")
    await bot.settle()
    assert len(fake_bot_api.sent) == 10
    await stop_bot(bot)
    journal = Journal(bot.runner.outbox.journal.path, ShardCipher(bot.app.key))
    done = [r for r in journal.replay() if r["op"] == "done"]
    journal.close()
    assert sorted(i for r in done for i, outcome in r["ids"] if outcome == "sent") \
        == list(range(1, 11))
    again = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    try:
        assert again.runner.outbox.pending == 0
        await asyncio.sleep(0.3)
        assert len(fake_bot_api.sent) == 10
    finally:
        await stop_bot(again)
