"""One conformance suite: onboarding, consent and information on both frameworks, in
polling and in webhook mode, through the real framework and the fake Bot API."""

from __future__ import annotations

from counsel_bot.i18n.catalogs import RLM
from counsel_bot.telegram.updates import chat_key
from tests.telegram.conftest import LiveBot, button_data

USER = 5551001


async def test_onboarding_consent_and_information_in_french(live_bot: LiveBot):
    bot, api = live_bot, live_bot.api
    tr = bot.app.context.translator("fr")
    mark = api.mark()
    await bot.text(USER, "/start", language_code="fr")
    welcome, question = await bot.replies(USER, 2, since=mark)
    assert welcome["text"].startswith("Bienvenue")
    assert question["text"] == tr("Which language would you like to use?")

    mark = api.mark()
    await bot.press(USER, button_data(question, "Français"))
    sent = await bot.replies(USER, 2, since=mark)
    consent = sent[-1]
    assert consent["text"].startswith("Avant de commencer, j'ai besoin de votre autorisation")
    for answer in (tr("Yes, I agree"), tr("No, do not alert"), tr("Yes, send check-ins")):
        mark = api.mark()
        await bot.press(USER, button_data(api.messages_to(USER)[-1], answer))
        await bot.replies(USER, since=mark)
    await bot.settle()
    menu = api.messages_to(USER)[-1]
    assert menu["text"] == tr("What would you like to know? Choose a topic.")

    mark = api.mark()
    await bot.press(USER, button_data(menu, tr("Services in my country")))
    services, _menu = await bot.replies(USER, 2, since=mark)
    assert tr("Temporary shelter (SAMPLE)") in services["text"]

    state = bot.app.conversations.state_of(chat_key(USER))
    assert state.language == "fr"
    assert [state.consents[p].granted for p in ("counselling", "safety_alerts", "checkins")] \
        == [True, False, True]
    # every press was answered, so no client is left with a spinning button
    await api.wait_for_call("answerCallbackQuery", count=5)


async def test_privacy_overview_is_protected_and_withdrawal_is_one_press(live_bot: LiveBot):
    bot, api = live_bot, live_bot.api
    await bot.text(USER, "/start", language_code="en")
    await bot.replies(USER, 2, since=0)
    await bot.press(USER, button_data(api.messages_to(USER)[-1], "English"))
    await bot.replies(USER, 4, since=0)
    await bot.settle()
    await bot.press(USER, button_data(api.messages_to(USER)[-1], "Yes, I agree"))
    await bot.settle()
    mark = api.mark()
    await bot.text(USER, "/privacy")
    (overview,) = await bot.replies(USER, since=mark)
    assert overview["protect_content"] is True
    mark = api.mark()
    await bot.press(USER, button_data(overview, "Withdraw: Keeping my information for "
                                                "counselling"))
    await bot.replies(USER, 3, since=mark)
    state = bot.app.conversations.state_of(chat_key(USER))
    assert not state.has_consent("counselling")


async def test_arabic_messages_keep_right_to_left_direction(live_bot: LiveBot):
    bot = live_bot
    await bot.text(USER, "/start", language_code="ar")
    sent = await bot.replies(USER, 2, since=0)
    assert all(line.startswith(RLM) for line in sent[0]["text"].split("\n") if line)


async def test_commands_are_published_in_every_language(live_bot: LiveBot):
    api = live_bot.api
    calls = api.calls_to("setMyCommands")
    languages = {c["params"].get("language_code") for c in calls}
    assert languages == {None, "en", "fr", "ar", "fa", "es", "ru", "ps", "ur", "uk", "so", "ti",
                         "bn"}
    french = next(c for c in calls if c["params"].get("language_code") == "fr")
    commands = {c["command"]: c["description"] for c in french["params"]["commands"]}
    assert set(commands) == {"start", "help", "language", "privacy", "sos", "mydata", "delete",
                             "stop"}
    assert commands["language"] == "Changer de langue"
