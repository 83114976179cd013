"""Onboarding as a table: welcome, language, then consent one purpose at a time."""

from __future__ import annotations

import pytest

from counsel_bot.engine.effects import Audit, ForgetPersonalData, Send
from counsel_bot.engine.inbound import Command, Press, Start, Text
from counsel_bot.engine.render import consent_text, text_version
from counsel_bot.i18n.catalogs import RLM, language_name
from tests.conftest import NOW
from tests.engine.conversation import Chat


def test_start_welcomes_then_asks_language_with_each_language_in_itself(context):
    chat = Chat(context)
    sends = chat(Start())
    assert "Welcome" in sends[0].text
    assert sends[-1].text == "Which language would you like to use?"
    labels = [b.label for row in sends[-1].buttons for b in row]
    assert labels == ["English", "Français", "العربية", "فارسی", "Español", "Русский", "پښتو",
                      "اردو", "Українська", "Soomaali", "ትግርኛ", "বাংলা"]
    assert chat.state.position == "onboarding.language"


def test_channel_language_code_preselects_a_supported_language(context):
    chat = Chat(context)
    sends = chat(Start(language_hint="fr-FR"))
    assert chat.state.language == "fr"
    tr = context.translator("fr")
    assert sends[-1].text == tr("Which language would you like to use?")
    assert sends[-1].buttons[0][0].label == "Français"  # the guess comes first


def test_unsupported_language_code_falls_back_to_default(context):
    chat = Chat(context)
    chat(Start(language_hint="xx"))
    assert chat.state.language == "en"


def test_chosen_language_skips_the_question(context):
    chat = Chat(context)
    chat(Start(language_hint="ar", language_chosen=True))
    assert chat.state.position == "onboarding.consent_counselling"
    assert all(s.rtl for s in chat.last if isinstance(s, Send))


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "fa", "es", "ru"])
def test_full_onboarding_in_every_language_records_versioned_consents(context, lang):
    chat = Chat(context)
    chat(Start())
    chat(Press(f"onboarding.language:{lang}"))
    assert chat.state.language == lang
    step = context.dialogs.consent_step("counselling")
    shown = consent_text(step, chat.state, context)
    assert chat.texts[-1].startswith(shown)
    chat(Press("onboarding.consent_counselling:yes"))
    chat(Press("onboarding.consent_alerts:no"))
    chat(Press("onboarding.consent_checkins:yes"))
    assert chat.state.position == "info.menu"
    consents = chat.state.consents
    assert (consents["counselling"].granted, consents["safety_alerts"].granted,
            consents["checkins"].granted) == (True, False, True)
    answer = consents["counselling"]
    assert answer.language == lang
    assert answer.at == NOW.isoformat()
    assert answer.version == text_version(shown)
    assert [a.purpose for a in chat.state.consent_log] == ["counselling", "safety_alerts",
                                                            "checkins"]


def test_consent_versions_differ_between_languages(context):
    versions = set()
    for lang in ("en", "fr", "ar"):
        chat = Chat(context)
        chat(Start(language_hint=lang, language_chosen=True))
        chat(Press("onboarding.consent_counselling:yes"))
        versions.add(chat.state.consents["counselling"].version)
    assert len(versions) == 3


def test_alerts_consent_states_the_vital_interest_rule_in_advance(context):
    chat = Chat(context)
    chat(Start(language_hint="en", language_chosen=True))
    chat(Press("onboarding.consent_counselling:yes"))
    assert "vital interest" in chat.texts[-1]


def test_each_consent_text_says_what_who_how_long_and_withdrawal(context):
    tr = context.translator("en")
    chat = Chat(context)
    chat(Start(language_hint="en", language_chosen=True))
    for purpose in ("counselling", "safety_alerts", "checkins"):
        text = consent_text(context.dialogs.consent_step(purpose), chat.state, context)
        assert "stored" in text or "holds" in text, purpose
        assert "sees" in text or "case worker" in text, purpose
        assert "long" in text or "kept" in text, purpose
        assert tr("/privacy") in text, purpose


def test_declining_counselling_leaves_the_anonymous_information_menu(context):
    chat = Chat(context)
    chat(Start(language_hint="es", language_chosen=True))
    chat(Press("onboarding.consent_counselling:no"))
    assert chat.state.position == "info.menu"
    assert not chat.state.has_consent("counselling")
    assert any(isinstance(e, ForgetPersonalData) for e in chat.last)
    # nothing asked about the other purposes: they stay unasked
    assert set(chat.state.consents) == {"counselling"}


def test_typing_a_button_label_works_like_pressing_it(context):
    chat = Chat(context)
    chat(Start())
    chat(Text("français"))
    assert chat.state.language == "fr"
    tr = context.translator("fr")
    chat(Text(tr("Yes, I agree")))
    assert chat.state.has_consent("counselling")


def test_language_command_changes_language_and_returns(context):
    chat = Chat(context)
    chat(Start(language_hint="en", language_chosen=True))
    chat(Press("onboarding.consent_counselling:yes"))
    chat(Command("language"))
    assert chat.state.position == "onboarding.language"
    chat(Press("onboarding.language:ru"))
    assert chat.state.language == "ru"
    assert chat.state.position == "onboarding.consent_alerts"  # back where we were
    assert chat.texts[0] == context.translator("ru")("Language: {language}.",
                                                     language=language_name("ru"))


def test_consent_answers_are_audited_without_words(context):
    chat = Chat(context)
    chat(Start(language_hint="en", language_chosen=True))
    chat(Press("onboarding.consent_counselling:yes"))
    audits = [e for e in chat.last if isinstance(e, Audit)]
    assert audits[0].event == "consent_answered"
    assert set(audits[0].details) == {"purpose", "granted", "version"}


def test_rtl_messages_are_flagged_and_phone_numbers_isolated(context):
    chat = Chat(context)
    chat(Start(language_hint="fa", language_chosen=True))
    chat(Press("onboarding.consent_counselling:no"))
    chat(Press("info.menu:5"))  # how to reach my case worker: phone numbers
    contact = chat.texts[0]
    assert chat.last[0].rtl
    assert "\u2066+000 000 0000" in contact
    assert RLM not in contact  # the door adds the mark where its medium needs it
