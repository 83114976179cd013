"""The bot's default limits against a fake Bot API that enforces Telegram's: a fan-out to
hundreds of chats while one returnee writes several messages, on both frameworks, and not
one 429."""

from __future__ import annotations

import pytest

from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.runtime.transport import OutMessage
from tests.fake_bot_api.server import FakeBotApi
from tests.telegram.conftest import start_bot, stop_bot

FAN_OUT = 240  # chats, one message each
FIRST_CHAT = 7_000
RETURNEE = 5_554_001
WRITES = ("hello", "are you there?", "hello again", "I need help with papers")


@pytest.mark.slow
async def test_a_fan_out_and_a_busy_chat_meet_telegrams_limits(tmp_path, framework):
    defaults = Limits()
    # Telegram: 30 messages a second over all chats; in one chat a short burst, then about
    # one a second. The fake counts each message when its request reaches it.
    async with FakeBotApi(global_limit_per_sec=int(defaults.per_second),
                          per_chat_limit_per_sec=defaults.per_chat_burst) as api:
        bot = await start_bot(api, tmp_path, framework, "polling", limits=defaults)
        try:
            outbox = bot.runner.outbox
            outbox.enqueue_bulk((f"telegram:{chat}", OutMessage(chat, f"check-in {chat}"))
                                for chat in range(FIRST_CHAT, FIRST_CHAT + FAN_OUT))
            await bot.text(RETURNEE, "/start")
            for text in WRITES:
                await bot.text(RETURNEE, text)
            await bot.runner.wait_idle(timeout=60)
            await outbox.wait_idle(timeout=120)
            await bot.settle()

            assert api.count_429 == 0
            assert outbox.stats["rate_limited"] == 0
            assert outbox.stats["retried"] == outbox.stats["failed"] == 0
            for chat in range(FIRST_CHAT, FIRST_CHAT + FAN_OUT):
                assert [m["text"] for m in api.messages_to(chat)] == [f"check-in {chat}"]
            to_returnee = api.messages_to(RETURNEE)
            assert len(to_returnee) >= 2 + 2 * len(WRITES)  # /start, then each answered
            assert outbox.stats["sent"] == len(api.sent) == FAN_OUT + len(to_returnee)
        finally:
            await stop_bot(bot)
