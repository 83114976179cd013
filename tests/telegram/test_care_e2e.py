"""Distress, alerts and check-ins through the fake Bot API on both frameworks, on a
simulated clock: the returnee's answer, the minimal alert, the deadline and the backup."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.telegram.conftest import LiveBot, SimClock, button_data, join, start_bot, stop_bot

WORKER, BACKUP, RETURNEE = 8001, 8002, 8003
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def joined(bot: LiveBot, lang: str, alerts: bool = True) -> str:
    registry = bot.app.conversations.registry
    registry.add_caseworker(BACKUP, "Sam", language="en")
    registry.add_caseworker(WORKER, "Nadia", backup=BACKUP, language="en")
    case, invitation = registry.open_case(WORKER, "XS", lang, "Europe/Paris")
    await join(bot, RETURNEE, invitation.code, lang, alerts=alerts)
    return case.case_id


@pytest.mark.parametrize(("lang", "text"), [("fr", "je veux mourir"),
                                            ("ar", "أريد أن أنتحر"),
                                            ("fa", "می‌خواهم خودم را بکشم")])
async def test_distress_reaches_the_case_worker_and_then_the_backup(
        fake_bot_api, tmp_path, framework, lang, text):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        case_id = await joined(bot, lang)
        mark = api.mark()
        await bot.text(RETURNEE, text, language_code=lang)
        (answer,) = await bot.replies(RETURNEE, since=mark)
        for contact in bot.app.context.deployment.country("XS").emergency_contacts:
            assert contact.phone in answer["text"]
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert case_id in alert["text"] and "URGENT" in alert["text"]
        assert text not in alert["text"] and "Nadia" not in alert["text"]
        labels = [b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["Acknowledge", "Show details", "I will call", "False alarm"]
        assert alert["protect_content"] is True

        mark = api.mark()
        await bot.press(WORKER, button_data(alert, "Show details"))
        (details,) = await bot.replies(WORKER, since=mark)
        assert text in details["text"]
        events = [e.event for e in bot.app.audit.entries()]
        assert "alert_raised" in events and "alert_details_viewed" in events
        assert events.index("alert_raised") < events.index("alert_details_viewed")

        # Not acknowledged: after 15 minutes the worker is reminded and the backup alerted.
        scheduler = bot.runner.scheduler
        clock.advance(minutes=14)
        await scheduler.tick()
        await bot.settle()
        assert api.messages_to(BACKUP) == []
        mark = api.mark()
        clock.advance(minutes=2)
        await scheduler.tick()
        (backup,) = await api.wait_for_sent(chat_id=BACKUP, since=mark)
        assert case_id in backup["text"] and text not in backup["text"]
        (again,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert again["text"].startswith("REMINDER")
        assert "alert_escalated" in [e.event for e in bot.app.audit.entries()]
        assert bot.app.audit.verify().ok
    finally:
        await stop_bot(bot)


async def test_an_acknowledged_alert_goes_no_further(fake_bot_api, tmp_path, framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        case_id = await joined(bot, "en")
        mark = api.mark()
        await bot.text(RETURNEE, "I have nowhere to sleep tonight")
        (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert "high" in alert["text"]
        mark = api.mark()
        await bot.press(WORKER, button_data(alert, "Acknowledge"))
        (done,) = await bot.replies(WORKER, since=mark)
        assert case_id in done["text"]
        clock.advance(hours=5)
        await bot.runner.scheduler.tick()
        await bot.settle()
        assert api.messages_to(BACKUP) == []
        case = bot.app.conversations.registry.case(case_id)
        assert case.alerts[0]["status"] == "acknowledged"
        assert case.alerts[0]["acked_by"] == WORKER
    finally:
        await stop_bot(bot)


async def test_checkins_go_out_on_plan_in_local_time_and_stop_when_consent_is_withdrawn(
        fake_bot_api, tmp_path, framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        case_id = await joined(bot, "en")
        followup = bot.app.conversations.followup
        followup.set_plan(case_id, date(2026, 11, 24), None, None)
        care = bot.runner.care
        care.plan_checkins(case_id)
        scheduler = bot.runner.scheduler
        due = [i.due for i in scheduler.tagged(f"checkins:{case_id}")]
        # days 3, 7, 14 and 30 after arrival at 10:00 Paris time (09:00 UTC in winter)
        assert due[:4] == [datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
                           datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
                           datetime(2026, 12, 8, 9, 0, tzinfo=UTC),
                           datetime(2026, 12, 24, 9, 0, tzinfo=UTC)]
        assert due[4] == datetime(2027, 1, 23, 9, 0, tzinfo=UTC)  # then monthly

        await bot.settle()
        mark = api.mark()
        clock.now = datetime(2026, 11, 27, 9, 1, tzinfo=UTC)
        await scheduler.tick()
        (question,) = await bot.replies(RETURNEE, since=mark)
        assert question["text"] == "How are you doing today?"
        await bot.press(RETURNEE, button_data(question, "4, good"))
        await bot.settle()
        await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1], "Work"))
        await bot.settle()
        await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1], "Done"))
        await bot.settle()
        safety = api.messages_to(RETURNEE)[-1]
        assert safety["text"].endswith("Are you safe right now?")
        await bot.press(RETURNEE, button_data(safety, "I am safe"))
        await bot.settle()
        await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1], "Skip"))
        await bot.settle()
        case = bot.app.conversations.registry.case(case_id)
        assert case.checkins[-1]["wellbeing"] == 4 and case.checkins[-1]["needs"] == ["work"]
        assert case.checkins[-1]["safe"] == "yes"

        # Unanswered: one reminder after a day; two missed in a row are reported.
        mark = api.mark()
        clock.now = datetime(2026, 12, 1, 9, 1, tzinfo=UTC)
        await scheduler.tick()
        clock.now = datetime(2026, 12, 2, 9, 2, tzinfo=UTC)
        await scheduler.tick()
        await bot.settle()
        texts = [r["text"] for r in api.messages_to(RETURNEE)[mark:]]
        sent = [r["text"] for r in api.sent[mark:] if int(r["chat_id"]) == RETURNEE]
        assert sent == ["How are you doing today?",
                        "A gentle reminder: how are you doing today?"], texts
        clock.now = datetime(2026, 12, 3, 9, 3, tzinfo=UTC)
        await scheduler.tick()
        clock.now = datetime(2026, 12, 8, 9, 1, tzinfo=UTC)
        await scheduler.tick()
        clock.now = datetime(2026, 12, 10, 9, 3, tzinfo=UTC)
        await scheduler.tick()
        reported = await api.wait_for_sent(lambda r: "two check-ins" in r["text"], chat_id=WORKER)
        assert case_id in reported[0]["text"]

        # Withdrawing the consent cancels what is planned, at once.
        await bot.text(RETURNEE, "/privacy")
        await bot.settle()
        await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1],
                                              "Withdraw: Check-in messages"))
        await bot.settle()
        assert scheduler.tagged(f"checkins:{case_id}") == []
    finally:
        await stop_bot(bot)
