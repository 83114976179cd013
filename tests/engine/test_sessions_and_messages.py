"""Session notices and answers, invitations, and messages for the case worker, as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from counsel_bot.cases.model import Case, Session
from counsel_bot.engine.effects import AnswerSession, ForgetPersonalData, NotifyCaseWorker, Priority
from counsel_bot.engine.inbound import Joined, Press, SessionEvent, Start, Text
from tests.conftest import NOW
from tests.engine.conversation import Chat

CASE = "C-ABCDEFGH"
SESSION = Session(f"{CASE}-S1", (NOW + timedelta(days=8)).isoformat(), 45, place="Office 3",
                  interpreter="ps")


def joined_chat(context, lang: str = "fr", consent: bool = True) -> Chat:
    case = Case(CASE, 100, "XS", lang, "Europe/Paris", NOW.isoformat(), "active",
                "telegram:1", [SESSION])
    chat = Chat(context.at(NOW, case))
    chat(Start(payload="code", invitation=Joined(CASE, lang, "XS", "Europe/Paris")))
    chat(Press(f"onboarding.language:{lang}"))
    chat(Press(f"onboarding.consent_counselling:{'yes' if consent else 'no'}"))
    return chat


def test_joining_preselects_the_case_language_and_tells_the_case_worker(context):
    chat = Chat(context)
    chat(Start(payload="code", language_hint="en",
               invitation=Joined(CASE, "ar", "XS", "Asia/Kabul")))
    assert chat.state.language == "ar" and chat.state.case_id == CASE
    assert chat.state.timezone == "Asia/Kabul"
    assert chat.last[-1].buttons[0][0].label == "العربية"
    assert NotifyCaseWorker(CASE, "joined") in chat.last


def test_an_unusable_invitation_is_refused_kindly(context):
    for reason in ("used", "expired", "malformed", "unknown"):
        chat = Chat(context)
        chat(Start(payload="x", invitation=reason))
        assert chat.texts[0] == context.system_text("en", f"invitation_{reason}")
        assert chat.state.case_id is None


def test_the_notice_shows_local_time_place_length_interpreter_and_first_session(context):
    chat = joined_chat(context)
    chat(SessionEvent("scheduled", SESSION, first=True))
    (notice,) = chat.last
    assert "mardi 1 décembre 2026" in notice.text and "11:00" in notice.text
    assert "Office 3" in notice.text and "45 minutes" in notice.text
    assert "pachto" in notice.text
    assert context.translator("fr")(context.dialogs.questions.session_notice.first) in notice.text
    assert notice.protect and notice.priority == Priority.REPLY
    assert [b.action for row in notice.buttons for b in row] == [
        f"session:{SESSION.session_id}:confirm", f"session:{SESSION.session_id}:change",
        f"session:{SESSION.session_id}:decline"]


def test_reminders_are_bulk_and_say_when(context):
    chat = joined_chat(context, "en")
    chat(SessionEvent("reminder_hour", SESSION))
    assert chat.last[0].priority == Priority.BULK
    assert chat.texts[0].startswith("Reminder: your counselling session starts in one hour.")


def test_confirming_records_the_answer_and_tells_the_case_worker(context):
    chat = joined_chat(context, "en")
    before = chat.state.position
    chat(Press(f"session:{SESSION.session_id}:confirm"))
    assert AnswerSession(CASE, SESSION.session_id, "confirmed") in chat.last
    assert NotifyCaseWorker(CASE, "session_confirmed",
                            {"session_id": SESSION.session_id}) in chat.last
    assert chat.state.position == before  # the conversation goes on where it was


def test_asking_to_change_takes_their_words_for_the_case_worker(context):
    chat = joined_chat(context, "en")
    chat(Press(f"session:{SESSION.session_id}:change"))
    chat(Text("Any morning next week"))
    assert AnswerSession(CASE, SESSION.session_id, "change_requested",
                         "Any morning next week") in chat.last
    notify = [e for e in chat.last if isinstance(e, NotifyCaseWorker)]
    assert notify[0].details["suggestion"] == "Any morning next week"


def test_a_button_for_a_cancelled_or_past_session_changes_nothing(context):
    chat = joined_chat(context, "en")
    cancelled = replace(SESSION, status="cancelled")
    case = replace(chat.context.case, sessions=[cancelled])
    chat.context = chat.context.at(NOW, case)
    chat(Press(f"session:{SESSION.session_id}:confirm"))
    assert not any(isinstance(e, AnswerSession) for e in chat.last)
    assert chat.texts[0] == context.system_text("en", "session_unavailable")
    chat.context = chat.context.at(NOW + timedelta(days=30), replace(case, sessions=[SESSION]))
    chat(Press(f"session:{SESSION.session_id}:confirm"))
    assert not any(isinstance(e, AnswerSession) for e in chat.last)


def test_a_message_for_the_case_worker_needs_counselling_consent(context):
    chat = joined_chat(context, "en", consent=False)
    assert chat.state.case_id is None  # declining unlinked the case
    chat = joined_chat(context, "en")
    chat(Press("onboarding.consent_alerts:no"))
    chat(Press("onboarding.consent_checkins:no"))
    chat(Press("info.menu:6"))
    chat(Text("When is my appointment?"))
    assert NotifyCaseWorker(CASE, "message", {"text": "When is my appointment?"}) in chat.last
    assert chat.texts[0] == context.system_text("en", "write_sent")


def test_declining_counselling_after_joining_unlinks_and_tells_the_case_worker(context):
    chat = joined_chat(context, "en", consent=False)
    assert ForgetPersonalData(CASE) in chat.last
    assert NotifyCaseWorker(CASE, "consent_declined") in chat.last
