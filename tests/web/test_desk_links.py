"""Sign-in links reach only the worker's own chat: /web at the Telegram desk, and the admin
command `caseworker web-link ID` through the running bot's inbox."""

from __future__ import annotations

import json
import shutil

from counsel_bot.cases.signin import SignInLinks
from counsel_bot.cli import main
from counsel_bot.cli.i18n_check import check_desk
from tests.telegram.conftest import start_bot, stop_bot
from tests.web.conftest import LINK

WORKER = 8001


async def test_web_link_from_the_command_line_goes_to_the_workers_own_chat(
        fake_bot_api, tmp_path, monkeypatch, capsys):
    bot = await start_bot(fake_bot_api, tmp_path, "aiogram", "polling")
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Nadia", language="fr")
        SignInLinks(bot.app.store).record_web_url("http://127.0.0.1:8123")
        monkeypatch.setenv("COUNSEL_BOT_DATA_DIR", str(tmp_path / "data"))
        mark = api.mark()
        assert main(["caseworker", "web-link", str(WORKER), "--json"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["requested"] is True
        await bot.runner.runner.parts.notes.read()
        (message,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
        assert message["protect_content"] is True
        assert "lien de connexion" in message["text"]  # in the worker's language
        token = LINK.search(message["text"]).group(0).split("#")[1]
        assert SignInLinks(bot.app.store).redeem(token) == WORKER
        assert "web_link_issued" in [e.event for e in bot.app.audit.entries()]
        assert main(["caseworker", "web-link", "999"]) == 1  # nobody by that ID
    finally:
        await stop_bot(bot)


async def test_web_at_the_telegram_desk_without_a_desk_says_so(fake_bot_api, tmp_path,
                                                               monkeypatch):
    monkeypatch.delenv("COUNSEL_BOT_WEB_URL", raising=False)
    bot = await start_bot(fake_bot_api, tmp_path, "ptb", "polling")
    try:
        bot.app.conversations.registry.add_caseworker(WORKER, "Nadia", language="en")
        mark = fake_bot_api.mark()
        await bot.text(WORKER, "/web")
        (reply,) = await bot.replies(WORKER, since=mark)
        assert "not running yet" in reply["text"] and "http" not in reply["text"]
        monkeypatch.setenv("COUNSEL_BOT_WEB_URL", "https://desk.example.org/")
        mark = fake_bot_api.mark()
        await bot.text(WORKER, "/web")
        (reply,) = await bot.replies(WORKER, since=mark)
        assert "https://desk.example.org/signin#" in reply["text"]
    finally:
        await stop_bot(bot)


def test_the_desk_catalogue_check_finds_a_stale_template_and_a_missing_translation(tmp_path):
    from counsel_bot.config.resources import packaged_locales

    locales = tmp_path / "locales"
    shutil.copytree(packaged_locales(), locales)
    assert check_desk(locales) == []
    pot = (locales / "desk.pot").read_text(encoding="utf-8")
    (locales / "desk.pot").write_text(pot.replace('msgid "Show the words"', 'msgid "Show"'),
                                      encoding="utf-8")
    fr = locales / "fr" / "LC_MESSAGES" / "desk.po"
    fr.write_text(fr.read_text(encoding="utf-8").replace('msgstr "Afficher"', 'msgstr ""'),
                  encoding="utf-8")
    problems = check_desk(locales)
    assert any("desk.pot lacks 'Show the words'" in p for p in problems)
    assert any("fr" in p and "no translation for 'Show'" in p for p in problems)
