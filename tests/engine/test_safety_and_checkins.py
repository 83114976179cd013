"""Distress in any language gets a calm answer with the configured contacts at once; alerts
follow consent or vital interest; check-ins are answered with buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from counsel_bot.cases.model import Case
from counsel_bot.engine.effects import (
    Priority,
    RaiseAlert,
    RecordCheckin,
    Send,
    SnoozeCheckin,
    WatchSafety,
)
from counsel_bot.engine.inbound import CheckinDue, Command, Joined, Press, Start, Text
from tests.conftest import NOW
from tests.engine.conversation import Chat

CASE = "C-ABCDEFGH"


def chat_for(context, lang="en", alerts=True, checkins=True, case=True) -> Chat:
    ctx = context
    chat = Chat(ctx)
    if case:
        record = Case(CASE, 100, "XS", lang, "Europe/Paris", NOW.isoformat(), "active",
                      "telegram:1", [])
        chat.context = ctx.at(NOW, record)
        chat(Start(payload="c", invitation=Joined(CASE, lang, "XS", "Europe/Paris")))
    else:
        chat(Start(language_hint=lang, language_chosen=True))
    chat(Press(f"onboarding.language:{lang}")) if case else None
    chat(Press("onboarding.consent_counselling:yes"))
    chat(Press(f"onboarding.consent_alerts:{'yes' if alerts else 'no'}"))
    chat(Press(f"onboarding.consent_checkins:{'yes' if checkins else 'no'}"))
    return chat


def alerts(chat: Chat) -> list[RaiseAlert]:
    return [e for e in chat.last if isinstance(e, RaiseAlert)]


@pytest.mark.parametrize(("lang", "text"), [
    ("fr", "je veux mourir, je n'en peux plus"),
    ("ar", "أريد أن أنتحر"),
    ("fa", "می‌خواهم خودم را بکشم"),
])
def test_urgent_distress_gets_contacts_at_once_and_alerts_with_consent(context, lang, text):
    chat = chat_for(context, lang)
    chat(Text(text))
    first = chat.last[0]
    assert isinstance(first, Send) and first.priority == Priority.URGENT
    for contact in context.deployment.country("XS").emergency_contacts:
        assert contact.phone in first.text
    tr = context.translator(lang)
    assert tr(context.dialogs.system["safety_told"]) in first.text
    assert [b.action for row in first.buttons for b in row] == ["safety:yes", "safety:no",
                                                              "safety:talk"]
    (alert,) = alerts(chat)
    assert alert.severity == "urgent" and alert.justification == "consent"
    assert "suicide_self_harm" in alert.categories
    assert alert.text == text  # kept for "Show details", never put in the alert message


def test_screening_reads_every_language_whatever_the_persons_own(context):
    chat = chat_for(context, "en")
    chat(Text("je veux mourir"))
    assert alerts(chat)[0].severity == "urgent"


def test_without_consent_urgent_danger_alerts_under_vital_interest(context):
    chat = chat_for(context, "en", alerts=False)
    chat(Text("I want to kill myself"))
    (alert,) = alerts(chat)
    assert alert.justification == "vital_interest"
    assert context.system_text("en", "safety_told_vital") in chat.texts[0]


def test_a_deployment_may_turn_vital_interest_off(context):
    deployment = replace(context.deployment, vital_interest_alerts=False)
    ctx = type(context)(context.dialogs, context.catalogs, deployment, context.now,
                        None, context.screener)
    chat = chat_for(ctx, "en", alerts=False)
    chat(Text("I want to kill myself"))
    assert alerts(chat) == []
    assert "+000" in chat.texts[0]  # the contacts are there all the same


def test_high_needs_alert_only_with_consent(context):
    with_consent = chat_for(context, "en")
    with_consent(Text("I have nowhere to sleep tonight"))
    assert [a.severity for a in alerts(with_consent)] == ["high"]
    without = chat_for(context, "en", alerts=False)
    without(Text("I have nowhere to sleep tonight"))
    assert alerts(without) == []
    assert without.last[0].priority == Priority.URGENT


def test_without_a_case_the_person_still_gets_the_contacts(context):
    chat = chat_for(context, "en", case=False)
    chat(Text("I want to end my life"))
    assert alerts(chat) == []
    assert "+000 111 1111" in chat.texts[0]


def test_negation_lowers_and_keeps_a_review_flag(context):
    chat = chat_for(context, "en")
    chat(Text("I would never hurt myself"))
    severities = [a.severity for a in alerts(chat)]
    assert severities in (["review"], ["high"])


@pytest.mark.parametrize("text", ["This heat is killing me", "je meurs d'envie de voir ma mère",
                                  "I'm dying to see my family", "killing time at the airport"])
def test_idioms_are_not_alarms(context, text):
    chat = chat_for(context, "en")
    chat(Text(text))
    assert alerts(chat) == []
    assert not any(isinstance(e, Send) and e.priority == Priority.URGENT for e in chat.last)


def test_sos_and_the_help_button_are_urgent(context):
    chat = chat_for(context, "en")
    chat(Command("sos"))
    assert alerts(chat)[0].categories == ("help_requested",)
    chat(Press("help:now"))
    assert alerts(chat)[0].severity == "urgent"


def test_the_menu_always_offers_help(context):
    chat = chat_for(context, "en")
    assert chat.actions[-1] == "help:now"


def test_not_safe_alerts_again(context):
    chat = chat_for(context, "en")
    chat(Text("I want to die"))
    chat(Press("safety:no"))
    assert alerts(chat)[0].categories == ("not_safe",)
    chat(Press("safety:yes"))
    assert chat.texts[0] == context.system_text("en", "safety_glad")


def test_a_checkin_is_answered_with_buttons_and_recorded(context):
    chat = chat_for(context, "en")
    chat(CheckinDue("K-1"))
    assert chat.last[0].priority == Priority.BULK
    chat(Press("checkin.score:4"))
    chat(Press("checkin.needs:work"))
    chat(Press("checkin.needs:documents"))
    chat(Press("checkin.needs:work"))  # pressed again: unchosen
    chat(Press("checkin.needs:done"))
    chat(Press("checkin.safety:yes"))
    chat(Text("I found a training course"))
    (record,) = [e for e in chat.last if isinstance(e, RecordCheckin)]
    assert record == RecordCheckin(CASE, "K-1", 4, ("documents",), "I found a training course",
                                   "yes")
    assert alerts(chat) == []
    assert chat.state.position == "info.menu"  # back where they were


def test_the_lowest_score_or_safety_counts_as_high(context):
    chat = chat_for(context, "en")
    chat(CheckinDue("K-2"))
    chat(Press("checkin.score:1"))
    chat(Press("checkin.needs:safety"))
    chat(Press("checkin.needs:done"))
    chat(Press("checkin.safety:yes"))
    chat(Press("checkin.comment:skip"))
    (alert,) = alerts(chat)
    assert alert.severity == "high" and alert.text is None
    assert set(alert.categories) >= {"severe_distress", "threat_to_life"}


def test_snooze_asks_again_tomorrow(context):
    chat = chat_for(context, "en")
    chat(CheckinDue("K-3"))
    chat(Press("checkin.score:snooze"))
    assert SnoozeCheckin(CASE, "K-3") in chat.last
    assert chat.state.checkin is None


def test_no_checkin_without_checkin_consent(context):
    chat = chat_for(context, "en", checkins=False)
    chat(CheckinDue("K-4"))
    assert chat.last == []


def test_distress_in_a_checkin_comment_is_answered_and_the_answers_kept(context):
    chat = chat_for(context, "en")
    chat(CheckinDue("K-5"))
    chat(Press("checkin.score:2"))
    chat(Press("checkin.needs:done"))
    chat(Press("checkin.safety:yes"))
    chat(Text("I want to kill myself"))
    assert any(isinstance(e, RecordCheckin) for e in chat.last)
    assert alerts(chat)[0].severity == "urgent"


def test_old_checkin_buttons_are_stale(context):
    chat = chat_for(context, "en")
    chat.context = chat.context.at(NOW + timedelta(days=1), chat.context.case)
    before = chat.state.to_dict()
    chat(Press("checkin.score:3"))
    assert chat.state.to_dict() == before


def test_checkins_ask_directly_about_safety_and_not_safe_takes_the_urgent_path(context):
    chat = chat_for(context, "en")
    chat(CheckinDue("K-7"))
    chat(Press("checkin.score:3"))
    chat(Press("checkin.needs:done"))
    (question,) = chat.sends
    assert question.text == context.dialogs.questions.checkin.safety
    assert [b.action for row in question.buttons for b in row] == [
        "checkin.safety:yes", "checkin.safety:no", "checkin.safety:talk"]
    chat(Press("checkin.safety:no"))
    (alert,) = alerts(chat)
    assert alert.severity == "urgent" and alert.categories == ("not_safe",)
    first = chat.sends[0]
    assert first.priority == Priority.URGENT
    for contact in context.deployment.country("XS").emergency_contacts:
        assert contact.phone in first.text
    chat(Press("checkin.comment:skip"))
    (record,) = [e for e in chat.last if isinstance(e, RecordCheckin)]
    assert record.safe == "no"


def test_an_uncertain_message_gets_the_safety_question_and_no_alert(context):
    chat = chat_for(context, "en")
    chat(Text("I am so alone"))
    (question,) = chat.sends
    assert question.text == context.dialogs.system["safety_check"]
    assert [b.action for row in question.buttons for b in row] == [
        "safety:yes", "safety:no", "safety:talk"]
    assert question.priority == Priority.URGENT
    assert alerts(chat) == []
    assert not [e for e in chat.last if isinstance(e, WatchSafety)]  # not probable urgent
    assert chat.state.safety_check is not None
    chat(Press("safety:yes"))
    assert chat.state.safety_check is None and alerts(chat) == []


@pytest.mark.parametrize(("answer", "category"), [("safety:no", "not_safe"),
                                                  ("safety:talk", "talk_requested")])
def test_not_safe_or_talk_to_someone_takes_the_urgent_path(context, answer, category):
    chat = chat_for(context, "en")
    chat(Text("please take care of my children"))
    (watch,) = [e for e in chat.last if isinstance(e, WatchSafety)]
    assert watch.minutes == 10 and watch.justification == "consent"
    assert watch.check_id == chat.state.safety_check
    chat(Press(answer))
    (alert,) = alerts(chat)
    assert alert.severity == "urgent" and alert.categories == (category,)
    assert chat.sends[0].priority == Priority.URGENT
    assert chat.state.safety_check is None  # answered: the watch will find nothing to do
