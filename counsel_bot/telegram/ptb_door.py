"""The python-telegram-bot door: PTB's Application receives, PTB's Bot sends."""

from __future__ import annotations

import sys
import warnings
from datetime import timedelta
from typing import Any

from telegram import BotCommand as PtbBotCommand
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from counsel_bot.runtime.transport import (
    Blocked,
    BotCommand,
    OutMessage,
    Rejected,
    RetryLater,
    Transient,
)
from counsel_bot.telegram.door import UpdateSink


def _remember_missing_sniffio() -> None:
    """Make a missing `sniffio` fail to import fast, as an installed one would import fast.

    httpcore (under PTB's httpx) imports sniffio for every lock, event and semaphore it sets
    up, about a dozen times a request, and falls back to asyncio when it is missing. Since
    anyio 4.11 stopped installing sniffio, each of those imports fails again, and Python does
    not cache a failed import: every one searches sys.path anew (encode/httpcore#1103). That
    halved PTB's send rate. Recording the absence keeps httpcore's behaviour (asyncio).
    """
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


_remember_missing_sniffio()


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns about the int/timedelta transition
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PtbTransport:
    def __init__(self, application: Application) -> None:  # type: ignore[type-arg]
        self.bot = application.bot

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except RetryAfter as exc:
            raise RetryLater(_retry_after(exc)) from exc
        except Forbidden as exc:
            raise Blocked(exc.message) from exc
        except BadRequest as exc:  # a subclass of NetworkError: keep it first
            raise Rejected(exc.message) from exc
        except (NetworkError, TelegramError) as exc:
            raise Transient(exc.message) from exc

    async def send_message(self, message: OutMessage) -> int:
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
             for row in message.buttons]) if message.buttons else None
        sent = await self._call(self.bot.send_message(
            message.chat_id, message.text, reply_markup=markup,
            protect_content=message.protect or None))
        return int(sent.message_id)

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        await self._call(self.bot.answer_callback_query(callback_id, text=text))

    async def leave_chat(self, chat_id: int) -> None:
        await self._call(self.bot.leave_chat(chat_id))

    async def set_commands(self, commands: list[BotCommand], language: str | None) -> None:
        await self._call(self.bot.set_my_commands(
            [PtbBotCommand(c.command, c.description) for c in commands], language_code=language))


class PtbDoor:
    def __init__(self, token: str, api_url: str, sink: UpdateSink,
                 request_timeout: float = 15.0) -> None:
        root = api_url.rstrip("/")
        self.application = (
            ApplicationBuilder().token(token)
            .base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
            .concurrent_updates(True)  # the gateway keeps each chat in order
            .read_timeout(request_timeout).write_timeout(request_timeout)
            .connect_timeout(request_timeout).pool_timeout(request_timeout)
            .connection_pool_size(64)  # the outbox sends many messages at once
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.transport = PtbTransport(self.application)
        self._sink = sink

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._sink(update.to_dict())

    async def start(self) -> str:
        await self.application.initialize()
        await self.application.start()
        return str(self.application.bot.username)

    async def start_polling(self, allowed_updates: list[str]) -> None:
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            poll_interval=0.0, timeout=10, allowed_updates=allowed_updates,
            drop_pending_updates=False)

    async def stop_polling(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()

    async def feed(self, update: dict[str, Any]) -> None:
        await self.application.process_update(Update.de_json(update, self.application.bot))

    async def set_webhook(self, url: str, secret_token: str,
                          allowed_updates: list[str]) -> None:
        await self.transport._call(self.application.bot.set_webhook(
            url, secret_token=secret_token, allowed_updates=allowed_updates))

    async def delete_webhook(self) -> None:
        await self.transport._call(self.application.bot.delete_webhook())

    async def shutdown(self) -> None:
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
