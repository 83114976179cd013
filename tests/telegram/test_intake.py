"""Updates in, at least once: journalled before Telegram hears they arrived, handled once,
in order; one the framework cannot read never stops the others; edits are screened."""

from __future__ import annotations

import logging

from counsel_bot.runtime.journal import Journal
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.telegram.update_journal import UpdateJournal
from tests.telegram.conftest import LiveBot, join, start_bot, stop_bot

USER, OTHER, WORKER = 5556001, 5556002, 5556009


def _old_poll(api, user: int) -> dict:
    """A private message holding a poll as an older Bot API server writes it: without the
    fields today's frameworks require (type, allows_multiple_answers, ...)."""
    chat = api._chat(user, "private")
    sender = api._user(user, language_code="en", first_name="Amina")
    message = api._new_message(chat, sender, {
        "poll": {"id": "42", "question": "Amina's secret question?",
                 "options": [{"text": "yes", "voter_count": 0}]}})
    return api._push({"message": message}, None)


async def test_an_update_the_framework_cannot_read_is_answered_and_polling_goes_on(
        live_bot: LiveBot, caplog):
    bot, api = live_bot, live_bot.api
    caplog.set_level(logging.INFO)
    await bot.send(_old_poll(api, USER))
    await bot.text(OTHER, "/start")
    await bot.replies(OTHER, 2, since=0)  # the next update is not held up
    await bot.settle()
    (answer,) = api.messages_to(USER)
    assert answer["text"].startswith("I can only read text messages")
    unreadable = [r for r in caplog.records if "could not read update" in r.getMessage()]
    assert len(unreadable) == 1
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "Amina" not in logs and "secret question" not in logs
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_update_delivered_twice_is_handled_once(webhook_bot: LiveBot):
    bot, api = webhook_bot, webhook_bot.api
    update = api.user_sends_text(USER, "/start")
    await bot.send(update)
    await bot.send(update)  # Telegram retries when our answer was lost
    await bot.settle()
    assert len(api.messages_to(USER)) == 2  # welcome + language question, once


async def test_each_update_is_in_the_journal_before_the_next_offset_confirms_it(
        polling_bot: LiveBot):
    bot, api = polling_bot, polling_bot.api
    update = api.user_sends_text(USER, "/start")
    await bot.replies(USER, 2, since=0)
    await bot.settle()
    path = bot.app.settings.data_dir / "updates" / "updates.journal"
    copy = bot.app.settings.data_dir.parent / "copy" / path.name  # the bot holds its lock
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    journal = Journal(copy, ShardCipher(bot.app.key))
    records = journal.replay()
    journal.close()
    accepted = [r["update"]["update_id"] for r in records if r["op"] == "in"]
    done = [i for r in records if r["op"] == "done" for i in r["ids"]]
    update_id = update["update_id"]
    assert accepted == [update_id] and done == [update_id]
    offsets = [c["params"].get("offset") for c in api.calls_to("getUpdates")]
    assert update_id + 1 in offsets  # confirmed only by a later poll, after the journal


async def test_updates_accepted_before_a_stop_are_handled_after_the_restart(
        fake_bot_api, tmp_path, framework):
    """Accepted (journalled) but not yet handled when the bot went down: handled at the next
    start, although Telegram will never send them again."""
    api = fake_bot_api
    bot = await start_bot(api, tmp_path, framework, "polling")
    journal: UpdateJournal = bot.runner.runner.intake.journal
    await stop_bot(bot)
    # What a crash right after the fsync leaves: accepted, never handled, offset confirmed.
    raw = Journal(bot.app.settings.data_dir / "updates" / "updates.journal",
                  ShardCipher(bot.app.key))
    replay = UpdateJournal(raw)
    replay.load()
    update = api.user_sends_text(USER, "/start", queue=False)
    assert replay.accept(update)
    raw.sync()
    raw.close()
    assert journal is not replay
    again = await start_bot(api, tmp_path, framework, "polling")
    try:
        await again.replies(USER, 2, since=0)
    finally:
        await stop_bot(again)


async def test_an_edit_into_distress_gets_the_safety_answer_and_the_alert(
        polling_bot: LiveBot):
    bot, api = polling_bot, polling_bot.api
    registry = bot.app.conversations.registry
    registry.add_caseworker(WORKER, "Nadia", language="en")
    case, invitation = registry.open_case(WORKER, "XS", "en", "Europe/Paris")
    await join(bot, USER, invitation.code, "en")
    sent = api.user_sends_text(USER, "hello")
    await bot.send(sent)
    await bot.settle()
    mark = api.mark()
    await bot.send(api.user_edits_message(USER, sent["message"]["message_id"],
                                          "I want to kill myself"))
    await bot.settle()
    answer = next(m for m in api.sent[mark:] if m["chat_id"] == USER)
    contacts = bot.app.context.deployment.country("XS").emergency_contacts
    assert all(c.phone in answer["text"] for c in contacts)
    alerts = [m for m in api.sent[mark:] if m["chat_id"] == WORKER and case.case_id in m["text"]]
    assert alerts and "kill" not in alerts[-1]["text"]
    assert registry.case(case.case_id).alerts[-1]["severity"] == "urgent"
