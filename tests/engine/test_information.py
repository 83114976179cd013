"""The pre-departure information menu: only configured services, always marked as sample."""

from __future__ import annotations

import pytest

from counsel_bot.engine.inbound import Press, Start
from tests.engine.conversation import Chat

TOPICS = range(6)


def informed_chat(context, lang: str) -> Chat:
    chat = Chat(context)
    chat(Start(language_hint=lang, language_chosen=True))
    chat(Press("onboarding.consent_counselling:no"))
    return chat


@pytest.mark.parametrize("lang", ["en", "fr", "ar", "fa", "es", "ru"])
def test_every_topic_answers_and_returns_to_the_menu(context, lang):
    chat = informed_chat(context, lang)
    tr = context.translator(lang)
    for topic in TOPICS:
        chat(Press(f"info.menu:{topic}"))
        assert len(chat.texts) == 2
        assert chat.texts[-1] == tr("What would you like to know? Choose a topic.")
        assert chat.state.position == "info.menu"


def test_services_come_from_the_country_configuration_with_limits_and_conditions(context):
    chat = informed_chat(context, "en")
    chat(Press("info.menu:1"))
    text = chat.texts[0]
    country = context.deployment.country(None)
    for service in country.services:
        assert service.name in text
        assert f"Limits: {service.limits}" in text
        assert f"Conditions: {service.conditions}" in text
    assert "[SAMPLE DATA" in text


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_services_are_translated_and_marked_sample(context, lang):
    chat = informed_chat(context, lang)
    chat(Press("info.menu:1"))
    tr = context.translator(lang)
    text = chat.texts[0]
    assert tr("Temporary shelter (SAMPLE)") in text
    assert tr(context.dialogs.system["sample_banner"]) in text


def test_a_country_with_no_services_promises_nothing(context):
    from dataclasses import replace

    country = context.deployment.country(None)
    bare = replace(country, code="ZZ", services=(), rumours=())
    deployment = replace(context.deployment, countries={**context.deployment.countries,
                                                          "ZZ": bare})
    ctx = type(context)(context.dialogs, context.catalogs, deployment, context.now)
    chat = informed_chat(ctx, "en")
    chat.state.country = "ZZ"
    chat(Press("info.menu:1"))
    assert "No services are configured for your country yet" in chat.texts[0]
    for service in country.services:
        assert service.name not in chat.texts[0]


def test_voluntary_nature_is_stated(context):
    chat = informed_chat(context, "en")
    chat(Press("info.menu:0"))
    assert "voluntary" in chat.texts[0]
    assert "refuse it" in chat.texts[0]


def test_contact_lists_the_configured_emergency_contacts(context):
    chat = informed_chat(context, "en")
    chat(Press("info.menu:5"))
    for contact in context.deployment.country(None).emergency_contacts:
        assert contact.phone in chat.texts[0]
