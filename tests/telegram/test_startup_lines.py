"""What an operator reads when `counsel-bot run` starts: one line when Telegram cannot be
reached (then quiet retries), exit 2 with one line when the token is refused, one line when
ready, and SIGTERM obeyed within 10 s at any of these moments. Never a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.fake_bot_api.server import DEFAULT_TOKEN, FakeBotApi

USER = 5554101
STOP_DEADLINE = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _run(tmp_path: Path, api_root: str, token: str, framework: str
               ) -> tuple[asyncio.subprocess.Process, Path]:
    log = tmp_path / "stderr.log"
    env = {**os.environ, "COUNSEL_BOT_TOKEN": token, "COUNSEL_BOT_API_URL": api_root,
           "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key")}
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "counsel_bot.cli", "run", "--framework", framework,
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err, start_new_session=True)
    return process, log


async def _until_logged(log: Path, words: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while words not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"never logged {words!r}:\n{log.read_text()}"
        await asyncio.sleep(0.05)


async def _stop_within_deadline(process: asyncio.subprocess.Process) -> float:
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=STOP_DEADLINE + 5)
    return time.monotonic() - began


async def test_unreachable_telegram_is_one_line_then_the_bot_connects_when_it_can(
        tmp_path: Path, framework: str) -> None:
    port = _free_port()  # nothing listens there yet: Telegram "cannot be reached"
    process, log = await _run(tmp_path, f"http://127.0.0.1:{port}", DEFAULT_TOKEN, framework)
    try:
        await _until_logged(log, "Telegram cannot be reached")
        async with FakeBotApi(port=port) as api:  # Telegram comes back
            await _until_logged(log, "counsel-bot is ready: @counsel_test_bot on "
                                     f"{framework}, polling", timeout=90)
            api.user_sends_text(USER, "/start", language_code="fr")
            await api.wait_for_sent(chat_id=USER, count=1, timeout=30)
            took = await _stop_within_deadline(process)
    finally:
        if process.returncode is None:
            process.kill()
    logs = log.read_text()
    assert process.returncode == 0, logs
    assert took < STOP_DEADLINE
    assert logs.count("Telegram cannot be reached") == 1
    assert "Traceback" not in logs
    assert DEFAULT_TOKEN.split(":")[1] not in logs


async def test_sigterm_stops_a_bot_still_waiting_for_telegram_within_10_s(
        tmp_path: Path) -> None:
    process, log = await _run(tmp_path, f"http://127.0.0.1:{_free_port()}", DEFAULT_TOKEN,
                              "ptb")
    try:
        await _until_logged(log, "Telegram cannot be reached")
        await asyncio.sleep(1.5)  # inside a backoff wait
        took = await _stop_within_deadline(process)
    finally:
        if process.returncode is None:
            process.kill()
    assert took < STOP_DEADLINE
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("framework", ["ptb", "aiogram"])
async def test_a_refused_token_exits_2_with_one_line(tmp_path: Path, framework: str) -> None:
    async with FakeBotApi() as api:
        wrong = f"{api.bot_id}:this-is-not-the-token-{framework}"
        process, log = await _run(tmp_path, api.root, wrong, framework)
        await asyncio.wait_for(process.wait(), timeout=60)
    logs = log.read_text()
    assert process.returncode == 2, logs
    assert "Telegram refused the bot token" in logs
    assert "Traceback" not in logs
    assert "this-is-not-the-token" not in logs
    assert "ready" not in logs
