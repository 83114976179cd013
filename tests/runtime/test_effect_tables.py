"""One way for effects: every effect the engine can emit has a handler, none is dropped."""

from __future__ import annotations

import typing

import pytest

from counsel_bot.bootstrap import AFTER_EFFECTS, ENGINE_EFFECTS, after_phase, build_app
from counsel_bot.engine import effects
from counsel_bot.runtime.care import Care
from counsel_bot.runtime.casework import Casework
from counsel_bot.runtime.closing import Closing
from counsel_bot.runtime.dispatch import AfterStep, EffectDispatcher, UnhandledEffect
from counsel_bot.runtime.journal import Journal
from counsel_bot.runtime.records import EffectCodec
from counsel_bot.runtime.scheduler import Scheduler
from counsel_bot.store.crypto import ShardCipher
from tests.conftest import settings_for, shipped_context


class _NoChats:
    """Planning only: nothing is delivered in these tests."""

    async def deliver(self, chat, inbound, key):  # pragma: no cover - never called
        raise AssertionError("nothing is delivered here")

    def to_worker(self, worker, send, key=None):  # pragma: no cover - never called
        raise AssertionError("nothing is delivered here")


@pytest.fixture
def wired(tmp_path, store_target):
    settings = settings_for(store_target, tmp_path)
    app = build_app(settings, context=shipped_context())
    scheduler = Scheduler(Journal(settings.data_dir / "s.journal", ShardCipher(app.key)))
    care = Care(Casework(app.conversations, scheduler, _NoChats()))
    yield app, after_phase(care, Closing(care))
    app.close()


def test_the_engine_effect_list_is_the_engine_effect_union():
    assert set(ENGINE_EFFECTS) == set(typing.get_args(effects.Effect))


def test_every_engine_effect_has_a_record_handler_and_what_it_leaves_an_after_handler(wired):
    app, after = wired
    record = app.conversations.record
    for kind in ENGINE_EFFECTS:
        assert record.handles(kind), f"{kind.__name__} has no record-phase handler"
    # What the record phase passes on (all but Send, Audit, AnswerSession, RaiseAlert, which
    # becomes AlertRaised) is carried out after the commit.
    for kind in AFTER_EFFECTS:
        assert after.handles(kind), f"{kind.__name__} has no after-phase handler"
    assert after.kinds == set(AFTER_EFFECTS)


def test_an_effect_without_a_handler_is_an_error_not_a_silent_drop():
    table: EffectDispatcher[AfterStep] = EffectDispatcher("after")
    with pytest.raises(UnhandledEffect):
        table.dispatch(effects.StopContact("C-AAAAAAAA", None), AfterStep("c", None, "k"))
    table.on(effects.StopContact, lambda effect, after: None)
    with pytest.raises(ValueError):
        table.on(effects.StopContact, lambda effect, after: None)


@pytest.mark.parametrize("effect", [
    effects.RecordCheckin("C-AAAAAAAA", "K-1", 4, ("food", "work"), None),
    effects.NotifyCaseWorker("C-AAAAAAAA", "message", {"text": "hello"}),
    effects.ConsentChanged("C-AAAAAAAA", "checkins", False, True),
    effects.RecordEvaluation("C-AAAAAAAA", "partly", ("work",), 4, "thanks"),
    effects.StopContact(None, "moved"),
])
def test_after_effects_survive_their_record_form(effect):
    codec = EffectCodec(AFTER_EFFECTS)
    assert codec.decode(codec.encode(effect)) == effect
