"""Issue 12 on Telegram, both frameworks against the fake Bot API: a Pashto /start is
answered in Pashto, right to left, with the Pashto command menu; a distress message in
Roman Urdu reaches the case worker; a person whose Telegram language is not enabled is
offered the language of their first message, with the full list."""

from __future__ import annotations

from datetime import UTC, datetime

from counsel_bot.i18n.catalogs import RLM, language_name
from tests.telegram.conftest import SimClock, button_data, join, start_bot, stop_bot

WORKER, RETURNEE, NEWCOMER = 8201, 8203, 8205
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def labels(message: dict) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_pashto_start_is_answered_in_pashto_right_to_left(fake_bot_api, tmp_path,
                                                                  framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        ps = bot.app.context.translator("ps")
        mark = api.mark()
        await bot.text(NEWCOMER, "/start", language_code="ps")
        welcome, question = await bot.replies(NEWCOMER, 2, since=mark)
        assert welcome["text"].startswith(RLM)
        assert all(line.startswith(RLM) for line in welcome["text"].split("\n") if line)
        assert ps("Which language would you like to use?") in question["text"]
        assert labels(question)[0] == language_name("ps")
        menu = api.commands_for(language_code="ps")
        assert menu and {c["description"] for c in menu} >= {ps("Get help now"),
                                                            ps("Change the language")}
    finally:
        await stop_bot(bot)


async def test_a_distress_message_in_roman_urdu_reaches_the_case_worker(fake_bot_api, tmp_path,
                                                                         framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Nadia", language="en")
        case, invitation = registry.open_case(WORKER, "XS", "ur", "Asia/Karachi")
        await join(bot, RETURNEE, invitation.code, "ur")
        mark = api.mark()
        await bot.text(RETURNEE, "main marna chahta hoon", language_code="en")
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert case.case_id in alert["text"] and "URGENT" in alert["text"]
        assert "marna" not in alert["text"]  # never the person's words
        answer = (await bot.replies(RETURNEE, since=mark))[0]
        ur = bot.app.context.translator("ur")
        assert answer["text"].startswith(RLM)
        assert ur(bot.app.context.dialogs.system["safety_urgent"]).split("\n")[0] in answer["text"]
    finally:
        await stop_bot(bot)


async def test_a_language_telegram_did_not_give_is_offered_from_the_first_message(
        fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        await bot.text(NEWCOMER, "/start", language_code="de")
        await bot.replies(NEWCOMER, 2, since=0)
        mark = api.mark()
        await bot.text(NEWCOMER, "Добрий день, мені потрібна допомога з документами",
                       language_code="de")
        (offer,) = await bot.replies(NEWCOMER, since=mark)
        uk = bot.app.context.translator("uk")
        assert offer["text"] == uk(bot.app.context.dialogs.system["language_detected"],
                                   language=language_name("uk"))
        shown = labels(offer)
        assert shown[0] == language_name("uk")
        assert sorted(shown) == sorted(language_name(c)
                                       for c in bot.app.context.deployment.languages)
        mark = api.mark()
        await bot.press(NEWCOMER, button_data(offer, language_name("uk")))
        replies = await bot.replies(NEWCOMER, 2, since=mark)
        assert uk("Yes, I agree") in labels(replies[-1])
    finally:
        await stop_bot(bot)
