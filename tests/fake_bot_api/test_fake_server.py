"""The real PTB 22 and aiogram 3 clients against the fake Bot API (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import socket
import time
import warnings
from typing import Any

import aiohttp
import pytest
from aiogram import Bot as AioBot
from aiogram import Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import CallbackQuery as AioCallbackQuery
from aiogram.types import InlineKeyboardButton as AioButton
from aiogram.types import InlineKeyboardMarkup as AioMarkup
from aiogram.types import Message as AioMessage
from aiogram.types import Update as AioUpdate
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from telegram import Bot as PtbBot
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler
from telegram.ext import filters as ptb_filters
from telegram.request import HTTPXRequest

from .server import FakeBotApi

USER = 424242


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _raw(api: FakeBotApi, method: str, token: str | None = None, **kw: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{api.root}/bot{token or api.token}/{method}", **kw) as resp,
    ):
        return resp.status, await resp.json()


# --------------------------------------------------------------------------- raw HTTP


async def test_raw_protocol(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    status, body = await _raw(api, "getMe", token="1:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await _raw(api, "noSuchMethod")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    status, body = await _raw(api, "GETME")  # method names are case-insensitive
    assert body["result"]["username"] == "counsel_test_bot"

    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    # JSON, urlencoded and multipart bodies all parse to the same params
    await _raw(api, "sendMessage", json={"chat_id": USER, "text": "1", "reply_markup": markup})
    await _raw(
        api,
        "sendMessage",
        data={"chat_id": str(USER), "text": "2", "reply_markup": json.dumps(markup)},
    )
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("chat_id", str(USER))
    form.add_field("text", "3")
    form.add_field("reply_markup", json.dumps(markup))
    form.add_field("disable_notification", "true")
    await _raw(api, "sendMessage", data=form)
    assert [r["text"] for r in api.sent] == ["1", "2", "3"]
    assert all(r["reply_markup"] == markup and r["chat_id"] == USER for r in api.sent)
    assert [r["message_id"] for r in api.sent] == [1, 2, 3]
    assert api.sent[2]["disable_notification"] is True

    status, body = await _raw(
        api, "sendMessage", json={"chat_id": USER, "text": "<b>bold</i>", "parse_mode": "HTML"}
    )
    assert status == 400 and "can't parse entities" in body["description"]


async def test_update_builders_parse_in_both_frameworks(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    api.user_sends_text(USER, "hello", language_code="ar", first_name="Amina")
    api.user_sends_command(USER, "/start", payload="case-17")
    await _raw(
        api,
        "sendMessage",
        json={
            "chat_id": USER,
            "text": "pick",
            "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]},
        },
    )
    api.user_presses_button(USER, "yes")
    for kind in ("photo", "voice", "sticker", "location", "document", "video", "contact"):
        api.user_sends(USER, kind)
    api.user_edits_message(USER, 1, "hello again")
    api.group_message(USER, "hi group")
    api.channel_post("news")
    api.bot_added_to_group(USER, status="administrator")
    api.user_blocks_bot(USER)
    assert len(api.updates) == 15
    ptb = PtbBot(api.token, **api.ptb_kwargs())
    for raw in api.updates:
        ptb_update = Update.de_json(raw, ptb)
        aio_update = AioUpdate.model_validate(raw)
        assert ptb_update.update_id == aio_update.update_id
        assert aio_update.event_type == next(k for k in raw if k != "update_id")
    start = Update.de_json(api.updates[1], ptb)
    assert start.message.text == "/start case-17"
    assert start.message.entities[0].type == "bot_command"
    assert start.message.entities[0].length == len("/start")
    with pytest.raises(ValueError, match="no bot message"):
        api.user_presses_button(USER, "not-offered")


# --------------------------------------------------------------------------- PTB Bot


async def test_ptb_api_methods(fake_bot_api: FakeBotApi, ptb_bot: PtbBot) -> None:
    api, bot = fake_bot_api, ptb_bot
    me = await bot.get_me()
    assert me.username == "counsel_test_bot" and me.is_bot and me.id == api.bot_id

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="consent:yes")]])
    msg = await bot.send_message(USER, "Consent?", reply_markup=keyboard, protect_content=True)
    assert msg.message_id == 1 and msg.reply_markup == keyboard
    assert msg.has_protected_content
    (record,) = api.messages_to(USER)
    assert record["protect_content"] is True
    assert record["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "consent:yes"

    api.user_sends_text(USER, "hi")
    api.user_sends_text(USER, "there")
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates] == ["hi", "there"]
    assert updates[0].message.from_user.language_code == "en"
    # confirming with offset drops them; an empty long poll returns after `timeout`
    t0 = time.monotonic()
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1) == ()
    assert 0.9 < time.monotonic() - t0 < 3
    # a long poll returns as soon as an update arrives
    asyncio.get_running_loop().call_later(0.2, api.user_sends_text, USER, "late")
    t0 = time.monotonic()
    (late,) = await bot.get_updates(timeout=5)
    assert late.message.text == "late" and time.monotonic() - t0 < 2

    press = Update.de_json(api.user_presses_button(USER, "consent:yes", queue=False), bot)
    assert press.callback_query.message.message_id == 1
    assert await bot.answer_callback_query(press.callback_query.id, text="Thanks")
    assert api.callback_answers[0]["text"] == "Thanks"
    edited = await bot.edit_message_text("Consent given", chat_id=USER, message_id=1)
    assert edited.text == "Consent given" and edited.reply_markup is None
    assert api.message(USER, 1)["text"] == "Consent given"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Consent given", chat_id=USER, message_id=1)

    commands = [BotCommand("start", "Anfangen"), BotCommand("help", "Hilfe")]
    assert await bot.set_my_commands(commands, language_code="de")
    assert [c["command"] for c in api.commands_for(language_code="de")] == ["start", "help"]
    assert await bot.get_my_commands(language_code="de") == tuple(commands)
    assert await bot.get_my_commands() == ()


async def test_ptb_errors(fake_bot_api: FakeBotApi, ptb_bot: PtbBot) -> None:
    api, bot = fake_bot_api, ptb_bot
    api.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as exc_info, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 deprecates int retry_after
        await bot.send_message(USER, "x")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _seconds(exc_info.value.retry_after) == 7

    api.inject("sendMessage", "403_blocked", chat_id=USER)
    await bot.send_message(USER + 1, "other chat is unaffected")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")

    api.inject("sendMessage", "5xx", status=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER, "x")
    api.inject("sendMessage", "5xx", status=502, html=True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER, "x")
    api.inject("getMe", "disconnect")
    with pytest.raises(NetworkError):
        await bot.get_me()

    assert [r["text"] for r in api.sent] == ["other chat is unaffected"]
    assert await bot.send_message(USER, "faults are used up")
    assert api.count_429 == 1

    api.user_blocks_bot(USER)
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "blocked for real")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        long_data = InlineKeyboardButton("x", callback_data="x" * 65)
        await bot.send_message(USER + 1, "x", reply_markup=InlineKeyboardMarkup([[long_data]]))
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(USER + 1, "Hello.", parse_mode="MarkdownV2")
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with PtbBot("987:wrong", **api.ptb_kwargs()):
            pass  # initialize() calls getMe


async def test_ptb_timeout_fault(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    request = HTTPXRequest(read_timeout=0.3)
    async with PtbBot(api.token, request=request, **api.ptb_kwargs()) as bot:
        api.inject("sendMessage", "timeout", delay=0.8)
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "slow")
        # Telegram still delivered it: the classic duplicate-on-retry scenario
        (record,) = await api.wait_for_sent(timeout=3)
        assert record["text"] == "slow"


# --------------------------------------------------------------------------- aiogram Bot


async def test_aiogram_api_methods(fake_bot_api: FakeBotApi, aiogram_bot: AioBot) -> None:
    api, bot = fake_bot_api, aiogram_bot
    me = await bot.get_me()
    assert me.username == "counsel_test_bot" and me.id == bot.id == api.bot_id

    keyboard = AioMarkup(inline_keyboard=[[AioButton(text="Yes", callback_data="consent:yes")]])
    msg = await bot.send_message(USER, "Consent?", reply_markup=keyboard, protect_content=True)
    assert msg.message_id == 1 and msg.has_protected_content
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == "consent:yes"
    (record,) = api.messages_to(USER)
    assert record["protect_content"] is True
    assert record["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "consent:yes"}]]
    }

    api.user_sends_text(USER, "hi", language_code="uk")
    (update,) = await bot.get_updates(timeout=1, allowed_updates=["message", "callback_query"])
    assert update.message.text == "hi" and update.message.from_user.language_code == "uk"
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []

    press = AioUpdate.model_validate(api.user_presses_button(USER, "consent:yes", queue=False))
    assert await bot.answer_callback_query(press.callback_query.id, text="Thanks", show_alert=True)
    assert api.callback_answers[0] == {
        "callback_query_id": press.callback_query.id,
        "text": "Thanks",
        "show_alert": True,
    }
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("bogus")

    await bot.set_my_commands([{"command": "start", "description": "Почати"}], language_code="uk")
    assert api.commands_for(language_code="uk") == [{"command": "start", "description": "Почати"}]
    (cmd,) = await bot.get_my_commands(language_code="uk")
    assert cmd.command == "start"


async def test_aiogram_errors(fake_bot_api: FakeBotApi, aiogram_bot: AioBot) -> None:
    api, bot = fake_bot_api, aiogram_bot
    api.inject("sendMessage", "429", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(USER, "x")
    assert exc_info.value.retry_after == 3
    api.inject("sendMessage", "403_blocked")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    api.inject("sendMessage", "5xx", status=502)
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "x")
    # a real nginx HTML 502 page is NOT a TelegramServerError in aiogram
    api.inject("sendMessage", "5xx", status=502, html=True)
    with pytest.raises(ClientDecodeError):
        await bot.send_message(USER, "x")
    api.inject("sendMessage", "timeout", delay=5, deliver=False)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(USER, "x", request_timeout=1)
    api.inject("*", "disconnect")
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    assert api.sent == []
    assert (await bot.send_message(USER, "ok")).text == "ok"

    wrong = AioBot("987:wrong", session=AiohttpSession(api=api.aiogram_server()))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()


# --------------------------------------------------------------------------- dispatchers


async def test_ptb_application_long_polling(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app.add_handler(MessageHandler(ptb_filters.TEXT & ~ptb_filters.COMMAND, echo))
    t0 = time.monotonic()
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        try:
            api.user_sends_text(USER, "hello")
            (reply,) = await api.wait_for_sent(chat_id=USER)
            assert reply["text"] == "echo: hello"
            api.user_sends_text(USER, "again")
            api.user_sends_text(USER + 1, "other user")
            await api.wait_for_sent(count=3)
        finally:
            await app.updater.stop()
            await app.stop()
    assert time.monotonic() - t0 < 5
    assert api.updates == []  # the updater confirmed everything on shutdown
    assert {r["text"] for r in api.sent} == {"echo: hello", "echo: again", "echo: other user"}


async def test_ptb_application_callback_round_trip(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("noted")
        await update.callback_query.edit_message_text(f"chose {update.callback_query.data}")

    app.add_handler(CallbackQueryHandler(on_button))
    async with app:
        await app.bot.send_message(
            USER,
            "Pick",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
        )
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        try:
            api.user_presses_button(USER, "a")
            await api.wait_for_call("editMessageText")
        finally:
            await app.updater.stop()
            await app.stop()
    assert api.callback_answers[0]["text"] == "noted"
    assert api.message(USER, 1)["text"] == "chose a"
    assert "reply_markup" not in api.message(USER, 1)


async def test_aiogram_dispatcher_long_polling(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    bot = AioBot(api.token, session=AiohttpSession(api=api.aiogram_server()))
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: AioMessage) -> None:
        await message.answer(f"echo: {message.text}")

    @dp.callback_query()
    async def on_button(query: AioCallbackQuery) -> None:
        await query.answer("noted")

    t0 = time.monotonic()
    task = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=True)
    )
    try:
        api.user_sends_text(USER, "hello")
        (reply,) = await api.wait_for_sent(chat_id=USER)
        assert reply["text"] == "echo: hello"
        api.user_presses_button(USER, "none", message_id=reply["message_id"], strict=False)
        await api.wait_for_call("answerCallbackQuery")
        (poll,) = api.calls_to("getUpdates")[:1]
        assert sorted(poll["params"]["allowed_updates"]) == ["callback_query", "message"]
    finally:
        await dp.stop_polling()
        await task
    assert time.monotonic() - t0 < 5
    assert api.callback_answers[0]["text"] == "noted"


# --------------------------------------------------------------------------- webhooks


async def test_aiogram_webhook_round_trip(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    bot = AioBot(api.token, session=AiohttpSession(api=api.aiogram_server()))
    dp = Dispatcher()

    @dp.message(F.text == "reply-in-response")
    async def via_response(message: AioMessage) -> Any:
        return message.answer("sent in the webhook response")  # not awaited!

    @dp.message(F.text)
    async def echo(message: AioMessage) -> None:
        await message.answer(f"echo: {message.text}")

    app = aiohttp.web.Application()
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token="s3cret", handle_in_background=False
    ).register(app, "/hook")
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
        assert api.webhook["url"] == url and api.webhook["secret_token"] == "s3cret"
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Exception, match="webhook is active"):
            await bot.get_updates()

        update = api.user_sends_text(USER, "hi")  # webhook active -> returned, not queued
        assert api.updates == []
        assert await api.deliver_webhook(url, update, "wrong") == 401
        assert await api.deliver(update) == 200
        (reply,) = await api.wait_for_sent()
        assert reply["text"] == "echo: hi"

        await api.deliver(api.user_sends_text(USER, "reply-in-response"))
        (reply,) = await api.wait_for_sent(since=1)
        assert reply["text"] == "sent in the webhook response"
        assert api.calls_to("sendMessage")[-1]["via"] == "webhook_reply"
        assert await bot.delete_webhook()
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_ptb_webhook_round_trip(fake_bot_api: FakeBotApi) -> None:
    api = fake_bot_api
    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app.add_handler(MessageHandler(ptb_filters.TEXT, echo))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    async with app:
        await app.start()
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=url,
            secret_token="s3cret",
        )
        try:
            assert api.webhook["url"] == url and api.webhook["secret_token"] == "s3cret"
            update = api.user_sends_text(USER, "hi")
            assert await api.deliver_webhook(url, update, "wrong") == 403
            assert await api.deliver(update) == 200
            (reply,) = await api.wait_for_sent()
            assert reply["text"] == "echo: hi"
        finally:
            await app.updater.stop()
            await app.stop()


# --------------------------------------------------------------------------- limits


async def test_rate_limits_and_send_times() -> None:
    async with FakeBotApi(global_limit_per_sec=5, per_chat_limit_per_sec=3) as api:
        bot = AioBot(api.token, session=AiohttpSession(api=api.aiogram_server()))
        try:
            results = await asyncio.gather(
                *(bot.send_message(USER + i % 3, f"m{i}") for i in range(9)),
                return_exceptions=True,
            )
            ok = [r for r in results if isinstance(r, AioMessage)]
            limited = [r for r in results if isinstance(r, TelegramRetryAfter)]
            assert len(ok) == 5 and len(limited) == 4 == api.count_429
            assert all(e.retry_after == 1 for e in limited)
            assert len(api.send_times) == 5

            for i in range(4):  # per-chat limit within the global one
                with contextlib.suppress(TelegramRetryAfter):
                    await bot.send_message(USER + 10, f"c{i}")
        finally:
            await bot.session.close()
    assert len(api.messages_to(USER + 10)) <= 3


async def test_ptb_conflict_when_webhook_set(fake_bot_api: FakeBotApi, ptb_bot: PtbBot) -> None:
    await ptb_bot.set_webhook("http://127.0.0.1:9/hook", secret_token="abc")
    with pytest.raises(Conflict):
        await ptb_bot.get_updates()
    info = await ptb_bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    assert await ptb_bot.delete_webhook(drop_pending_updates=True)
    assert await ptb_bot.get_updates() == ()


async def test_concurrent_long_polls_conflict(fake_bot_api: FakeBotApi) -> None:
    first = asyncio.create_task(_raw(fake_bot_api, "getUpdates", json={"timeout": 5}))
    while not fake_bot_api.calls_to("getUpdates"):  # first request reached the server
        await asyncio.sleep(0.01)
    status, body = await _raw(fake_bot_api, "getUpdates", json={"timeout": 0})
    assert (status, body["result"]) == (200, [])
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]


async def test_wait_for_sent_times_out_helpfully(fake_bot_api: FakeBotApi) -> None:
    with pytest.raises(TimeoutError, match=r"waited 0\.2s for 1 matching sent messages"):
        await fake_bot_api.wait_for_sent(timeout=0.2)
