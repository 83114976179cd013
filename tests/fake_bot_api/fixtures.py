"""Pytest fixtures around :class:`FakeBotApi`.

Use from a conftest (relative to your package layout), e.g.::

    from fake_bot_api.fixtures import aiogram_bot, fake_bot_api, ptb_bot  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from .server import DEFAULT_TOKEN, FakeBotApi


@pytest_asyncio.fixture
async def fake_bot_api() -> AsyncIterator[FakeBotApi]:
    """A running fake Bot API on 127.0.0.1 (free port) for token ``DEFAULT_TOKEN``."""
    async with FakeBotApi(token=DEFAULT_TOKEN) as api:
        yield api


@pytest_asyncio.fixture
async def ptb_bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Any]:
    """An initialised ``telegram.Bot`` talking to the fake."""
    from telegram import Bot

    async with Bot(fake_bot_api.token, **fake_bot_api.ptb_kwargs()) as bot:
        yield bot


@pytest_asyncio.fixture
async def aiogram_bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Any]:
    """An ``aiogram.Bot`` whose session points at the fake (session closed afterwards)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession

    session = AiohttpSession(api=fake_bot_api.aiogram_server())
    bot = Bot(fake_bot_api.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()
