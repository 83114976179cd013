"""A country office's own content reaches a returnee in their language, end to end on
Telegram: a deployment made with `deployment init` for Senegal, written in French and
translated into Arabic through its own catalogue, on both frameworks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deployments import ARABIC, FACTS, senegal, translate
from tests.telegram.conftest import LiveBot, button_data, start_bot, stop_bot

USER = 5554001
FRENCH = [v.strip('"') for k, v in FACTS.items() if "phone" not in k and "number" not in k
          and not v.startswith("organisation")]


async def _to_menu(bot: LiveBot, lang: str, name: str) -> dict[str, Any]:
    api = bot.api
    tr = bot.app.context.translator(lang)
    mark = api.mark()
    await bot.text(USER, "/start", language_code=lang)
    _welcome, question = await bot.replies(USER, 2, since=mark)
    await bot.press(USER, button_data(question, name))
    await bot.settle()
    for answer in (tr("Yes, I agree"), tr("No, do not alert"), tr("No check-ins")):
        await bot.press(USER, button_data(api.messages_to(USER)[-1], answer))
        await bot.settle()
    menu = api.messages_to(USER)[-1]
    assert tr("What would you like to know? Choose a topic.") in menu["text"]
    return menu


async def _open(bot: LiveBot, label: str) -> str:
    """Press a topic of the menu shown last; the topic's message comes before a new menu."""
    menu = bot.api.messages_to(USER)[-1]
    mark = bot.api.mark()
    await bot.press(USER, button_data(menu, bot.app.context.translator("ar")(label)))
    shown, _menu = await bot.replies(USER, 2, since=mark)
    return str(shown["text"])


async def test_an_arabic_returnee_reads_every_fact_of_the_office_in_arabic(
        fake_bot_api, tmp_path: Path, framework: str):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling",
                          config=senegal(tmp_path))
    try:
        await _to_menu(bot, "ar", "العربية")
        welcome = fake_bot_api.messages_to(USER)[0]["text"]
        assert ARABIC["Programme Retour Test"] in welcome  # the organisation's name
        services = await _open(bot, "Services in my country")
        rumours = await _open(bot, "Rumours and facts")
        contact = await _open(bot, "How to reach my case worker")
    finally:
        await stop_bot(bot)
    assert ARABIC["Sénégal"] in services
    for french in ("Accueil à l'aéroport", "Un accueil et une orientation le jour de l'arrivée.",
                   "Seulement à l'aéroport de Dakar.",
                   "Pour les personnes inscrites au programme."):
        assert ARABIC[french] in services
    for french in ("Tout le monde reçoit de l'argent au retour.",
                   "L'aide dépend de votre situation."):
        assert ARABIC[french] in rumours
    for french in ("Bureau de Dakar", "12 rue Exemple, Dakar",
                   "Du lundi au vendredi, de 9 h à 17 h", "Police secours"):
        assert ARABIC[french] in contact
    everything = welcome + services + rumours + contact
    assert not [text for text in FRENCH if text in everything]  # no French left
    assert "+221 33 000 00 00" in contact and "SAMPLE" not in everything


@pytest.mark.parametrize("framework", ["ptb"])
async def test_a_missing_translation_shows_the_french_text_with_a_note_when_allowed(
        fake_bot_api, tmp_path: Path, framework: str):
    config = senegal(tmp_path)
    translate(config.parent, "ar", {"Seulement à l'aéroport de Dakar.": ""})
    config.write_text(config.read_text(encoding="utf-8").replace(
        "missing_translations: refuse", "missing_translations: show_source"), encoding="utf-8")
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", config=config)
    try:
        await _to_menu(bot, "ar", "العربية")
        services = await _open(bot, "Services in my country")
    finally:
        await stop_bot(bot)
    assert "Seulement à l'aéroport de Dakar. [لم تُترجم إلى لغتك بعد]" in services
    assert ARABIC["Accueil à l'aéroport"] in services
