"""A step that fails (here: the store cannot write, as on a full disk) on the real bot, the
real frameworks and the fake Bot API: tried again while the chat waits; when every try
fails, the person is told once that their message is kept (a returnee with the emergency
contacts), and the update is kept and answered once the store works again, also after a
restart, and on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from counsel_bot.store.errors import StoreError
from counsel_bot.telegram import intake as intake_module
from tests.telegram.conftest import LiveBot, start_bot, stop_bot

RETURNEE, WORKER = 7301, 7302
SECRET = "mon frère dort dehors"  # the person's words: never in a log line


class FullDisk:
    """The store's shard writes fail, like a full disk, `times` times (None: until healed)."""

    def __init__(self, bot: LiveBot, times: int | None = None) -> None:
        self.store = bot.app.store
        self.left = times
        self.failures = 0
        self._commit = self.store._commit
        self.store._commit = self._failing_commit  # type: ignore[method-assign]

    def _failing_commit(self, handle: Any, storage: Any) -> None:
        if self.left is None or self.left > 0:
            if self.left is not None:
                self.left -= 1
            self.failures += 1
            raise StoreError("Cannot write shard file: No space left on device", op="commit")
        self._commit(handle, storage)

    def heal(self) -> None:
        self.left = 0


@pytest.fixture
def quick_tries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tries a tenth of a second apart, and kept updates handed back after a second."""
    monkeypatch.setattr("counsel_bot.telegram.router.STEP_RETRY_DELAYS", (0.1, 0.1, 0.1))
    monkeypatch.setattr(intake_module, "HELD_DELAYS", (1.0,))
    yield


def kept_text(bot: LiveBot, lang: str = "en") -> str:
    tr = bot.app.context.translator(lang)
    return tr(bot.app.context.dialogs.system["message_kept"])


def phones(bot: LiveBot) -> list[str]:
    return [c.phone for country in bot.app.context.deployment.countries.values()
            for c in country.emergency_contacts]


def logged(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


async def test_a_step_that_fails_twice_is_answered_once_without_an_apology(
        fake_bot_api, tmp_path, framework, quick_tries, caplog):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    try:
        disk = FullDisk(bot, times=2)
        mark = fake_bot_api.mark()
        await bot.text(RETURNEE, "/start", language_code="en")
        answers = await bot.replies(RETURNEE, 2, since=mark)
        await bot.settle()
        assert disk.failures == 2
        assert len(fake_bot_api.messages_to(RETURNEE)) == 2  # the answers, once each
        assert all(kept_text(bot) not in a["text"] for a in answers)
        warnings = logged(caplog, logging.WARNING)
        assert any("failed at try 1" in w for w in warnings)
        assert any("failed at try 2" in w for w in warnings)
        assert not logged(caplog, logging.ERROR)
        assert bot.runner.runner.intake.held == 0
    finally:
        await stop_bot(bot)


async def test_a_step_that_keeps_failing_is_kept_and_answered_when_the_store_works(
        fake_bot_api, tmp_path, framework, quick_tries, caplog):
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    api = fake_bot_api
    try:
        disk = FullDisk(bot)
        mark = api.mark()
        await bot.text(RETURNEE, f"/start {SECRET}", language_code="fr")
        (kept,) = await bot.replies(RETURNEE, since=mark, timeout=20)
        assert kept["text"].startswith(kept_text(bot, "fr"))  # in their Telegram language
        assert all(phone in kept["text"] for phone in phones(bot))  # help needs no store
        assert kept.get("protect_content") is True
        assert disk.failures == 4  # the first try and three more
        health = bot.runner.runner.health()
        assert health["updates_kept"] == 1
        assert health["updates_pending"] == 1  # still in the journal
        errors = logged(caplog, logging.ERROR)
        assert any("could not be handled in 4 tries" in e for e in errors)
        disk.heal()
        # a /start with a payload that is no invitation: that, a welcome, the languages
        answers = await bot.replies(RETURNEE, 3, since=mark + 1, timeout=20)
        assert all(kept_text(bot, "fr") not in a["text"] for a in answers)
        await bot.settle()
        assert len(api.messages_to(RETURNEE)) == 4  # told once, then answered once
        assert bot.runner.runner.intake.held == 0 and bot.runner.runner.intake.pending == 0
        assert all(SECRET not in r.getMessage() for r in caplog.records)
    finally:
        await stop_bot(bot)


async def test_a_kept_update_is_answered_after_a_restart(fake_bot_api, tmp_path, framework,
                                                         quick_tries, monkeypatch):
    monkeypatch.setattr(intake_module, "HELD_DELAYS", (3600.0,))  # only a restart brings it
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")
    api = fake_bot_api
    try:
        FullDisk(bot)
        mark = api.mark()
        await bot.text(RETURNEE, "/start", language_code="en")
        (kept,) = await bot.replies(RETURNEE, since=mark, timeout=20)
        assert kept["text"].startswith(kept_text(bot))
        await bot.settle()
    finally:
        await stop_bot(bot)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling")  # the disk has room
    try:
        answers = await bot.replies(RETURNEE, 2, since=mark + 1, timeout=20)
        assert all(kept_text(bot) not in a["text"] for a in answers)
        await bot.settle()
        assert len(api.messages_to(RETURNEE)) == 3  # not told twice
        assert bot.runner.runner.intake.pending == 0
    finally:
        await stop_bot(bot)


async def test_a_case_worker_is_told_without_the_emergency_contacts(
        fake_bot_api, tmp_path, quick_tries):
    bot = await start_bot(fake_bot_api, tmp_path, "ptb", "polling")
    api = fake_bot_api
    try:
        bot.app.conversations.registry.add_caseworker(WORKER, "Nadia", language="fr")
        await asyncio.sleep(0)
        FullDisk(bot)
        mark = api.mark()
        await bot.text(WORKER, "/cases", language_code="en")
        (kept,) = await bot.replies(WORKER, since=mark, timeout=20)
        assert kept["text"] == kept_text(bot, "fr")  # the worker's own language, no contacts
    finally:
        await stop_bot(bot)


async def test_on_postgresql_a_kept_update_is_a_row_of_its_own_until_answered(
        fake_bot_api, tmp_path, pg_url, quick_tries):
    bot = await start_bot(fake_bot_api, tmp_path, "aiogram", "polling", database_url=pg_url)
    api = fake_bot_api
    try:
        disk = FullDisk(bot)
        mark = api.mark()
        await bot.text(RETURNEE, "/start", language_code="en")
        (kept,) = await bot.replies(RETURNEE, since=mark, timeout=20)
        assert kept["text"].startswith(kept_text(bot))
        await asyncio.sleep(0.3)
        health = bot.runner.runner.health()  # its first row done, the kept row due later
        assert health["updates_kept"] == 1 and health["updates_pending"] == 1
        disk.heal()
        answers = await bot.replies(RETURNEE, 2, since=mark + 1, timeout=20)
        assert all(kept_text(bot) not in a["text"] for a in answers)
        await bot.settle()
        assert len(api.messages_to(RETURNEE)) == 3
        assert bot.runner.runner.health()["updates_kept"] == 0
        assert bot.runner.runner.intake.pending == 0
    finally:
        await stop_bot(bot)
