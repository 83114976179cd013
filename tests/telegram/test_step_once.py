"""A step is done once per key: after a crash between its commit and its messages being
queued, the same update comes again and its kept outcome is replayed, not stepped again."""

from __future__ import annotations

import pytest

from counsel_bot.bootstrap import build_app, outcome_codec
from counsel_bot.engine.inbound import Start
from counsel_bot.telegram.chats import StepRequest, run_step
from counsel_bot.telegram.updates import IncomingUpdate, chat_key
from tests.conftest import shipped_context

USER = 4242


@pytest.fixture
def app(settings):
    app = build_app(settings, context=shipped_context())
    yield app
    app.close()


def _text(update_id: int, text: str) -> StepRequest:
    return StepRequest(chat_key(USER), f"u:{update_id}",
                       update=IncomingUpdate(update_id, USER, "private", "text", "en", text))


def test_the_same_update_twice_is_stepped_once_and_says_the_same(app):
    codec = outcome_codec()
    first = run_step(app.conversations, _text(1, "/start"), codec)
    state = app.conversations.state_of(chat_key(USER))
    again = run_step(app.conversations, _text(1, "/start"), codec)
    assert again == first  # the same messages, the same callback keys
    assert app.conversations.state_of(chat_key(USER)) == state


def test_a_new_update_is_stepped(app):
    codec = outcome_codec()
    first = run_step(app.conversations, _text(1, "/start"), codec)
    second = run_step(app.conversations, _text(2, "/start"), codec)
    texts = lambda outcome: [m.text for _c, _p, ms in outcome.groups for m in ms]  # noqa: E731
    assert texts(first) == texts(second)
    keys = lambda outcome: [b.data for _c, _p, ms in outcome.groups for m in ms  # noqa: E731
                            for row in m.buttons for b in row]
    assert set(keys(first)).isdisjoint(keys(second))  # fresh buttons: it did step again


def test_a_runtime_event_is_stepped_once_per_key(app):
    codec = outcome_codec()
    chat = chat_key(USER)
    run_step(app.conversations, StepRequest(chat, "sched:a", inbound=Start()), codec)
    kept = app.conversations.state_of(chat)
    replay = run_step(app.conversations, StepRequest(chat, "sched:a", inbound=Start()), codec)
    assert app.conversations.state_of(chat) == kept
    assert replay.groups
