"""Issue 12, items 4 and 5 in the pure engine: right-to-left Pashto and Urdu keep phone
numbers readable, and the first free text offers the language it is written in."""

from __future__ import annotations

import pytest

from counsel_bot.engine.inbound import Press, Start, Text
from counsel_bot.i18n.catalogs import LRI, PDI, RLM, language_name, mark_rtl
from tests.engine.conversation import Chat

PASHTO = "سلام، زه د خپلو اسنادو لپاره مرستې ته اړتیا لرم"


def to_contact(chat: Chat, lang: str) -> str:
    chat(Start(language_hint=lang, language_chosen=True))
    chat(Press("onboarding.consent_counselling:no"))
    menu = chat.context.dialogs.step("info.menu")
    index = next(i for i, o in enumerate(menu.options) if o.goto == "info.contact")
    return chat(Press(f"info.menu:{index}"))[0].text


@pytest.mark.parametrize("lang", ["ps", "ur", "ar", "fa"])
def test_phone_numbers_inside_rtl_text_are_isolated_and_lines_start_rtl(context, lang):
    chat = Chat(context)
    text = to_contact(chat, lang)
    office = context.deployment.country(context.deployment.default_country).office
    assert chat.sends[-1].rtl
    assert f"{LRI}{office.phone}{PDI}" in text
    shown = mark_rtl(text)  # what the Telegram door sends for an rtl message
    assert all(line.startswith(RLM) for line in shown.split("\n") if line)


def test_ltr_languages_are_not_marked(context):
    chat = Chat(context)
    text = to_contact(chat, "uk")
    assert not chat.sends[-1].rtl and LRI not in text


def test_the_first_free_text_offers_the_language_it_is_written_in(context):
    chat = Chat(context)
    chat(Start(language_hint="de"))  # Telegram says German: not enabled
    assert chat.state.language == "en"
    (offer,) = chat(Text(PASHTO))
    ps = context.translator("ps")
    assert offer.text == ps(context.dialogs.system["language_detected"],
                            language=language_name("ps"))
    assert offer.rtl
    codes = [a.split(":")[1] for a in offer.actions]
    assert codes[0] == "ps" and sorted(codes) == sorted(context.deployment.languages)
    assert chat.state.language == "en"  # offered, not imposed
    sends = chat(Press("onboarding.language:ps"))
    assert chat.state.language == "ps"
    assert ps("Yes, I agree") in [b.label for s in sends for row in s.buttons for b in row]


def test_no_offer_when_telegram_gave_an_enabled_language(context):
    chat = Chat(context)
    chat(Start(language_hint="fr"))
    sends = chat(Text(PASHTO))
    assert all(s.text != context.translator("ps")(context.dialogs.system["language_detected"],
                                                  language=language_name("ps"))
               for s in sends)
    assert chat.state.language == "fr"


def test_the_offer_is_made_once(context):
    chat = Chat(context)
    chat(Start())
    first = chat(Text(PASHTO))
    assert first[-1].actions[0] == "onboarding.language:ps"
    again = chat(Text("Добрий день, мені потрібна допомога з документами"))
    assert not any(s.actions and s.actions[0] == "onboarding.language:uk" for s in again)


def test_a_distress_message_is_answered_in_the_language_it_is_written_in(context):
    chat = Chat(context)
    chat(Start())
    sends = chat(Text("زه غواړم ځان ووژنم"))
    ps = context.translator("ps")
    first_words = ps(context.dialogs.system["safety_urgent"]).split("\n")[0]
    assert any(first_words in s.text for s in sends), [s.text for s in sends]
    assert chat.state.language == "ps"
    assert sends[-1].actions[0] == "onboarding.language:ps"  # and the full list after it
