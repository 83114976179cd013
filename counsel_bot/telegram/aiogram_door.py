"""The aiogram door: aiogram's Dispatcher receives, aiogram's Bot sends."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramMethod
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
from counsel_bot.telegram.door import TokenRefused, UpdateSink


class AiogramTransport:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after)) from exc
        except (TelegramUnauthorizedError, TelegramNotFound) as exc:
            raise TokenRefused(exc.message) from exc
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


class RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates answered as raw JSON: each update is parsed on its own afterwards, so one
    that aiogram cannot read does not make the whole batch fail (and polling stall)."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class AiogramDoor:
    framework = "aiogram"

    def __init__(self, token: str, api_url: str, sink: UpdateSink,
                 request_timeout: float = 15.0) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")),
                                 timeout=request_timeout, limit=64)
        self.request_timeout = request_timeout
        self.bot = Bot(token, session=session)
        self.dispatcher = Dispatcher()
        for observer in (self.dispatcher.message, self.dispatcher.edited_message,
                         self.dispatcher.callback_query, self.dispatcher.my_chat_member,
                         self.dispatcher.channel_post):
            observer.register(self._on_event)
        self.transport = AiogramTransport(self.bot)
        self._sink = sink

    async def _on_event(self, _event: TelegramObject, event_update: Update) -> None:
        await self._sink(event_update.model_dump(mode="json", by_alias=True,
                                                 exclude_none=True))

    async def start(self) -> str:
        me = await self.transport._call(self.bot.get_me())
        return str(me.username)

    async def fetch_updates(self, offset: int | None, timeout: int,
                            allowed_updates: list[str]) -> list[Any]:
        return list(await self.transport._call(self.bot(
            RawGetUpdates(offset=offset, timeout=timeout, allowed_updates=allowed_updates),
            request_timeout=int(timeout + self.request_timeout))))

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
