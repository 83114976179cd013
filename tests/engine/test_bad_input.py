"""Bad input gets a kind, translated answer, and the state stays exactly as it was."""

from __future__ import annotations

import pytest

from counsel_bot.engine.inbound import (
    Command,
    Press,
    StaleButton,
    Start,
    Text,
    Unsupported,
    parse_text,
)
from tests.engine.conversation import Chat

BAD_INPUTS = {
    "empty": (Text(""), "empty_text"),
    "whitespace": (Text("  \n\t "), "empty_text"),
    "huge": (Text("a" * 20_000), "too_long"),
    "control characters": (Text("hello\x00\x1b[2J"), "garbled_text"),
    "broken unicode": (Text("caf\udcc3\udca9"), "garbled_text"),
    "replacement character": (Text("caf\ufffd"), "garbled_text"),
    "unknown command": (Command("frobnicate"), "unknown_command"),
    "photo": (Unsupported("photo"), "unsupported_kind"),
    "button from an old message": (Press("onboarding.language:fr"), "stale_button"),
    "forged button": (StaleButton(), "stale_button"),
    "made-up action": (Press("info.menu:99"), "stale_button"),
}


@pytest.mark.parametrize("lang", ["en", "ar", "ru"])
@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_answered_kindly_and_changes_nothing(context, lang, case):
    chat = Chat(context)
    chat(Start(language_hint=lang, language_chosen=True))
    chat(Press("onboarding.consent_counselling:no"))
    before = chat.state.to_dict()
    inbound, text_name = BAD_INPUTS[case]
    chat(inbound)
    assert chat.state.to_dict() == before
    expected = context.system_text(lang, text_name, limit=context.translator(lang).number(4000))
    assert chat.texts[0] == expected
    assert "Traceback" not in "".join(chat.texts)


def test_free_text_where_a_choice_is_needed_repeats_the_question(context):
    chat = Chat(context)
    chat(Start(language_hint="en", language_chosen=True))
    chat(Text("what is this?"))
    assert chat.state.position == "onboarding.consent_counselling"
    assert chat.texts[0] == context.system_text("en", "not_understood")
    assert chat.actions == ("onboarding.consent_counselling:yes",
                            "onboarding.consent_counselling:no")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/start", Start()),
        ("/start abc_DEF-123", Start(payload="abc_DEF-123")),
        ("/privacy@counsel_bot", Command("privacy")),
        ("/HELP", Command("help")),
        ("/ not a command", Text("/ not a command")),
        ("/", Text("/")),
        ("/été", Text("/été")),
        ("hello", Text("hello")),
    ],
)
def test_parse_text(typed, expected):
    assert parse_text(typed) == expected
