"""Returnees' updates stepped in worker processes (`run --step-processes N`), through the real
frameworks and the fake Bot API: the same conversations, the runtime's follow-up on their
effects (alerts), and a worker that dies is replaced without taking the bot down."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from counsel_bot.telegram.updates import chat_key
from tests.telegram.conftest import (
    button_data,
    french_returnee_in_distress,
    join,
    start_bot,
    stop_bot,
)
from tests.telegram.test_conformance import test_onboarding_consent_and_information_in_french

WORKER, RETURNEE = 8101, 8102


@pytest.mark.parametrize(("mode", "processes"), [("polling", 1), ("webhook", 2)])
async def test_onboarding_in_step_processes(fake_bot_api, tmp_path, framework, mode,
                                            processes):
    bot = await start_bot(fake_bot_api, tmp_path, framework, mode, step_processes=processes)
    try:
        assert bot.runner.processes is not None
        assert bot.runner.processes.count == processes
        await test_onboarding_consent_and_information_in_french(bot)
    finally:
        await stop_bot(bot)


async def test_distress_in_a_step_process_alerts_the_case_worker(fake_bot_api, tmp_path,
                                                                  framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=1)
    api = fake_bot_api
    try:
        # The alert is raised by the parent's runtime from the effects the worker reported.
        case, _answer, alert = await french_returnee_in_distress(bot, WORKER, RETURNEE)
        assert case.case_id in alert["text"] and "je veux mourir" not in alert["text"]
        stored = bot.app.conversations.registry.case(case.case_id)
        assert stored is not None and [a["status"] for a in stored.alerts] == ["open"]
        # The desk stays in the parent: the worker's press works as in-process.
        mark = api.mark()
        await bot.press(WORKER, button_data(alert, "Show details"))
        (details,) = await bot.replies(WORKER, since=mark)
        assert "je veux mourir" in details["text"]
    finally:
        await stop_bot(bot)


async def test_a_killed_step_process_is_replaced(fake_bot_api, tmp_path, framework, caplog):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=1)
    api = fake_bot_api
    try:
        processes = bot.runner.processes
        assert processes is not None
        first = processes._workers[0].process
        os.kill(first.pid, signal.SIGKILL)
        for _ in range(200):  # the parent notices the end of the pipe and starts another
            worker = processes._workers[0]
            if worker.process is not first and worker.writer is not None \
                    and not worker.writer.is_closing():
                break
            await bot.settle()
        assert processes._workers[0].process is not first
        assert "step process 0 ended" in caplog.text
        mark = api.mark()
        await bot.text(RETURNEE, "/start", language_code="en")
        await bot.replies(RETURNEE, 2, since=mark)
        assert bot.app.conversations.state_of(chat_key(RETURNEE)).position is not None
    finally:
        await stop_bot(bot)


async def test_a_session_notice_is_stepped_in_a_step_process(fake_bot_api, tmp_path,
                                                              framework):
    """Events from the runtime (here a session notice) take the same road as updates."""
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=2)
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Ana", language="en")
        case, invitation = registry.open_case(WORKER, "XS", "en", "Africa/Abidjan")
        await join(bot, RETURNEE, invitation.code, "en")
        when = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d 10:00")
        _case, session = registry.schedule_session(case.case_id, when, place="Office 7")
        await bot.runner.casework.session_changed(session.session_id, "scheduled")
        (notice,) = await api.wait_for_sent(lambda r: "Office 7" in r["text"],
                                            chat_id=RETURNEE)
        # Sent once, even when the same event is delivered again (the outbox's key).
        await bot.runner.casework.session_changed(session.session_id, "scheduled")
        await bot.settle()
        assert sum("Office 7" in r["text"] for r in api.messages_to(RETURNEE)) == 1
        mark = api.mark()
        await bot.press(RETURNEE, button_data(notice, "I will come"))
        await bot.replies(RETURNEE, since=mark)
        await bot.settle()
        assert registry.case(case.case_id).sessions[0].answer == "confirmed"
    finally:
        await stop_bot(bot)
