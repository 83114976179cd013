"""The desk's check-in plan command, and a blocked returnee reported to the case worker once."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tests.telegram.conftest import SimClock, button_data, start_bot, stop_bot

WORKER, RETURNEE = 9501, 9502
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_a_case_worker_changes_the_checkin_plan_in_telegram(fake_bot_api, tmp_path,
                                                                   framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Ana", language="en")
        case, invitation = registry.open_case(WORKER, "XS", "en", "Africa/Abidjan")
        registry.redeem(invitation.code, f"telegram:{RETURNEE}")
        bot.app.conversations.followup.set_plan(case.case_id, date(2026, 11, 22), None, None)
        mark = api.mark()
        await bot.text(WORKER, f"/plan {case.case_id} 2,5,9")
        (reply,) = await bot.replies(WORKER, since=mark)
        assert case.case_id in reply["text"] and "9 days" in reply["text"]
        await bot.settle()
        due = [i.due for i in bot.runner.scheduler.tagged(f"checkins:{case.case_id}")]
        assert due == [datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
                       datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
                       datetime(2026, 12, 1, 10, 0, tzinfo=UTC)]
        mark = api.mark()
        await bot.text(WORKER, "/plan nonsense")
        (usage,) = await bot.replies(WORKER, since=mark)
        assert usage["text"].startswith("Write /plan")
    finally:
        await stop_bot(bot)


async def test_a_blocked_returnee_is_reported_to_the_case_worker_once(fake_bot_api, tmp_path,
                                                                      framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Ana", language="en")
        case, invitation = registry.open_case(WORKER, "XS", "en", "Europe/Paris")
        await bot.text(RETURNEE, f"/start {invitation.code}")
        await bot.settle()
        await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1], "English"))
        await bot.settle()
        api.inject("sendMessage", "403_blocked", times=None, chat_id=RETURNEE)
        _case, session = registry.schedule_session(case.case_id, "2026-12-01 10:00",
                                                   place="Office")
        await bot.runner.casework.session_changed(session.session_id, "scheduled")
        await bot.settle()
        await bot.runner.casework.session_changed(session.session_id, "moved")
        await bot.settle()
        reports = [r for r in api.messages_to(WORKER) if "cannot be reached" in r["text"]]
        assert len(reports) == 1 and case.case_id in reports[0]["text"]
    finally:
        await stop_bot(bot)
