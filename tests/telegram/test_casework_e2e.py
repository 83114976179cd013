"""The whole path, on both frameworks, from the command line and from Telegram:
a case worker registers, opens a case, the returnee joins by the link and consents, a
session is scheduled, the notice shows the right local time, the answer reaches the case
worker, and the reminders come at the right moments on a simulated clock."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from counsel_bot.telegram.updates import chat_key
from tests.future import FRENCH_WEEKDAYS, YEAR, at, last_sunday, local
from tests.telegram.conftest import SimClock, button_data, join, start_bot, stop_bot

WORKER, RETURNEE, STRANGER = 7001, 7002, 7003
START = at(11, 23, 9)
# The Monday after the clocks go forward in Paris (the last Sunday of March)
SUMMER_MONDAY = last_sunday(YEAR + 1, 3) + timedelta(days=1)


async def admin(tmp_path: Path, *args: str, database_url: str | None = None) -> dict:
    """The admin command line; with `database_url`, against the database from a folder of
    its own (as from another machine): its notes reach the bot through the database."""
    env = {**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key")}
    if database_url:
        env["COUNSEL_BOT_DATABASE_URL"] = database_url
        env["COUNSEL_BOT_DATA_DIR"] = str(tmp_path / "admin-machine")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", *args, "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, (out + err).decode()
    return json.loads(out.decode().strip().splitlines()[-1])


async def test_from_the_command_line(fake_bot_api, tmp_path, framework, store_backend,
                                     request):
    """On both stores: on PostgreSQL the notes go through the database's inbox and the
    reminders are rows of its schedule."""
    url = request.getfixturevalue("pg_url") if store_backend == "postgresql" else None
    clock = SimClock(datetime.now(UTC))  # as the command line's: its invitation is fresh
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock,
                          database_url=url)
    api = fake_bot_api

    async def cli(tmp_path: Path, *args: str) -> dict:
        return await admin(tmp_path, *args, database_url=url)

    try:
        await cli(tmp_path, "caseworker", "add", "--name", "Nadia", "--telegram-id",
                  str(WORKER), "--language", "fr")
        opened = await cli(tmp_path, "case", "new", "--caseworker", str(WORKER), "--country",
                           "XS", "--language", "fr", "--timezone", "Europe/Paris")
        assert opened["invite_link"] == (f"https://t.me/counsel_test_bot?start="
                                         f"{opened['invite_code']}")
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", opened["invite_code"])
        assert opened["case_id"] not in opened["invite_code"]
        await join(bot, RETURNEE, opened["invite_code"], "fr")
        joined = await api.wait_for_sent(chat_id=WORKER)
        assert opened["case_id"] in joined[0]["text"]

        # 1 December, 14:30 in Paris is 13:30 UTC (winter time)
        mark = api.mark()
        booked = await cli(tmp_path, "session", "schedule", opened["case_id"], "--at",
                           local(12, 1, "14:30"), "--place", "Bureau 3, rue Exemple",
                           "--duration", "45", "--interpreter", "ps")
        (notice,) = await api.wait_for_sent(chat_id=RETURNEE, since=mark, timeout=10)
        weekday = FRENCH_WEEKDAYS[date(YEAR, 12, 1).weekday()]
        assert f"{weekday} 1 décembre {YEAR}" in notice["text"] and "14:30" in notice["text"]
        assert "45 minutes" in notice["text"] and "pachto" in notice["text"]
        assert "Bureau 3, rue Exemple" in notice["text"]
        assert notice["protect_content"] is True

        mark = api.mark()
        await bot.press(RETURNEE, button_data(notice, "Je viendrai"))
        confirmation = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert opened["case_id"] in confirmation[0]["text"]
        assert booked["session_id"] in confirmation[0]["text"]
        case = bot.app.conversations.registry.case(opened["case_id"])
        assert case.sessions[0].answer == "confirmed"

        # The reminders: the day before (in waking hours) and one hour before, no others.
        scheduler = bot.runner.scheduler
        due = sorted(i.due for i in scheduler.tagged(f"session:{booked['session_id']}"))
        assert due == [at(11, 30, 13, 30), at(12, 1, 12, 30)]
        await bot.settle()
        mark = api.mark()
        clock.now = at(11, 30, 13, 29)
        assert await scheduler.tick() == 0
        clock.now = at(11, 30, 13, 31)
        assert await scheduler.tick() == 1
        (day,) = await api.wait_for_sent(chat_id=RETURNEE, since=mark)
        assert day["text"].startswith(bot.app.context.translator("fr")(
            "Reminder: your counselling session is tomorrow."))
        clock.now = at(12, 1, 12, 31)
        assert await scheduler.tick() == 1
        await api.wait_for_sent(chat_id=RETURNEE, since=mark, count=2)
        clock.now = at(12, 2, 12)
        assert await scheduler.tick() == 0
    finally:
        await stop_bot(bot)


async def test_moves_and_cancellations_reach_the_returnee_and_replan(fake_bot_api, tmp_path,
                                                                    framework):
    clock = SimClock(datetime.now(UTC))  # as the command line's: its invitation is fresh
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        await admin(tmp_path, "caseworker", "add", "--name", "Karim", "--telegram-id",
                  str(WORKER), "--language", "ar")
        opened = await admin(tmp_path, "case", "new", "--caseworker", str(WORKER), "--country",
                           "XS", "--language", "ar", "--timezone", "Europe/Paris")
        await join(bot, RETURNEE, opened["invite_code"], "ar")
        booked = await admin(tmp_path, "session", "schedule", opened["case_id"], "--at",
                           f"{SUMMER_MONDAY} 10:00", "--online", "https://meet.example.org/abc")
        await api.wait_for_sent(lambda r: "meet.example.org" in r["text"], chat_id=RETURNEE)
        session = booked["session_id"]
        mark = api.mark()
        await admin(tmp_path, "session", "move", session, "--at", f"{SUMMER_MONDAY} 16:00")
        (moved,) = await api.wait_for_sent(chat_id=RETURNEE, since=mark)
        assert "4:00 م" in moved["text"] and "الصيفي" in moved["text"]  # summer time
        # After the clocks go forward (the Sunday before), 16:00 in Paris is 14:00 UTC.
        due = sorted(i.due for i in bot.runner.scheduler.tagged(f"session:{session}"))
        monday = datetime.combine(SUMMER_MONDAY, datetime.min.time(), tzinfo=UTC)
        assert due == [monday - timedelta(hours=10), monday + timedelta(hours=13)]
        mark = api.mark()
        await admin(tmp_path, "session", "cancel", session)
        (cancelled,) = await api.wait_for_sent(chat_id=RETURNEE, since=mark)
        assert "4:00 م" in cancelled["text"]
        assert bot.runner.scheduler.tagged(f"session:{session}") == []
    finally:
        await stop_bot(bot)


async def test_asking_to_change_reaches_the_case_worker_with_the_suggestion(
        fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Ana", language="en")
        case, invitation = registry.open_case(WORKER, "XS", "en", "Africa/Abidjan")
        await join(bot, RETURNEE, invitation.code, "en")
        _case, session = registry.schedule_session(case.case_id, local(12, 3, "09:00"),
                                                   place="Office")
        await bot.runner.casework.session_changed(session.session_id, "scheduled")
        (notice,) = await api.wait_for_sent(lambda r: "Office" in r["text"], chat_id=RETURNEE)
        mark = api.mark()
        await bot.press(RETURNEE, button_data(notice, "Ask to change"))
        await bot.replies(RETURNEE, since=mark)
        await bot.text(RETURNEE, "Thursday afternoon would be better")
        told = await api.wait_for_sent(lambda r: "Thursday afternoon" in r["text"],
                                       chat_id=WORKER)
        assert case.case_id in told[0]["text"]
        # a press on the old notice once the session is cancelled changes nothing
        registry.cancel_session(session.session_id)
        mark = api.mark()
        await bot.press(RETURNEE, button_data(notice, "I will come"), strict=False)
        await bot.replies(RETURNEE, since=mark)
        assert registry.case(case.case_id).sessions[0].answer == "change_requested"
    finally:
        await stop_bot(bot)


async def test_the_desk_in_telegram(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Ana", language="en")
        # Not a case worker: a plain refusal that says nothing about any case.
        for command in ("/cases", "/case C-AAAAAAAA", "/newcase", "/schedule"):
            mark = api.mark()
            await bot.text(STRANGER, command)
            replies = await bot.replies(STRANGER, since=mark)
            assert replies[-1]["text"] == "This command is for case workers only."

        async def press(label: str) -> dict:
            mark = api.mark()
            await bot.press(WORKER, button_data(api.messages_to(WORKER)[-1], label))
            return (await bot.replies(WORKER, since=mark))[-1]

        mark = api.mark()
        await bot.text(WORKER, "/newcase")
        await bot.replies(WORKER, since=mark)
        await press("Sampleland")
        await press("Français")
        done = await press("Europe/Paris")
        link = re.search(r"https://t\.me/counsel_test_bot\?start=([A-Za-z0-9_-]+)", done["text"])
        assert link, done["text"]
        (case,) = registry.caseload(WORKER)
        await join(bot, RETURNEE, link.group(1), "fr")

        mark = api.mark()
        await bot.text(WORKER, "/schedule")
        await bot.replies(WORKER, since=mark)
        await press(case.case_id)
        mark = api.mark()
        await bot.text(WORKER, local(12, 24, "25:00"))
        assert (await bot.replies(WORKER, since=mark))[-1]["text"].startswith(
            "I could not use that time")
        mark = api.mark()
        await bot.text(WORKER, local(12, 1, "10:15"))
        await bot.replies(WORKER, since=mark)
        mark = api.mark()
        await bot.text(WORKER, "https://meet.example.org/room")
        await bot.replies(WORKER, since=mark)
        await press("60 minutes")
        mark_returnee = api.mark()
        booked = await press("No interpreter")
        assert "is scheduled" in booked["text"]
        (notice,) = await api.wait_for_sent(chat_id=RETURNEE, since=mark_returnee)
        assert "10:15" in notice["text"] and "meet.example.org/room" in notice["text"]

        mark = api.mark()
        await bot.text(WORKER, "/cases")
        (caseload,) = await bot.replies(WORKER, since=mark)
        assert case.case_id in caseload["text"] and "active" in caseload["text"]
        mark = api.mark()
        await bot.text(WORKER, f"/case {case.case_id}")
        (details,) = await bot.replies(WORKER, since=mark)
        assert "Europe/Paris" in details["text"] and "-S1" in details["text"]
        mark = api.mark()
        await bot.text(WORKER, "/case C-ZZZZZZZZ")
        assert (await bot.replies(WORKER, since=mark))[-1]["text"] == (
            "No such case in your caseload.")
        state = bot.app.conversations.state_of(chat_key(RETURNEE))
        assert state.case_id == case.case_id
    finally:
        await stop_bot(bot)
