"""The real bot on the real frameworks against the fake Bot API, one fixture per mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from counsel_bot.bootstrap import App, TelegramBot, build_app, build_telegram
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.ratelimit import Limits
from counsel_bot.telegram.runner import RunOptions
from tests.conftest import shipped_context
from tests.fake_bot_api.fixtures import fake_bot_api  # noqa: F401  (a fixture)
from tests.fake_bot_api.server import FakeBotApi

FRAMEWORKS = ["ptb", "aiogram"]
FAST_LIMITS = Limits(per_second=1000, per_chat_per_second=100, per_chat_burst=20)


@dataclass
class LiveBot:
    api: FakeBotApi
    runner: TelegramBot
    app: App
    mode: str

    async def send(self, update: dict[str, Any]) -> None:
        """Deliver an update the way the mode receives it (queued for polling, or posted)."""
        if self.mode == "webhook":
            status = await self.api.deliver_webhook(self.webhook_url, update,
                                                    self.api.webhook["secret_token"])
            assert status == 200

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.runner.webhook_port}/telegram/webhook"

    async def text(self, user: int, text: str, **kw: Any) -> None:
        await self.send(self.api.user_sends_text(user, text, **kw))

    async def press(self, user: int, data: str, **kw: Any) -> None:
        await self.send(self.api.user_presses_button(user, data, **kw))

    async def replies(self, user: int, count: int = 1, *, since: int,
                      timeout: float = 10.0) -> list[dict[str, Any]]:
        return await self.api.wait_for_sent(chat_id=user, count=count, since=since,
                                            timeout=timeout)

    async def settle(self) -> None:
        """Wait until every update is handled and every message has an outcome."""
        for _ in range(3):
            await asyncio.sleep(0.05)
            await self.runner.wait_idle(timeout=10)
            await self.runner.outbox.wait_idle(timeout=10)


def button_data(record: dict[str, Any], label: str) -> str:
    for row in (record.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {record.get('reply_markup')}")


class SimClock:
    """A clock the test moves by hand: the bot, its store and its scheduler all read it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def join(bot: LiveBot, user: int, code: str, lang: str, *, alerts: bool = True,
               checkins: bool = True) -> None:
    """A returnee opens the invitation link, keeps the case's language and consents."""
    from counsel_bot.i18n.catalogs import language_name

    api = bot.api
    await bot.text(user, f"/start {code}", language_code="en")
    await bot.replies(user, 2, since=0)
    await bot.settle()
    tr = bot.app.context.translator(lang)
    for label in (language_name(lang), tr("Yes, I agree"),
                  tr("Yes, alert my case worker") if alerts else tr("No, do not alert"),
                  tr("Yes, send check-ins") if checkins else tr("No check-ins")):
        mark = api.mark()
        await bot.press(user, button_data(api.messages_to(user)[-1], label))
        # its answer first: settle() alone can look before a loaded bot has polled the press
        await bot.replies(user, since=mark, timeout=30)
        await bot.settle()


async def french_returnee_in_distress(bot: LiveBot, worker: int, returnee: int
                                      ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """A worker's case for a French returnee who joins and writes "je veux mourir": returns
    the case, the returnee's answer (checked to hold every emergency number) and the alert."""
    api = bot.api
    registry = bot.app.conversations.registry
    registry.add_caseworker(worker, "Nadia", language="en")
    case, invitation = registry.open_case(worker, "XS", "fr", "Europe/Paris")
    await join(bot, returnee, invitation.code, "fr")
    mark = api.mark()
    await bot.text(returnee, "je veux mourir", language_code="fr")
    (answer,) = await bot.replies(returnee, since=mark)
    for contact in bot.app.context.deployment.country("XS").emergency_contacts:
        assert contact.phone in answer["text"]
    (alert,) = await api.wait_for_sent(chat_id=worker, since=mark)
    return case, answer, alert


async def start_bot(api: FakeBotApi, tmp_path: Any, framework: str, mode: str,
                    limits: Limits = FAST_LIMITS, request_timeout: float = 15.0,
                    clock: SimClock | None = None, step_processes: int = 0,
                    database_url: str | None = None, config: Path | None = None) -> LiveBot:
    """The bot on the shipped sample, or on the deployment file `config` (loaded and checked
    as at start-up, with only COUNSEL_BOT_CONFIG set); on PostgreSQL with `database_url`."""
    env = {"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data")}
    if database_url:  # the PostgreSQL store (and audit chain) instead of the folder's
        env["COUNSEL_BOT_DATABASE_URL"] = database_url
    if config is not None:
        env["COUNSEL_BOT_CONFIG"] = str(config)
    settings = Settings.from_env(env)
    app = build_app(settings, context=None if config else shipped_context())
    if clock is not None:
        app.conversations.clock = clock
    options = RunOptions(framework=framework, token=api.token, api_url=api.root,
                         webhook_url="https://bot.example.org" if mode == "webhook" else None,
                         listen=("127.0.0.1", 0), limits=limits,
                         request_timeout=request_timeout, step_processes=step_processes)
    runner = build_telegram(app, options)
    await runner.start()
    return LiveBot(api, runner, app, mode)


async def stop_bot(bot: LiveBot) -> None:
    await bot.runner.stop()
    bot.app.close()


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _running(api: FakeBotApi, tmp_path: Any, framework: str,
                   mode: str) -> AsyncIterator[LiveBot]:
    bot = await start_bot(api, tmp_path, framework, mode)
    try:
        yield bot
    finally:
        await stop_bot(bot)


@pytest_asyncio.fixture
async def live_bot(fake_bot_api: FakeBotApi, tmp_path: Any, framework: str,  # noqa: F811
                   mode: str) -> AsyncIterator[LiveBot]:
    async for bot in _running(fake_bot_api, tmp_path, framework, mode):
        yield bot


@pytest_asyncio.fixture
async def polling_bot(fake_bot_api: FakeBotApi, tmp_path: Any,  # noqa: F811
                      framework: str) -> AsyncIterator[LiveBot]:
    async for bot in _running(fake_bot_api, tmp_path, framework, "polling"):
        yield bot


@pytest_asyncio.fixture
async def webhook_bot(fake_bot_api: FakeBotApi, tmp_path: Any,  # noqa: F811
                      framework: str) -> AsyncIterator[LiveBot]:
    async for bot in _running(fake_bot_api, tmp_path, framework, "webhook"):
        yield bot
