"""Returnees' updates stepped in worker processes (`run --step-processes N`), through the real
frameworks and the fake Bot API: the same conversations, the runtime's follow-up on their
effects (alerts), and a worker that dies is replaced without taking the bot down."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from counsel_bot.telegram.step_processes import StepProcesses
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


async def _replaced(processes: StepProcesses, first: object) -> None:
    """Until the worker that ended is replaced by one started and reading (the parent sees
    the end of the pipe; a start may take a while on a loaded machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    worker = processes._workers[0]
    while worker.process is first or not worker.ready.is_set():
        assert loop.time() < deadline, "the step process was not replaced"
        await asyncio.sleep(0.05)


def _kill_the_step_process(bot) -> tuple[StepProcesses, object]:
    processes = bot.runner.processes
    assert processes is not None
    first = processes._workers[0].process
    os.kill(first.pid, signal.SIGKILL)
    return processes, first


async def test_a_killed_step_process_is_replaced(fake_bot_api, tmp_path, framework, caplog):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=1)
    api = fake_bot_api
    try:
        processes, first = _kill_the_step_process(bot)
        await _replaced(processes, first)
        assert "step process 0 ended" in caplog.text
        mark = api.mark()
        await bot.text(RETURNEE, "/start", language_code="en")
        await bot.replies(RETURNEE, 2, since=mark)
        assert bot.app.conversations.state_of(chat_key(RETURNEE)).position is not None
    finally:
        await stop_bot(bot)


async def test_what_a_dying_step_process_held_is_answered_by_the_next_once(
        fake_bot_api, tmp_path, framework, caplog):
    """The update was marked received: failing its step would lose what the person sent.
    It waits for the next worker and is answered there, once."""
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=1)
    api = fake_bot_api
    try:
        mark = api.mark()
        processes, first = _kill_the_step_process(bot)
        await bot.text(RETURNEE, "/start", language_code="en")  # while it dies
        answers = await bot.replies(RETURNEE, 2, since=mark, timeout=90)
        await _replaced(processes, first)
        await bot.settle()
        assert api.sent[mark:] == answers  # nothing twice
        assert bot.app.conversations.state_of(chat_key(RETURNEE)).position is not None
        assert "could not be handled" not in caplog.text
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


async def test_a_step_process_that_cannot_start_again_is_tried_again(
        fake_bot_api, tmp_path, framework, caplog, monkeypatch):
    """A failed start (the machine out of memory for a moment, say) is not the end of the
    step processes: the bot tries again after a pause, and what waited is answered."""
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", step_processes=1)
    api = fake_bot_api
    try:
        processes = bot.runner.processes
        assert processes is not None
        spawn, failures = processes._spawn, []

        async def spawn_failing_once(worker):
            if not failures:
                failures.append(worker.number)
                raise OSError("Cannot allocate memory")
            await spawn(worker)

        monkeypatch.setattr(processes, "_spawn", spawn_failing_once)
        mark = api.mark()
        _kill_the_step_process(bot)
        await bot.text(RETURNEE, "/start", language_code="en")
        answers = await bot.replies(RETURNEE, 2, since=mark, timeout=90)
        assert failures == [0]
        assert "step process 0 could not be started again; trying again in 1 s" in caplog.text
        await bot.settle()
        assert api.sent[mark:] == answers
    finally:
        await stop_bot(bot)
