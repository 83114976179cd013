"""SIGKILL at random moments under load: every update answered exactly once.

The real `counsel-bot run` (its default step processes included) runs as a process against
the fake Bot API. Returnees follow scripts; each waits for the bot's answer before their
next action, as people do. Meanwhile the bot's whole process group is killed with SIGKILL
at random moments and started again. At the end each returnee's chat must hold exactly the
reference answer to their script (every message, in order, none missing), nothing is sent
twice but what the outbox reported as `uncertain` (sent in the very instant of a kill:
Telegram's sendMessage cannot be asked whether it arrived), and the store and the audit
trail are intact.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.fake_bot_api.server import FakeBotApi
from tests.telegram.bot_process import BotProcess, in_order, press_label
from tests.telegram.scripted_users import references, script

pytestmark = pytest.mark.slow

USERS = 60
ACTIONS = 15
KILLS = 12
FIRST_USER = 8_100_000
ANSWER_TIMEOUT = 90.0
FAST_RATE = 1000


async def _deliver(api: FakeBotApi, bot: BotProcess, update: dict) -> None:
    """As Telegram does: post the update until the bot answers 200 (polling: just queued)."""
    if bot.mode == "polling":
        return
    url = f"http://127.0.0.1:{bot.port}/telegram/webhook"
    while True:
        secret = api.webhook.get("secret_token")
        if secret and api.webhook.get("url"):
            try:
                status = await api.deliver_webhook(url, update, secret)
                if status == 200:
                    return
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
        await asyncio.sleep(0.2)


async def _returnee(api: FakeBotApi, bot: BotProcess, user: int, actions: list,
                    replies: list[list[str]]) -> None:
    expected: list[str] = []
    think = random.Random(user)
    for (kind, value), reply in zip(actions, replies, strict=True):
        await asyncio.sleep(think.uniform(0.0, 0.6))  # reads the answer before acting
        queue = bot.mode == "polling"
        if kind == "text":
            update = api.user_sends_text(user, value, queue=queue)
        else:
            update = press_label(api, user, value, queue)
        await _deliver(api, bot, update)
        expected += reply
        deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT
        while not in_order(expected, [m["text"] for m in api.messages_to(user)]):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"user {user}: no answer to {kind} {value!r} "
                                     f"after {ANSWER_TIMEOUT} s")
            await asyncio.sleep(0.05)


async def _killer(bot: BotProcess, done: asyncio.Event, rng: random.Random) -> int:
    kills = 0
    while kills < KILLS and not done.is_set():
        await bot.ready()
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        if done.is_set():
            break
        bot.kill()
        await bot.wait()
        kills += 1
        await bot.start()
    return kills


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_sigkill_under_load_loses_nothing_and_sends_nothing_twice(
        fake_bot_api: FakeBotApi, tmp_path: Path, framework: str, mode: str) -> None:
    api = fake_bot_api
    users = range(FIRST_USER, FIRST_USER + USERS)
    scripts = {u: script(u, ACTIONS) for u in users}
    wanted = references(scripts, tmp_path / "reference")
    # Polling runs with Telegram's own limits, as deployed; webhook runs with the outbox's
    # global rate raised so that many sends are in flight at each kill (the per-chat limit
    # stays), which tests the uncertain sends and the replays.
    fast = ["--rate-limit", str(FAST_RATE)] if mode == "webhook" else []
    bot = BotProcess(api, tmp_path, framework, mode, args=fast)
    await bot.start()
    await api.wait_for_call("setMyCommands", count=1, timeout=60)
    done = asyncio.Event()
    killer = asyncio.create_task(_killer(bot, done, random.Random()))
    try:
        await asyncio.gather(*(_returnee(api, bot, u, scripts[u], wanted[u].replies)
                               for u in users))
    finally:
        done.set()
        kills = await killer
        await asyncio.sleep(1.0)  # anything still on its way
        bot.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        await asyncio.wait_for(bot.wait(), 20)
    logs = bot.log_text()
    uncertain = sum(int(n) for n in re.findall(r"outbox: (\d+) message\(s\) were on their way",
                                               logs))
    replayed = sum(int(n) for n in re.findall(r"(\d+) update\(s\) received before the last",
                                              logs))
    replays = len(re.findall(r"a step came again after a restart", logs))
    missing, twice, disordered = 0, 0, 0
    for user in users:
        texts = [m["text"] for m in api.messages_to(user)]
        got, want = Counter(texts), Counter(wanted[user].texts)
        missing += sum((want - got).values())
        twice += sum((got - want).values())
        disordered += not in_order(wanted[user].texts, texts)
    print(f"\n{framework}/{mode}: {USERS * ACTIONS} actions, {kills} SIGKILLs, "
          f"{len(api.sent)} messages sent, {missing} missing, {twice} twice, "
          f"{uncertain} uncertain at a kill, {replayed} updates handled again after a kill "
          f"({replays} of them already stepped: replayed)")
    assert kills == KILLS
    assert missing == 0
    assert disordered == 0
    assert twice <= uncertain
    assert "Traceback" not in logs or "KeyboardInterrupt" in logs
    audit = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "counsel_bot.cli", "audit", "verify",
        env={**os.environ, "COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
             "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await audit.communicate()
    assert audit.returncode == 0, out.decode()
