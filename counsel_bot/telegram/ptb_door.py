"""The python-telegram-bot door: PTB's Application receives, PTB's Bot sends."""

from __future__ import annotations

import os
import sys
import warnings
from datetime import timedelta
from typing import Any

# PTB 22 is moving `retry_after` from seconds to a timedelta and warns on every 429 until a
# program opts in; the outbox reads both forms (see _retry_after).
os.environ.setdefault("PTB_TIMEDELTA", "1")
# getUpdates goes through do_api_request on purpose: answered as raw JSON, each update is then
# parsed on its own, so one PTB cannot read does not stall the others (see intake.py).
warnings.filterwarnings("ignore", message=r".*do_api_request\(\"getUpdates\"",
                        category=UserWarning)

from telegram import BotCommand as PtbBotCommand
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from counsel_bot.runtime.transport import (
    Blocked,
    BotCommand,
    OutMessage,
    Rejected,
    RetryLater,
    Transient,
)
from counsel_bot.telegram.door import TokenRefused, UpdateSink


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
        except InvalidToken as exc:
            raise TokenRefused(exc.message) from exc
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
    framework = "ptb"

    def __init__(self, token: str, api_url: str, sink: UpdateSink,
                 request_timeout: float = 15.0) -> None:
        root = api_url.rstrip("/")
        self.request_timeout = request_timeout
        self.application = (
            ApplicationBuilder().token(token)
            .base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
            .updater(None)  # updates come from the shared intake, journalled first
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
        try:
            await self.application.initialize()  # getMe
        except InvalidToken as exc:
            raise TokenRefused(str(exc)) from None
        except (NetworkError, TelegramError) as exc:
            raise Transient(exc.message) from None
        return str(self.application.bot.username)

    async def fetch_updates(self, offset: int | None, timeout: int,
                            allowed_updates: list[str]) -> list[Any]:
        kwargs: dict[str, Any] = {"timeout": timeout, "allowed_updates": allowed_updates}
        if offset is not None:
            kwargs["offset"] = offset
        updates = await self.transport._call(self.application.bot.do_api_request(
            "getUpdates", api_kwargs=kwargs, read_timeout=timeout + self.request_timeout))
        return list(updates) if isinstance(updates, list) else []

    async def feed(self, update: dict[str, Any]) -> None:
        parsed = Update.de_json(update, self.application.bot)
        if parsed is None:
            raise ValueError("not an update")
        await self.application.process_update(parsed)

    async def set_webhook(self, url: str, secret_token: str,
                          allowed_updates: list[str]) -> None:
        await self.transport._call(self.application.bot.set_webhook(
            url, secret_token=secret_token, allowed_updates=allowed_updates))

    async def delete_webhook(self) -> None:
        await self.transport._call(self.application.bot.delete_webhook())

    async def shutdown(self) -> None:
        if self.application._initialized:
            await self.application.shutdown()
