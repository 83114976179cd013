"""The aiogram door: aiogram's Dispatcher receives, aiogram's Bot sends."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BotCommand as AiogramBotCommand
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, TelegramObject, Update

from counsel_bot.runtime.transport import (
    Blocked,
    BotCommand,
    OutMessage,
    Rejected,
    RetryLater,
    Transient,
)
from counsel_bot.telegram.door import UpdateSink


class AiogramTransport:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise Blocked(exc.message) from exc
        except TelegramBadRequest as exc:
            raise Rejected(exc.message) from exc
        except (AiogramError, OSError, TimeoutError) as exc:  # 5xx, network, HTML error pages
            raise Transient(type(exc).__name__) from exc

    async def send_message(self, message: OutMessage) -> int:
        markup = InlineKeyboardMarkup(inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.data) for b in row]
            for row in message.buttons]) if message.buttons else None
        sent = await self._call(self.bot.send_message(
            chat_id=message.chat_id, text=message.text, reply_markup=markup,
            protect_content=message.protect or None))
        return int(sent.message_id)

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        await self._call(self.bot.answer_callback_query(callback_query_id=callback_id,
                                                        text=text))

    async def leave_chat(self, chat_id: int) -> None:
        await self._call(self.bot.leave_chat(chat_id=chat_id))

    async def set_commands(self, commands: list[BotCommand], language: str | None) -> None:
        await self._call(self.bot.set_my_commands(
            commands=[AiogramBotCommand(command=c.command, description=c.description)
                      for c in commands],
            language_code=language))


class AiogramDoor:
    def __init__(self, token: str, api_url: str, sink: UpdateSink,
                 request_timeout: float = 15.0) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")),
                                 timeout=request_timeout, limit=64)
        self.bot = Bot(token, session=session)
        self.dispatcher = Dispatcher()
        for observer in (self.dispatcher.message, self.dispatcher.edited_message,
                         self.dispatcher.callback_query, self.dispatcher.my_chat_member,
                         self.dispatcher.channel_post):
            observer.register(self._on_event)
        self.transport = AiogramTransport(self.bot)
        self._sink = sink
        self._polling: asyncio.Task[None] | None = None
        self._polling_started = asyncio.Event()
        self.dispatcher.startup.register(self._on_polling_startup)

    async def _on_polling_startup(self) -> None:
        self._polling_started.set()

    async def _on_event(self, _event: TelegramObject, event_update: Update) -> None:
        await self._sink(event_update.model_dump(mode="json", by_alias=True,
                                                 exclude_none=True))

    async def start(self) -> str:
        me = await self.transport._call(self.bot.get_me())
        return str(me.username)

    async def start_polling(self, allowed_updates: list[str]) -> None:
        self._polling = asyncio.create_task(self.dispatcher.start_polling(
            self.bot, polling_timeout=10, allowed_updates=allowed_updates,
            handle_signals=False, close_bot_session=False))
        # Until aiogram has started, stop_polling() would refuse and leave the task running.
        started = asyncio.ensure_future(self._polling_started.wait())
        await asyncio.wait({started, self._polling}, return_when=asyncio.FIRST_COMPLETED)
        if self._polling.done():
            started.cancel()
            await self._polling  # raises what made polling fail

    async def stop_polling(self) -> None:
        if self._polling is None:
            return
        with contextlib.suppress(RuntimeError):  # it already stopped by itself
            await self.dispatcher.stop_polling()
        await self._polling
        self._polling = None

    async def feed(self, update: dict[str, Any]) -> None:
        await self.dispatcher.feed_update(self.bot, Update.model_validate(
            update, context={"bot": self.bot}))

    async def set_webhook(self, url: str, secret_token: str,
                          allowed_updates: list[str]) -> None:
        await self.transport._call(self.bot.set_webhook(
            url=url, secret_token=secret_token, allowed_updates=allowed_updates))

    async def delete_webhook(self) -> None:
        await self.transport._call(self.bot.delete_webhook())

    async def shutdown(self) -> None:
        await self.bot.session.close()
