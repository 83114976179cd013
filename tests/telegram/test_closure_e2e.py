"""Closure, the returnee's rights and retention, end to end on both frameworks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from counsel_bot.telegram.updates import chat_key
from tests.telegram.conftest import LiveBot, SimClock, button_data, join, start_bot, stop_bot

WORKER, RETURNEE = 9001, 9002
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, (out + err).decode()


async def joined(bot: LiveBot, lang: str = "en") -> str:
    registry = bot.app.conversations.registry
    registry.add_caseworker(WORKER, "Nadia", language="en")
    case, invitation = registry.open_case(WORKER, "XS", lang, "Europe/Paris")
    await join(bot, RETURNEE, invitation.code, lang)
    return case.case_id


async def press_last(bot: LiveBot, label: str) -> None:
    await bot.press(RETURNEE, button_data(bot.api.messages_to(RETURNEE)[-1], label))
    await bot.settle()


async def test_completed_closure_with_evaluation_and_a_referral(fake_bot_api, tmp_path,
                                                                framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        code, out = await cli(tmp_path, "case", "close", case_id, "--reason", "completed")
        assert code == 0, out
        closing = await api.wait_for_sent(lambda r: "is now closed" in r["text"],
                                          chat_id=RETURNEE, timeout=10)
        assert "Temporary shelter (SAMPLE)" in closing[0]["text"]  # where to turn next
        await bot.settle()
        await press_last(bot, "Partly")
        await press_last(bot, "Work")
        await press_last(bot, "Done")
        await press_last(bot, "4, good")
        await bot.text(RETURNEE, "Thank you for everything")
        await bot.settle()
        offer = api.messages_to(RETURNEE)[-1]
        assert "Sample Health Network (SAMPLE)" in offer["text"]
        await press_last(bot, "No, thank you")
        await press_last(bot, "Yes, share with them")  # the employment service
        await bot.settle()
        assert api.messages_to(RETURNEE)[-1]["text"].startswith("We wish you all the best")
        case = bot.app.conversations.registry.case(case_id)
        assert case.status == "closed" and case.closed_reason == "completed"
        assert case.evaluation["met"] == "partly" and case.evaluation["support"] == 4
        assert [(r["partner"], r["granted"]) for r in case.referrals] == [
            ("xs-health", False), ("xs-jobs", True)]
        state = bot.app.conversations.state_of(chat_key(RETURNEE))
        assert state.consents["referral:xs-jobs"].granted
        told = [r["text"] for r in api.messages_to(WORKER)]
        assert any("Sample Employment Service" in t for t in told)
        assert not any("Sample Health Network" in t for t in told)
        events = [e.event for e in bot.app.audit.entries()]
        assert "case_closed" in events and "referral_consented" in events
    finally:
        await stop_bot(bot)


async def test_a_deceased_case_never_gets_another_message(fake_bot_api, tmp_path, framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        bot.app.conversations.followup.set_plan(case_id, date(2026, 11, 22), None, None)
        bot.runner.care.plan_checkins(case_id)
        registry = bot.app.conversations.registry
        _case, session = registry.schedule_session(case_id, "2026-11-30 10:00", place="Office")
        await bot.runner.casework.session_changed(session.session_id, "scheduled")
        await bot.settle()
        before = len(api.messages_to(RETURNEE))

        async def worker_press(label: str) -> None:
            await bot.press(WORKER, button_data(api.messages_to(WORKER)[-1], label))
            await bot.settle()

        await bot.text(WORKER, f"/close {case_id}")
        await bot.settle()
        await worker_press("the person died")
        await worker_press("Confirm")
        protocol = await api.wait_for_sent(lambda r: "Inform the authorities" in r["text"],
                                           chat_id=WORKER)
        assert case_id in protocol[0]["text"]
        assert bot.runner.scheduler.tagged(f"case:{case_id}") == []
        # Check-ins and reminders that were due, and anything the phone sends: silence.
        clock.advance(days=60)
        await bot.runner.scheduler.tick()
        await bot.text(RETURNEE, "hello?")
        await bot.settle()
        assert len(api.messages_to(RETURNEE)) == before
        code, out = await cli(tmp_path, "case", "reopen", case_id)
        assert code == 1 and "cannot be reopened" in out
        events = [e.event for e in bot.app.audit.entries()]
        assert "deceased_protocol_shown" in events
    finally:
        await stop_bot(bot)


async def test_stop_ends_contact_and_start_opens_it_again(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        await bot.text(RETURNEE, "/stop")
        await bot.settle()
        await press_last(bot, "I moved away")
        assert api.messages_to(RETURNEE)[-1]["text"].startswith("Contact is stopped.")
        told = await api.wait_for_sent(lambda r: "stopped contact" in r["text"], chat_id=WORKER)
        assert "I moved away" in told[0]["text"]
        registry = bot.app.conversations.registry
        assert registry.case(case_id).closed_reason == "withdrawn"
        # a notice from the case worker now reaches nobody
        before = len(api.messages_to(RETURNEE))
        await bot.runner.casework.session_changed(f"{case_id}-S9", "scheduled")
        await bot.text(RETURNEE, "hello")
        await bot.settle()
        assert api.messages_to(RETURNEE)[-1]["text"].startswith("Contact is stopped.")
        assert len(api.messages_to(RETURNEE)) == before + 1
        # /start: fresh consent, and the case is open again
        await bot.text(RETURNEE, "/start")
        await bot.settle()
        await press_last(bot, "English")
        await press_last(bot, "Yes, I agree")
        assert registry.case(case_id).status == "active"
        assert "case_reopened" in [e.event for e in bot.app.audit.entries()]
    finally:
        await stop_bot(bot)


async def test_mydata_export_delete_and_erasure(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    api = fake_bot_api
    try:
        case_id = await joined(bot)
        await bot.text(RETURNEE, "I have nowhere to sleep tonight")
        await bot.settle()
        mark = api.mark()
        await bot.text(RETURNEE, "/mydata")
        (summary,) = await bot.replies(RETURNEE, since=mark)
        assert case_id in summary["text"] and "Safety alerts: 1" in summary["text"]
        assert summary["protect_content"] is True

        code, out = await cli(tmp_path, "case", "export", case_id)
        assert code == 0, out
        document = json.loads(out[out.index("{"):])
        assert document["case_id"] == case_id
        assert [c["purpose"] for c in document["consents"]] == ["counselling", "safety_alerts",
                                                                 "checkins"]
        assert document["consents"][0]["version"] and document["consents"][0]["language"]
        assert document["alerts"][0]["text"] == "I have nowhere to sleep tonight"

        await bot.text(RETURNEE, "/delete")
        await bot.settle()
        await press_last(bot, "Yes, delete my information")
        assert api.messages_to(RETURNEE)[-2]["text"].startswith("Your request is recorded")
        await api.wait_for_sent(lambda r: "asked for their information to be deleted"
                                in r["text"], chat_id=WORKER)
        assert bot.runner.scheduler.tagged(f"erasure:{case_id}")

        code, out = await cli(tmp_path, "case", "erase", case_id, "--json")
        assert code == 0, out
        assert bot.app.conversations.registry.case(case_id) is None
        assert bot.app.conversations.state_of(chat_key(RETURNEE)).case_id is None
        assert bot.app.conversations.lifecycle.tombstone(case_id)["case_id"] == case_id
        code, out = await cli(tmp_path, "audit", "verify")
        assert code == 0 and "chain intact" in out
        events = [e.event for e in bot.app.audit.entries()]
        assert {"case_exported", "case_erased"} <= set(events)
    finally:
        await stop_bot(bot)


async def test_retention_anonymises_closed_cases_on_a_simulated_clock(fake_bot_api, tmp_path,
                                                                      framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock)
    try:
        case_id = await joined(bot)
        await bot.text(RETURNEE, "I have not eaten for two days")
        await bot.settle()
        lifecycle = bot.app.conversations.lifecycle
        lifecycle.close(case_id, "relocated", "moved to the capital", clock())
        await bot.runner.closing.case_closed(case_id)
        await bot.settle()
        clock.advance(days=300)
        await bot.runner.scheduler.tick()
        assert not bot.app.conversations.registry.case(case_id).anonymised
        clock.advance(days=80)  # past 12 months
        await bot.runner.scheduler.tick()
        case = bot.app.conversations.registry.case(case_id)
        assert case.anonymised and case.chat is None and case.closure_note is None
        assert all(a["text"] is None for a in case.alerts)
        assert bot.app.conversations.state_of(chat_key(RETURNEE)).language is None
        assert "case_anonymised" in [e.event for e in bot.app.audit.entries()]
    finally:
        await stop_bot(bot)


async def test_no_plain_text_anywhere_in_the_data_folder(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    try:
        case_id = await joined(bot, "fr")
        secrets = ["Amina Haddad habite 12 rue des Lilas", "je veux mourir",
                   "mon patron a pris mon passeport", "Karim Benali 0612345678"]
        for text in secrets:
            await bot.text(RETURNEE, text, language_code="fr")
            await bot.settle()
        await bot.text(RETURNEE, "/privacy")
        await bot.settle()
        for alert in bot.app.conversations.registry.case(case_id).alerts:
            assert alert["text"] in secrets
    finally:
        await stop_bot(bot)
    blob = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert len(blob) > 1000
    for text in [*secrets, case_id, "Nadia", str(RETURNEE), "suicide_self_harm"]:
        assert text.encode("utf-8") not in blob, text
        assert json.dumps(text).encode("ascii") not in blob, text


async def test_audit_verify_catches_an_edited_entry(fake_bot_api, tmp_path, framework):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=SimClock(START))
    try:
        await joined(bot)
    finally:
        await stop_bot(bot)
    code, out = await cli(tmp_path, "audit", "verify")
    assert code == 0, out
    log = tmp_path / "data" / "audit" / "audit.log"
    data = bytearray(log.read_bytes())
    data[40] ^= 0x01  # one bit, in the first entry
    log.write_bytes(bytes(data))
    code, out = await cli(tmp_path, "audit", "verify")
    assert code == 1 and "entry 1" in out


async def test_closing_cancels_every_scheduled_item_at_once(fake_bot_api, tmp_path):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, "aiogram", "polling", clock=clock)
    try:
        case_id = await joined(bot)
        bot.app.conversations.followup.set_plan(case_id, date(2026, 11, 22), None, None)
        bot.runner.care.plan_checkins(case_id)
        assert bot.runner.scheduler.tagged(f"case:{case_id}")
        bot.app.conversations.lifecycle.close(case_id, "ineligible", None, clock())
        await bot.runner.closing.case_closed(case_id)
        assert bot.runner.scheduler.tagged(f"case:{case_id}") == []
        assert bot.runner.scheduler.tagged(f"retention:{case_id}")[0].due > clock() + timedelta(
            days=360)
    finally:
        await stop_bot(bot)
