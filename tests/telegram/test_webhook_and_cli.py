"""The webhook's secret and health check, and `counsel-bot run` as an administrator runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.fake_bot_api.server import FakeBotApi
from tests.telegram.bot_process import BotProcess
from tests.telegram.conftest import LiveBot

USER = 5554001


async def raw_request(port: int, head: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    return status.decode()


async def test_wrong_or_missing_secret_is_refused_before_the_body_is_read(
        webhook_bot: LiveBot):
    bot = webhook_bot
    port = bot.runner.webhook_port
    path = "/telegram/webhook"
    # A promised body of a megabyte that never comes: only an early refusal can answer.
    for header in ("", "X-Telegram-Bot-Api-Secret-Token: wrong\r\n"):
        status = await raw_request(port, f"POST {path} HTTP/1.1\r\nHost: x\r\n{header}"
                                         "Content-Type: application/json\r\n"
                                         "Content-Length: 1000000\r\n\r\n")
        assert " 403 " in status
    secret = bot.api.webhook["secret_token"]
    assert bot.api.webhook["url"] == "https://bot.example.org/telegram/webhook"
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}{path}"
        update = bot.api.user_sends_text(USER, "/start")
        async with http.post(url, json=update, headers={
                "X-Telegram-Bot-Api-Secret-Token": secret}) as response:
            assert response.status == 200
        # Not an update: 200 all the same (Telegram would retry anything else for ever)
        for body in (b"{not json", b"{}", b'{"message": 5}', b"[1, 2]", b'{"update_id": "x"}'):
            async with http.post(url, data=body, headers={
                    "X-Telegram-Bot-Api-Secret-Token": secret}) as response:
                assert response.status == 200
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
    await bot.replies(USER, 2, since=0)


STARTUP = 90.0
"""How long a start may take. Not a measure of speed (benchmarks/ measures that): a test
that only asks whether the bot starts must not fail because CI's two cores are shared with
three other test workers, each starting bots and servers of its own."""


async def started(api: FakeBotApi, tmp_path: Path, framework: str, mode: str = "polling",
                  *args: str) -> BotProcess:
    """`counsel-bot -v run` as an administrator types it, once it says it is ready (its
    commands published, its webhook set)."""
    bot = BotProcess(api, tmp_path, framework, mode, args=list(args), verbose=True)
    await bot.start()
    try:
        await bot.ready(timeout=STARTUP)
    except BaseException:
        await bot.stop()
        raise
    return bot


async def test_run_polls_answers_and_stops_cleanly_on_sigterm(fake_bot_api, tmp_path, framework):
    api = fake_bot_api
    bot = await started(api, tmp_path, framework)
    try:
        await api.wait_for_call("setMyCommands", count=7, timeout=5)
        api.user_sends_text(USER, "/start", language_code="es")
        api.user_sends_text(USER, "I am Amina, my secret words")
        await api.wait_for_sent(chat_id=USER, count=4, timeout=15)
    finally:
        returncode = await bot.stop(signal.SIGTERM)
    logs = bot.log_text()
    assert returncode == 0, logs
    assert api.token not in logs and api.token.split(":")[1] not in logs
    assert "Amina" not in logs and "secret words" not in logs
    assert "ready: @counsel_test_bot on " in logs and "polling" in logs
    assert "stopped;" in logs


async def test_ctrl_c_stops_the_bot_and_its_step_processes_cleanly(fake_bot_api, tmp_path):
    """Ctrl-C in a terminal reaches the whole process group, the step processes too: they
    finish what they hold and end when the bot tells them, not in the middle of a step."""
    api = fake_bot_api
    bot = await started(api, tmp_path, "aiogram", "polling", "--step-processes", "2")
    try:
        await api.wait_for_call("setMyCommands", count=7, timeout=5)
        api.user_sends_text(USER, "/start", language_code="fr")
        await api.wait_for_sent(chat_id=USER, count=2, timeout=15)
    finally:
        returncode = await bot.stop(signal.SIGINT, group=True)
    logs = bot.log_text()
    assert returncode == 0, logs
    assert "2 step process(es) ready" in logs
    assert "ended" not in logs and "Traceback" not in logs
    assert "stopped;" in logs


async def test_run_in_webhook_mode_registers_a_secret(fake_bot_api, tmp_path):
    api = fake_bot_api
    bot = await started(api, tmp_path, "aiogram", "webhook")
    try:
        await api.wait_for_call("setWebhook", timeout=5)
        assert len(api.webhook["secret_token"]) >= 32
    finally:
        returncode = await bot.stop(signal.SIGTERM)
    logs = bot.log_text()
    assert returncode == 0, logs
    assert api.webhook["secret_token"] not in logs


async def test_run_without_a_token_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COUNSEL_BOT_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", "run", "--framework", "ptb", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert b"COUNSEL_BOT_TOKEN" in err
