"""Bad input through Telegram: forged, replayed, foreign and expired buttons; media; edits;
groups and channels. Each gets a kind answer, and nothing changes or crashes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from counsel_bot.telegram.updates import chat_key
from tests.telegram.conftest import LiveBot, button_data

USER, OTHER = 5552001, 5552002


async def onboard_to_consent(bot: LiveBot, user: int = USER) -> dict:
    await bot.text(user, "/start", language_code="en")
    await bot.replies(user, 2, since=0)
    await bot.settle()
    return bot.api.messages_to(user)[-1]


def state(bot: LiveBot, user: int = USER) -> dict:
    return bot.app.conversations.state_of(chat_key(user)).to_dict()


STALE = "That button belongs to an earlier message. Here is where we are now."


async def test_forged_callback_data_is_refused_kindly(live_bot: LiveBot):
    bot = live_bot
    await onboard_to_consent(bot)
    before = state(bot)
    mark = bot.api.mark()
    await bot.press(USER, "onboarding.language:fr", strict=False)  # a guessed meaning
    stale, repeat = await bot.replies(USER, 2, since=mark)
    assert stale["text"] == STALE
    assert repeat["text"] == "Which language would you like to use?"
    assert state(bot) == before


async def test_a_replayed_button_is_refused(live_bot: LiveBot):
    bot = live_bot
    question = await onboard_to_consent(bot)
    key = button_data(question, "English")
    await bot.press(USER, key)
    await bot.settle()
    after_first = state(bot)
    mark = bot.api.mark()
    await bot.press(USER, key, message_id=question["message_id"])
    await bot.replies(USER, 2, since=mark)
    assert bot.api.sent[mark]["text"] == STALE
    assert state(bot) == after_first


async def test_a_key_sent_to_someone_else_is_refused(live_bot: LiveBot):
    bot = live_bot
    question = await onboard_to_consent(bot, USER)
    await onboard_to_consent(bot, OTHER)
    others_before = state(bot, OTHER)
    mark = bot.api.mark()
    await bot.press(OTHER, button_data(question, "Français"), strict=False)
    await bot.replies(OTHER, 2, since=mark)
    assert bot.api.messages_to(OTHER)[-2]["text"] == STALE
    assert state(bot, OTHER) == others_before
    assert state(bot, USER)["language"] == "en"


async def test_an_expired_key_is_refused(live_bot: LiveBot):
    bot = live_bot
    question = await onboard_to_consent(bot)
    real_clock = bot.app.conversations.clock
    bot.app.conversations.clock = lambda: real_clock() + timedelta(days=15)
    before = state(bot)
    mark = bot.api.mark()
    await bot.press(USER, button_data(question, "English"))
    await bot.replies(USER, 2, since=mark)
    assert bot.api.sent[mark]["text"] == STALE
    assert state(bot) == before


@pytest.mark.parametrize("kind", ["photo", "voice", "sticker", "location", "document"])
async def test_media_get_a_kind_answer(polling_bot: LiveBot, kind: str):
    bot = polling_bot
    await onboard_to_consent(bot)
    before = state(bot)
    mark = bot.api.mark()
    await bot.send(bot.api.user_sends(USER, kind))
    (reply,) = await bot.replies(USER, since=mark)
    assert reply["text"] == ("I can only read text messages and buttons. Please write your "
                             "message as text.")
    assert state(bot) == before


async def test_an_edited_message_gets_a_kind_answer(live_bot: LiveBot):
    bot = live_bot
    await onboard_to_consent(bot)
    sent = bot.api.user_sends_text(USER, "hello")
    await bot.send(sent)
    await bot.settle()
    mark = bot.api.mark()
    await bot.send(bot.api.user_edits_message(USER, sent["message"]["message_id"], "hi"))
    (reply,) = await bot.replies(USER, since=mark)
    assert reply["text"].startswith("I cannot read changes to a message")


async def test_huge_and_garbled_text_get_kind_answers(live_bot: LiveBot):
    bot = live_bot
    await onboard_to_consent(bot)
    before = state(bot)
    mark = bot.api.mark()
    await bot.text(USER, "x" * 20_000)
    await bot.text(USER, "bad \x00\x07 bytes")
    await bot.text(USER, "/frobnicate")
    replies = await bot.replies(USER, 3, since=mark)
    assert replies[0]["text"].startswith("That message is too long for me to read")
    assert replies[1]["text"].startswith("I could not read some characters")
    assert replies[2]["text"].startswith("I do not know that command")
    assert state(bot) == before


async def test_a_group_is_told_the_bot_works_in_private_and_left(live_bot: LiveBot):
    bot = live_bot
    group = -1001234567890
    await bot.send(bot.api.group_message(USER, "hello bot", chat_id=group))
    (reply,) = await bot.api.wait_for_sent(chat_id=group)
    assert reply["text"].startswith("I work only in private chats")
    await bot.api.wait_for_call("leaveChat", lambda p: int(p["chat_id"]) == group)


async def test_being_added_to_a_group_says_so_and_leaves(live_bot: LiveBot):
    bot = live_bot
    group = -1001234567891
    await bot.send(bot.api.bot_added_to_group(USER, group))
    (reply,) = await bot.api.wait_for_sent(chat_id=group)
    assert reply["text"].startswith("I work only in private chats")
    await bot.api.wait_for_call("leaveChat", lambda p: int(p["chat_id"]) == group)


async def test_a_channel_is_left_without_a_word(live_bot: LiveBot):
    bot = live_bot
    channel = -1009876543210
    await bot.send(bot.api.channel_post("hello", chat_id=channel))
    await bot.api.wait_for_call("leaveChat", lambda p: int(p["chat_id"]) == channel)
    assert bot.api.messages_to(channel) == []
