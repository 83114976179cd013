"""/privacy: each consent with its date; withdraw any in one step; give one after reading it."""

from __future__ import annotations

from counsel_bot.engine.effects import Audit, ForgetPersonalData
from counsel_bot.engine.inbound import Command, Press, Start
from tests.engine.conversation import Chat


def onboarded(context, lang: str = "en") -> Chat:
    chat = Chat(context)
    chat(Start(language_hint=lang, language_chosen=True))
    chat(Press("onboarding.consent_counselling:yes"))
    chat(Press("onboarding.consent_alerts:yes"))
    chat(Press("onboarding.consent_checkins:no"))
    return chat


def test_overview_shows_each_consent_with_its_localised_date(context):
    chat = onboarded(context, "fr")
    chat(Command("privacy"))
    text = chat.texts[-1]
    assert "23 nov. 2026" in text
    assert chat.last[-1].protect  # about the person: not forwardable
    assert chat.actions == ("privacy.overview:withdraw:counselling",
                            "privacy.overview:withdraw:safety_alerts",
                            "privacy.overview:give:checkins", "privacy.overview:close")


def test_withdrawal_takes_one_step_and_is_recorded(context):
    chat = onboarded(context)
    chat(Command("privacy"))
    chat(Press("privacy.overview:withdraw:safety_alerts"))
    assert not chat.state.has_consent("safety_alerts")
    answer = chat.state.consents["safety_alerts"]
    assert answer.withdrawal and not answer.granted
    assert [a.purpose for a in chat.state.consent_log][-1] == "safety_alerts"
    assert any(isinstance(e, Audit) and e.event == "consent_withdrawn" for e in chat.last)
    assert "withdrawn" in chat.texts[0]


def test_withdrawing_counselling_forgets_personal_data(context):
    chat = onboarded(context)
    chat(Command("privacy"))
    chat(Press("privacy.overview:withdraw:counselling"))
    assert any(isinstance(e, ForgetPersonalData) for e in chat.last)
    assert not chat.state.has_consent("counselling")


def test_giving_consent_shows_the_full_text_then_returns(context):
    chat = onboarded(context)
    chat(Command("privacy"))
    chat(Press("privacy.overview:give:checkins"))
    assert chat.state.position == "onboarding.consent_checkins"
    chat(Press("onboarding.consent_checkins:yes"))
    assert chat.state.has_consent("checkins")
    assert chat.state.position == "privacy.overview"
    chat(Press("privacy.overview:close"))
    assert chat.state.position == "info.menu"


def test_a_forged_privacy_action_changes_nothing(context):
    chat = onboarded(context)
    chat(Command("privacy"))
    before = chat.state.to_dict()
    chat(Press("privacy.overview:withdraw:everything"))
    assert chat.state.to_dict() == before
