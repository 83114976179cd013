"""The web desk served for real (uvicorn on 127.0.0.1, a free port) and Debian's chromium
driven by Playwright. Browser tests skip, saying why, only when chromium is not installed."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from counsel_bot.bootstrap import App, build_app
from counsel_bot.cases.signin import SignInLinks
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.web.app import WebDesk
from counsel_bot.web.server import DeskOptions, bound_socket, uvicorn_server
from tests.conftest import shipped_context
from tests.fake_bot_api.fixtures import fake_bot_api  # noqa: F401  (a fixture)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LINK = re.compile(r"http://127\.0\.0\.1:\d+/signin#[A-Za-z0-9_-]+")


@dataclass
class Desk:
    url: str
    app: App  # the desk's own store, audit log and services, on the bot's data folder
    web: WebDesk

    def link_for(self, telegram_id: int) -> str:
        link = SignInLinks(self.app.store, self.web.clock).issue(telegram_id)
        assert link is not None
        return link


@contextmanager
def serve_desk(data_dir: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
               ) -> Iterator[Desk]:
    """`counsel-bot web` in a thread: its own App on the data folder, as a second process
    would have (separate store and audit-log handles, locks shared through the files)."""
    settings = Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(data_dir)})
    app = build_app(settings, screening=False, context=shipped_context())
    app.conversations.clock = clock
    web = WebDesk(app.conversations, app.audit, Inbox(settings.data_dir, ShardCipher(app.key)))
    sock = bound_socket("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    SignInLinks(app.store).record_web_url(url)
    server: Any = uvicorn_server(web.app(), DeskOptions("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.025)
        yield Desk(url, app, web)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        app.close()


def chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    return None


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    reason = chromium_missing()
    if reason and os.environ.get("COUNSEL_TEST_REQUIRE_BROWSER"):  # CI sets it: never skip
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def sign_in(browser: Any, link: str, locale: str = "en-GB") -> Any:
    """A fresh browser context (its own cookies), signed in by opening the link."""
    context = await browser.new_context(locale=locale, timezone_id="Europe/Berlin")
    page = await context.new_page()
    await page.goto(link)
    await page.get_by_role("button", name=re.compile("Sign in|Se connecter|تسجيل الدخول")
                           ).click()
    await page.wait_for_load_state()
    return page
