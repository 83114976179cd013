"""After a case is closed because the returnee died, nothing is ever sent to their chat
again, whatever comes in: every kind of input, every button, every command."""

from __future__ import annotations

from datetime import timedelta

import pytest

from counsel_bot.cases.model import Case, Session
from counsel_bot.engine import checkins, closure, safety
from counsel_bot.engine.engine import CASEWORKER_COMMANDS
from counsel_bot.engine.inbound import (
    CaseClosed,
    CheckinDue,
    Command,
    ConversationLost,
    Edited,
    Inbound,
    Joined,
    Press,
    SessionEvent,
    StaleButton,
    Start,
    Text,
    Unsupported,
)
from counsel_bot.engine.render import privacy_overview, step_message
from counsel_bot.engine.sessions import ANSWER_CHOICES
from tests.conftest import NOW, shipped_context
from tests.engine.conversation import Chat

CASE = "C-ABCDEFGH"
SESSION = Session(f"{CASE}-S1", (NOW + timedelta(days=2)).isoformat(), 60, place="Office")
RETURNEE_COMMANDS = ("help", "language", "privacy", "menu", "sos", "stop", "mydata", "delete")


def _joined(context) -> Chat:
    """A returnee who joined, consented to everything and has a session and a check-in
    open; then their case worker closed the case: the returnee died."""
    record = Case(CASE, 100, "XS", "en", "Europe/Paris", NOW.isoformat(), "active",
                  "telegram:1", [SESSION])
    chat = Chat(context.at(NOW, record))
    chat(Start(payload="c", invitation=Joined(CASE, "en", "XS", "Europe/Paris")))
    for action in ("onboarding.language:en", "onboarding.consent_counselling:yes",
                   "onboarding.consent_alerts:yes", "onboarding.consent_checkins:yes"):
        chat(Press(action))
    chat(SessionEvent("scheduled", SESSION, first=True))
    assert chat(CheckinDue("K-1"))  # a check-in question is open
    assert chat(CaseClosed("deceased")) == []
    assert chat.state.closed == "deceased"
    return chat


def _every_press() -> list[str]:
    """Every button action the engine offers: each step's, and each special flow's."""
    context = shipped_context()
    fresh, consented = Chat(context), Chat(context)  # the privacy page offers both ways
    for chat in (fresh, consented):
        chat(Start(language_hint="en", language_chosen=True))
    for purpose in ("counselling", "alerts", "checkins"):
        consented(Press(f"onboarding.consent_{purpose}:yes"))
    assert len(consented.state.consents) == 3
    actions = {safety.HELP_ACTION, *safety.SAFE_ACTIONS,
               *(f"session:{SESSION.session_id}:{c}" for c in ANSWER_CHOICES)}
    for step in context.dialogs.steps.values():
        render = privacy_overview if step.type == "privacy" else step_message
        for chat in (fresh, consented):
            actions |= set(render(step, chat.state, context).actions)
    actions |= {f"{checkins.SCORE}:{n}" for n in (1, 2, 3, 4, 5, "snooze")}
    actions |= {f"{checkins.NEEDS_STEP}:{n}" for n in (*context.dialogs.questions.needs, "done")}
    actions.add(f"{checkins.COMMENT}:skip")
    actions |= {f"{closure.MET}:{v}" for v in ("yes", "partly", "no", "skip")}
    actions |= {f"{closure.MISSING}:{n}" for n in (*context.dialogs.questions.needs, "done",
                                                     "skip")}
    actions |= {f"{closure.SUPPORT}:{n}" for n in (1, 2, 3, 4, 5, "skip")}
    actions |= {f"{closure.COMMENT}:skip", f"{closure.REFERRAL}:yes", f"{closure.REFERRAL}:no"}
    actions |= {f"{closure.STOP}:{r}" for r in (*closure.STOP_REASONS, "skip")}
    actions |= {f"{closure.DELETE}:yes", f"{closure.DELETE}:cancel"}
    actions.add("no.such:button")
    return sorted(actions)


INPUTS: list[Inbound] = [
    Text("hello"),
    Text("I want to kill myself"),
    Text("je veux mourir, je n'en peux plus"),
    Text("أريد أن أنتحر"),
    Text("x" * 5000),
    Text(""),
    Edited("hello"),
    Edited("I want to kill myself"),
    *(Press(action) for action in _every_press()),
    *(Command(name) for name in (*RETURNEE_COMMANDS, *sorted(CASEWORKER_COMMANDS))),
    Command("nosuchcommand", "with args"),
    Start(),
    Start(language_hint="fr", language_chosen=True),
    Start(payload="abc", invitation="unknown"),
    Start(payload="abc", invitation="used"),
    Start(payload="c", invitation=Joined(CASE, "en", "XS", "Europe/Paris")),
    Start(payload="d", invitation=Joined("C-ZZZZZZZZ", "fr", "XS", "Europe/Paris")),
    Unsupported("photo"),
    Unsupported("edited"),
    StaleButton(),
    *(SessionEvent(kind, SESSION) for kind in
      ("scheduled", "moved", "cancelled", "reminder_day", "reminder_hour")),
    CheckinDue("K-2"),
    CheckinDue("K-1", reminder=True),
    CaseClosed("deceased"),
    CaseClosed("completed"),
    ConversationLost("en"),
    ConversationLost("fr", CASE, "XS", "Europe/Paris"),
]


def _name(inbound: Inbound) -> str:
    kind = type(inbound).__name__
    match inbound:
        case Text() | Edited():
            return f"{kind}:{inbound.text[:24]}"
        case Press():
            return f"{kind}:{inbound.action}"
        case Command():
            return f"{kind}:/{inbound.name}"
        case Start():
            invitation = inbound.invitation
            found = invitation.case_id if isinstance(invitation, Joined) else invitation
            return f"{kind}:{inbound.payload or '-'}:{found or '-'}:{inbound.language_hint or '-'}"
        case SessionEvent() | Unsupported():
            return f"{kind}:{inbound.kind}"
        case CheckinDue():
            return f"{kind}:{'reminder' if inbound.reminder else 'question'}"
        case CaseClosed():
            return f"{kind}:{inbound.reason}"
        case ConversationLost():
            return f"{kind}:{inbound.case_id or '-'}"
    return kind


@pytest.mark.parametrize("inbound", INPUTS, ids=_name)
def test_nothing_is_sent_after_a_death(context, inbound):
    chat = _joined(context)
    assert chat(inbound) == []
    assert chat.state.closed == "deceased"


def test_nothing_is_sent_after_a_death_whatever_comes_after_what(context):
    chat = _joined(context)
    for inbound in INPUTS:
        assert chat(inbound) == [], inbound
    assert chat.state.closed == "deceased"


def test_a_chat_whose_record_was_lost_after_a_death_stays_silent(context):
    """The runtime found the chat's case closed after a death: nothing is said, and the
    new record keeps the silence for what comes next."""
    chat = Chat(context)
    assert chat(ConversationLost("en", closed="deceased")) == []
    assert chat.state.closed == "deceased"
    for inbound in (Start(), Text("I want to kill myself"), Command("help")):
        assert chat(inbound) == []
