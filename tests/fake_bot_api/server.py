"""A fake Telegram Bot API HTTP server for tests (127.0.0.1 only).

The real python-telegram-bot and aiogram clients talk to it over HTTP, so the
whole client stack (serialisation, error mapping, polling loops, webhooks) is
exercised.  See ``docs/testing-telegram.md`` for usage.

Only the part of the Bot API that counsel-bot needs is implemented; unknown
methods answer ``404 Not Found: method not found`` like Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, ClientSession, ClientTimeout, MultipartReader, web

__all__ = ["DEFAULT_TOKEN", "BotApiError", "FakeBotApi", "Fault"]

DEFAULT_TOKEN = "123456789:AAFakeTokenForCounselBotTests_0123456"

# Parameters whose values are plain strings and must never be JSON-decoded when
# they arrive form-encoded (a text of "123" must stay the string "123").
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "language_code",
        "callback_query_id",
        "inline_query_id",
        "url",
        "secret_token",
        "ip_address",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "file_id",
        "photo",
        "voice",
        "document",
        "sticker",
        "video",
        "audio",
        "animation",
        "video_note",
        "thumbnail",
        "certificate",
        "action",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "question",
        "explanation",
        "address",
        "custom_emoji_id",
        "sticker_set_name",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
        "web_app_query_id",
        "invite_link",
        "game_short_name",
        "method",
    }
)
# Parameters that carry JSON objects/arrays; decoded even in JSON bodies when a
# client sends them as JSON *strings*.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
        "menu_button",
        "rights",
        "options",
    }
)
# Update types Telegram does not deliver unless listed in allowed_updates.
OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Methods subject to rate limiting and recorded in ``sent`` / ``send_times``.
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
MAX_MESSAGE_LENGTH = 4096
HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
MDV2_NEVER_MARKUP = frozenset("#+-={}.!")
COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
BOT_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
DEFAULT_SCOPE: dict[str, Any] = {"type": "default"}

_FAULT_ERRORS: dict[str, tuple[int, str]] = {
    "403_blocked": (403, "Forbidden: bot was blocked by the user"),
    "403_kicked": (403, "Forbidden: bot was kicked from the group chat"),
    "403_deactivated": (403, "Forbidden: user is deactivated"),
    "400_chat_not_found": (400, "Bad Request: chat not found"),
}
FAULT_KINDS = frozenset({"429", "5xx", "timeout", "disconnect", "error", *_FAULT_ERRORS})


class BotApiError(Exception):
    """Raised inside method handlers; turned into a Telegram-style error response."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class Fault:
    method: str  # lower-cased method name or "*"
    kind: str
    times: int | None  # None = forever
    chat_id: Any = None
    retry_after: int = 5
    status: int = 500
    html: bool = False
    delay: float = 30.0
    deliver: bool = True
    error_code: int = 400
    description: str = "Bad Request"

    def matches(self, params: dict[str, Any]) -> bool:
        return self.chat_id is None or _same_chat(params.get("chat_id"), self.chat_id)


def _same_chat(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) == str(b)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _update_type(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def _inline_buttons(markup: Any) -> list[dict[str, Any]]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or []
    return [b for row in rows for b in row if isinstance(b, dict)]


def _decode_form_value(key: str, value: str) -> Any:
    if key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeBotApi:
    """In-process fake of ``https://api.telegram.org`` bound to 127.0.0.1.

    Use as ``async with FakeBotApi() as api:``; point clients at ``api.root``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "counsel_test_bot",
        first_name: str = "Counsel Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        global_limit_per_sec: int | None = None,
        per_chat_limit_per_sec: int | None = None,
        max_poll_timeout: float = 10.0,
        validate_parse_mode: bool = True,
        strict_chats: bool = False,
        conflict_on_concurrent_polls: bool = True,
    ) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456789
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.host = host
        self.port = port
        self.global_limit_per_sec = global_limit_per_sec
        self.per_chat_limit_per_sec = per_chat_limit_per_sec
        self.max_poll_timeout = max_poll_timeout
        self.validate_parse_mode = validate_parse_mode
        self.strict_chats = strict_chats
        self.conflict_on_concurrent_polls = conflict_on_concurrent_polls

        # --- recorded state (public, read freely in tests) ---
        self.calls: list[dict[str, Any]] = []  # every request: method, params, files, status
        self.sent: list[dict[str, Any]] = []  # every successful send* call
        self.send_times: list[float] = []  # time.monotonic() of accepted send* calls
        self.edits: list[dict[str, Any]] = []  # editMessageText / editMessageReplyMarkup
        self.callback_answers: list[dict[str, Any]] = []
        self.chat_actions: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.webhook_calls: list[dict[str, Any]] = []  # setWebhook / deleteWebhook params
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.left_chats: list[Any] = []
        self.count_429 = 0
        self.updates: list[dict[str, Any]] = []  # queued, unconfirmed updates
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, int], dict[str, Any]] = {}  # (str(chat_id), id) -> msg
        self.blocked_by: set[int] = set()
        self.files: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.allowed_updates: list[str] | None = None

        self._faults: dict[str, list[Fault]] = {}
        self._update_ids = itertools.count(100_001)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._msg_counters: dict[str, int] = {}
        self._callback_queries: set[str] = set()
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[str, deque[float]] = {}
        self._poll_generation = 0
        self._updates_changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any], dict[str, Any]], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._m_get_me,
                "getUpdates": self._m_get_updates,
                "sendMessage": self._m_send_message,
                "sendPhoto": self._m_send_photo,
                "sendDocument": self._m_send_document,
                "sendChatAction": self._m_send_chat_action,
                "editMessageText": self._m_edit_message_text,
                "editMessageReplyMarkup": self._m_edit_message_reply_markup,
                "deleteMessage": self._m_delete_message,
                "answerCallbackQuery": self._m_answer_callback_query,
                "setMyCommands": self._m_set_my_commands,
                "getMyCommands": self._m_get_my_commands,
                "deleteMyCommands": self._m_delete_my_commands,
                "setWebhook": self._m_set_webhook,
                "deleteWebhook": self._m_delete_webhook,
                "getWebhookInfo": self._m_get_webhook_info,
                "getChat": self._m_get_chat,
                "getFile": self._m_get_file,
                "leaveChat": self._m_leave_chat,
                "close": self._m_true,
                "logOut": self._m_true,
            }.items()
        }

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing.set()
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` - the API root (what api.telegram.org would be)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB ``base_url`` (PTB appends the token)."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB ``base_file_url`` (PTB appends the token)."""
        return f"{self.root}/file/bot"

    def ptb_kwargs(self) -> dict[str, str]:
        """``Bot(token, **api.ptb_kwargs())``."""
        return {"base_url": self.base_url, "base_file_url": self.base_file_url}

    def aiogram_server(self) -> Any:
        """``AiohttpSession(api=api.aiogram_server())``."""
        from aiogram.client.telegram import TelegramAPIServer

        return TelegramAPIServer.from_base(self.root)

    # ------------------------------------------------------------------ HTTP layer
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params, files = await self._parse_request(request)
        except ValueError as exc:
            return self._error_response(400, f"Bad Request: {exc}")
        call = self._record_call(method, params, files)
        if request.match_info["token"] != self.token:
            return await self._finish(call, self._error_response(401, "Unauthorized"))
        fault = self._take_fault(method.lower(), params)
        if fault is not None and fault.kind == "disconnect":
            call["status"] = "disconnect"
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        return await self._finish(call, await self._process(method, params, files, fault))

    async def _finish(self, call: dict[str, Any], response: web.Response) -> web.Response:
        call["status"] = response.status
        if response.status == 429:
            self.count_429 += 1
        async with self._cond:
            self._cond.notify_all()
        return response

    async def _parse_request(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        params: dict[str, Any] = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        files: dict[str, dict[str, Any]] = {}
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            for key, value in body.items():
                if key in JSON_PARAMS and isinstance(value, str):
                    value = _decode_form_value(key, value)
                params[key] = value
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "data": value.file.read(),
                    }
                else:
                    params[key] = _decode_form_value(key, str(value))
        return params, files

    def _record_call(
        self, method: str, params: dict[str, Any], files: dict[str, Any], via: str = "http"
    ) -> dict[str, Any]:
        canonical = self._methods.get(method.lower(), (method, None))[0]
        call = {
            "method": canonical,
            "params": params,
            "files": files,
            "time": time.monotonic(),
            "status": None,
            "via": via,
        }
        self.calls.append(call)
        return call

    @staticmethod
    def _error_response(
        code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _process(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, Any],
        fault: Fault | None,
    ) -> web.Response:
        lower = method.lower()
        if fault is not None:
            response = await self._apply_fault(fault)
            if response is not None:
                return response
        entry = self._methods.get(lower)
        if entry is None:
            return self._error_response(404, "Not Found: method not found")
        try:
            if lower in SEND_METHODS:
                self._check_send_allowed(params)
            result = entry[1](params, files)
            if asyncio.iscoroutine(result):
                result = await result
        except BotApiError as exc:
            return self._error_response(exc.code, exc.description, exc.parameters)
        return web.json_response({"ok": True, "result": result})

    async def _apply_fault(self, fault: Fault) -> web.Response | None:
        if fault.kind == "429":
            return self._error_response(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        if fault.kind == "5xx":
            if fault.html:  # what nginx in front of Telegram really returns for 502
                phrase = "Bad Gateway" if fault.status == 502 else "Server Error"
                page = (
                    f"<html>\r\n<head><title>{fault.status} {phrase}</title></head>\r\n"
                    f"<body>\r\n<center><h1>{fault.status} {phrase}</h1></center>\r\n"
                    "<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
                )
                return web.Response(status=fault.status, text=page, content_type="text/html")
            phrase = "Bad Gateway" if fault.status == 502 else "Internal Server Error"
            return self._error_response(fault.status, phrase)
        if fault.kind == "timeout":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
            if self._closing.is_set() or not fault.deliver:
                return self._error_response(504, "Gateway Timeout")
            return None  # slow, but Telegram did perform the request
        if fault.kind == "error":
            return self._error_response(fault.error_code, fault.description)
        code, description = _FAULT_ERRORS[fault.kind]
        return self._error_response(code, description)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error_response(401, "Unauthorized")
        path = request.match_info["path"]
        for info in self.files.values():
            if info["file_path"] == path:
                return web.Response(body=info["content"], content_type="application/octet-stream")
        return self._error_response(404, "Not Found")

    # ------------------------------------------------------------------ faults / limits
    def inject(
        self,
        method: str,
        kind: str,
        times: int | None = 1,
        *,
        chat_id: Any = None,
        retry_after: int = 5,
        status: int = 500,
        html: bool = False,
        delay: float = 30.0,
        deliver: bool = True,
        error_code: int = 400,
        description: str = "Bad Request",
    ) -> Fault:
        """Queue a fault for the next ``times`` calls of ``method`` ("*" = any method).

        kinds: "429" (retry_after), "5xx" (status 500/502, html=True for nginx HTML page),
        "403_blocked", "403_kicked", "403_deactivated", "400_chat_not_found",
        "error" (error_code + description), "timeout" (hold the request ``delay`` s, then
        perform it if ``deliver`` else answer 504), "disconnect" (drop the TCP connection).
        ``chat_id`` restricts the fault to calls for that chat. ``times=None`` = forever.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        fault = Fault(
            method=method.lower(),
            kind=kind,
            times=times,
            chat_id=chat_id,
            retry_after=retry_after,
            status=status,
            html=html,
            delay=delay,
            deliver=deliver,
            error_code=error_code,
            description=description,
        )
        self._faults.setdefault(fault.method, []).append(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, lower: str, params: dict[str, Any]) -> Fault | None:
        for key in (lower, "*"):
            queue = self._faults.get(key, [])
            for fault in queue:
                if fault.matches(params):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            queue.remove(fault)
                    return fault
        return None

    def _check_send_allowed(self, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise BotApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, int) and chat_id in self.blocked_by:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        now = time.monotonic()
        windows: list[tuple[deque[float], int]] = []
        if self.global_limit_per_sec is not None:
            windows.append((self._global_window, self.global_limit_per_sec))
        if self.per_chat_limit_per_sec is not None:
            window = self._chat_windows.setdefault(str(chat_id), deque())
            windows.append((window, self.per_chat_limit_per_sec))
        for window, limit in windows:
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= limit:
                raise BotApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        for window, _ in windows:
            window.append(now)
        self.send_times.append(now)

    # ------------------------------------------------------------------ chats / messages
    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        user = self.users.setdefault(
            user_id,
            {
                "id": user_id,
                "is_bot": False,
                "first_name": f"User{user_id}",
                "username": f"user{user_id}",
            },
        )
        if first_name is not None:
            user["first_name"] = first_name
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        return dict(user)

    def _chat(
        self, chat_id: Any, chat_type: str | None = None, title: str | None = None
    ) -> dict[str, Any]:
        key = str(chat_id)
        chat = self.chats.get(key)
        if chat is None:
            if chat_type is None:
                if isinstance(chat_id, int) and chat_id > 0:
                    chat_type = "private"
                elif str(chat_id).startswith("-100"):
                    chat_type = "supergroup"
                else:
                    chat_type = "group"
            chat = {"id": chat_id, "type": chat_type}
            if chat_type == "private" and isinstance(chat_id, int):
                user = self._user(chat_id)
                for field in ("first_name", "last_name", "username"):
                    if field in user:
                        chat[field] = user[field]
            else:
                chat["title"] = title or f"Test {chat_type} {chat_id}"
            self.chats[key] = chat
        elif title is not None and chat.get("type") != "private":
            chat["title"] = title
        return dict(chat)

    def _known_chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username") == chat_id[1:]:
                    return dict(chat)
            raise BotApiError(400, "Bad Request: chat not found")
        if self.strict_chats and str(chat_id) not in self.chats:
            raise BotApiError(400, "Bad Request: chat not found")
        return self._chat(chat_id)

    def _next_message_id(self, chat_id: Any) -> int:
        key = str(chat_id)
        self._msg_counters[key] = self._msg_counters.get(key, 0) + 1
        return self._msg_counters[key]

    def message(self, chat_id: Any, message_id: int) -> dict[str, Any] | None:
        """Current state of a message (bot's or user's) as Telegram stores it."""
        return self.messages.get((str(chat_id), message_id))

    def _new_message(
        self, chat: dict[str, Any], sender: dict[str, Any] | None, content: dict[str, Any]
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": self._next_message_id(chat["id"])}
        if sender is not None:
            msg["from"] = sender
        msg["chat"] = chat
        msg["date"] = int(time.time())
        msg.update(content)
        self.messages[(str(chat["id"]), msg["message_id"])] = msg
        return msg

    def _new_file(
        self, prefix: str, ext: str, size: int = 12_345, content: bytes | None = None
    ) -> dict[str, Any]:
        n = next(self._file_ids)
        file_id = f"{prefix}ACAgIAAxkBAAI{n:06d}FakeFileId"
        info = {
            "file_id": file_id,
            "file_unique_id": f"AQAD{n:06d}",
            "file_size": size,
            "file_path": f"{prefix.lower()}s/file_{n}.{ext}",
            "content": content if content is not None else bytes(range(256)) * (size // 256),
        }
        self.files[file_id] = info
        return {"file_id": file_id, "file_unique_id": info["file_unique_id"], "file_size": size}

    # ------------------------------------------------------------------ text validation
    def _parse_text(self, text: Any, parse_mode: Any, field: str = "text") -> str:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        plain = text
        mode = (parse_mode or "").lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            plain = _check_html(text) if self.validate_parse_mode else _strip_html(text)
        elif mode == "markdownv2" and self.validate_parse_mode:
            _check_markdown_v2(text)
        if not plain.strip():
            raise BotApiError(400, f"Bad Request: message {field} is empty")
        return plain

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        """Validate reply_markup; return the part Telegram echoes (inline keyboards only)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        for button in _inline_buttons(markup):
            actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
            if not button.get("text"):
                raise BotApiError(400, "Bad Request: inline keyboard button text is empty")
            if not actions:
                raise BotApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    # ------------------------------------------------------------------ API methods
    def _m_true(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        return True

    def _m_get_me(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_get_updates(
        self, params: dict[str, Any], files: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = min(float(params.get("timeout") or 0), self.max_poll_timeout)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = allowed or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an earlier, still waiting getUpdates gets a 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.conflict_on_concurrent_polls and generation != self._poll_generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or self._closing.is_set():
                return batch
            changed = self._updates_changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self.allowed_updates
        if allowed:
            self.updates = [u for u in self.updates if _update_type(u) in allowed]
        else:
            self.updates = [u for u in self.updates if _update_type(u) not in OPT_IN_UPDATE_TYPES]
        return copy.deepcopy(self.updates[:limit])

    def _wake_pollers(self) -> None:
        changed, self._updates_changed = self._updates_changed, asyncio.Event()
        changed.set()

    def _record_sent(
        self, method: str, params: dict[str, Any], msg: dict[str, Any], text: str | None
    ) -> dict[str, Any]:
        record = {
            "method": method,
            "chat_id": params.get("chat_id"),
            "text": text,
            "parse_mode": params.get("parse_mode"),
            "reply_markup": params.get("reply_markup"),
            "protect_content": bool(params.get("protect_content", False)),
            "disable_notification": bool(params.get("disable_notification", False)),
            "message_id": msg["message_id"],
            "params": params,
            "message": msg,  # live object: reflects later edits
            "time": time.monotonic(),
        }
        self.sent.append(record)
        return record

    def _message_common(self, params: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        reply_to = params.get("reply_to_message_id")
        reply_params = params.get("reply_parameters")
        if isinstance(reply_params, dict):
            reply_to = reply_params.get("message_id")
        if reply_to is not None:
            original = self.message(chat["id"], int(reply_to))
            if original is not None:
                extra["reply_to_message"] = copy.deepcopy(original)
            elif not (
                isinstance(reply_params, dict) and reply_params.get("allow_sending_without_reply")
            ):
                raise BotApiError(400, "Bad Request: message to be replied not found")
        if params.get("protect_content"):
            extra["has_protected_content"] = True
        if params.get("message_thread_id"):
            extra["message_thread_id"] = params["message_thread_id"]
        markup = self._check_markup(params.get("reply_markup"))
        if markup is not None:
            extra["reply_markup"] = markup
        return extra

    def _m_send_message(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        plain = self._parse_text(text, params.get("parse_mode"))
        if _utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise BotApiError(400, "Bad Request: message is too long")
        chat = self._known_chat(params["chat_id"])
        content = {"text": plain, **self._message_common(params, chat)}
        if isinstance(params.get("entities"), list) and params["entities"]:
            content["entities"] = params["entities"]
        msg = self._new_message(chat, dict(self.bot_user), content)
        self._record_sent("sendMessage", params, msg, text)
        return msg

    def _media_param(
        self, params: dict[str, Any], files: dict[str, Any], field: str
    ) -> tuple[bytes | None, str | None]:
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise BotApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return upload["data"], upload["filename"]
        if field in files:
            return files[field]["data"], files[field]["filename"]
        if isinstance(value, str) and value:
            return None, None  # file_id or URL
        raise BotApiError(400, f"Bad Request: there is no {field} in the request")

    def _m_send_photo(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        data, _ = self._media_param(params, files, "photo")
        chat = self._known_chat(params["chat_id"])
        content: dict[str, Any] = {"photo": self._photo_sizes(data)}
        if params.get("caption"):
            content["caption"] = self._parse_text(
                params["caption"], params.get("parse_mode"), "caption"
            )
        content.update(self._message_common(params, chat))
        msg = self._new_message(chat, dict(self.bot_user), content)
        self._record_sent("sendPhoto", params, msg, params.get("caption"))
        return msg

    def _m_send_document(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        data, filename = self._media_param(params, files, "document")
        chat = self._known_chat(params["chat_id"])
        size = len(data) if data is not None else 12_345
        document = {
            "file_name": filename or "document.bin",
            "mime_type": "application/octet-stream",
            **self._new_file("BQ", "bin", size=size, content=data),
        }
        content: dict[str, Any] = {"document": document}
        if params.get("caption"):
            content["caption"] = self._parse_text(
                params["caption"], params.get("parse_mode"), "caption"
            )
        content.update(self._message_common(params, chat))
        msg = self._new_message(chat, dict(self.bot_user), content)
        self._record_sent("sendDocument", params, msg, params.get("caption"))
        return msg

    def _photo_sizes(self, data: bytes | None = None) -> list[dict[str, Any]]:
        sizes = []
        for width, height, size in ((90, 67, 1_234), (320, 240, 15_678), (1280, 960, 98_765)):
            info = self._new_file("AgAC", "jpg", size=size, content=data)
            sizes.append({**info, "width": width, "height": height})
        return sizes

    def _m_send_chat_action(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        if params.get("chat_id") in (None, ""):
            raise BotApiError(400, "Bad Request: chat_id is empty")
        self._known_chat(params["chat_id"])
        self.chat_actions.append(dict(params))
        return True

    def _edit_target(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if params.get("inline_message_id"):
            return None
        msg = self.message(params.get("chat_id"), int(params.get("message_id") or 0))
        if msg is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise BotApiError(400, "Bad Request: message can't be edited")
        return msg

    def _apply_edit(
        self,
        method: str,
        params: dict[str, Any],
        msg: dict[str, Any] | None,
        new_text: str | None,
    ) -> dict[str, Any] | bool:
        markup = self._check_markup(params.get("reply_markup"))
        self.edits.append({"method": method, **params})
        if msg is None:
            return True
        same_text = new_text is None or msg.get("text", msg.get("caption")) == new_text
        if same_text and msg.get("reply_markup") == markup:
            raise BotApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        if new_text is not None:
            msg["text"] = new_text
        if markup is None:
            msg.pop("reply_markup", None)  # Telegram drops the keyboard if none is passed
        else:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    def _m_edit_message_text(
        self, params: dict[str, Any], files: dict[str, Any]
    ) -> dict[str, Any] | bool:
        plain = self._parse_text(params.get("text"), params.get("parse_mode"))
        if _utf16_len(plain) > MAX_MESSAGE_LENGTH:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        msg = self._edit_target(params)
        return self._apply_edit("editMessageText", params, msg, plain)

    def _m_edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, Any]
    ) -> dict[str, Any] | bool:
        msg = self._edit_target(params)
        return self._apply_edit("editMessageReplyMarkup", params, msg, None)

    def _m_delete_message(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        key = (str(params.get("chat_id")), int(params.get("message_id") or 0))
        if self.messages.pop(key, None) is None:
            raise BotApiError(400, "Bad Request: message to delete not found")
        self.deleted.append(dict(params))
        return True

    def _m_answer_callback_query(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callback_queries:
            raise BotApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.callback_answers.append(dict(params))
        return True

    @staticmethod
    def _scope_key(scope: Any) -> str:
        scope = scope if isinstance(scope, dict) and scope else DEFAULT_SCOPE
        return json.dumps(scope, sort_keys=True)

    def commands_for(self, scope: dict[str, Any] | None = None, language_code: str = "") -> Any:
        """Commands set via setMyCommands for (scope, language_code), or None."""
        return self.commands.get((self._scope_key(scope), language_code or ""))

    def _m_set_my_commands(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise BotApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise BotApiError(400, "Bad Request: too many commands specified")
        for cmd in commands:
            if not BOT_COMMAND_NAME_RE.match(str(cmd.get("command", ""))):
                raise BotApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise BotApiError(400, "Bad Request: command description is empty")
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands[key] = commands
        return True

    def _m_get_my_commands(
        self, params: dict[str, Any], files: dict[str, Any]
    ) -> list[dict[str, Any]]:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        return self.commands.get(key, [])

    def _m_delete_my_commands(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands.pop(key, None)
        return True

    def _m_set_webhook(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_calls.append({"method": "setWebhook", **params})
        if params.get("drop_pending_updates"):
            self.updates.clear()
        if not url:
            self.webhook = {"url": ""}
            return True
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
            "ip_address": params.get("ip_address"),
            "has_custom_certificate": "certificate" in files or "certificate" in params,
        }
        self._wake_pollers()
        return True

    def _m_delete_webhook(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        self.webhook_calls.append({"method": "deleteWebhook", **params})
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _m_get_webhook_info(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook["url"],
            "has_custom_certificate": bool(self.webhook.get("has_custom_certificate")),
            "pending_update_count": len(self.updates),
        }
        if self.webhook["url"]:
            info["max_connections"] = self.webhook.get("max_connections") or 40
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
        return info

    def _m_get_chat(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if str(chat_id) not in self.chats:
            raise BotApiError(400, "Bad Request: chat not found")
        chat = dict(self.chats[str(chat_id)])
        chat.setdefault("accent_color_id", 0)
        chat.setdefault("max_reaction_count", 11)
        chat.setdefault(
            "accepted_gift_types",
            {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
            },
        )
        return chat

    def _m_get_file(self, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        info = self.files.get(str(params.get("file_id")))
        if info is None:
            raise BotApiError(400, "Bad Request: invalid file_id")
        return {k: info[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    def _m_leave_chat(self, params: dict[str, Any], files: dict[str, Any]) -> bool:
        self.left_chats.append(params.get("chat_id"))
        return True

    # ------------------------------------------------------------------ update builders
    @property
    def webhook_active(self) -> bool:
        return bool(self.webhook["url"])

    def _push(self, body: dict[str, Any], queue: bool | None) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **body}
        if queue is None:
            queue = not self.webhook_active
        if queue:
            self.updates.append(update)
            self._wake_pollers()
        return copy.deepcopy(update)

    def _private_or_group_chat(
        self, user_id: int, chat_type: str, chat_id: Any, title: str | None
    ) -> dict[str, Any]:
        if chat_type == "private":
            return self._chat(user_id if chat_id is None else chat_id, "private")
        if chat_id is None:
            chat_id = -1001234567890 if chat_type == "supergroup" else -4001234567
        return self._chat(chat_id, chat_type, title)

    def user_sends_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str = "en",
        first_name: str | None = None,
        username: str | None = None,
        chat_type: str = "private",
        chat_id: Any = None,
        title: str | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        queue: bool | None = None,
    ) -> dict[str, Any]:
        """A user writes ``text``. Leading ``/command`` gets a bot_command entity.

        Queued for getUpdates unless a webhook is set (``queue`` overrides); the
        Update dict is returned either way (POST it with ``deliver_webhook``).
        """
        user = self._user(user_id, first_name, language_code, username)
        chat = self._private_or_group_chat(user_id, chat_type, chat_id, title)
        content: dict[str, Any] = {"text": text}
        if entities is None:
            match = COMMAND_RE.match(text)
            entities = (
                [{"offset": 0, "length": _utf16_len(match.group()), "type": "bot_command"}]
                if match
                else []
            )
        if entities:
            content["entities"] = entities
        if reply_to_message_id is not None:
            original = self.message(chat["id"], reply_to_message_id)
            if original is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat['id']}")
            content["reply_to_message"] = copy.deepcopy(original)
        msg = self._new_message(chat, user, content)
        return self._push({"message": copy.deepcopy(msg)}, queue)

    def user_sends_command(
        self,
        user_id: int,
        command: str,
        payload: str | None = None,
        *,
        mention_bot: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``/start`` (optionally ``/start PAYLOAD`` as a t.me deep link produces)."""
        command = command if command.startswith("/") else f"/{command}"
        if mention_bot:
            command = f"{command}@{self.bot_user['username']}"
        text = command if payload is None else f"{command} {payload}"
        return self.user_sends_text(user_id, text, **kwargs)

    def user_presses_button(
        self,
        user_id: int,
        callback_data: str,
        message_id: int | None = None,
        *,
        chat_id: Any = None,
        strict: bool = True,
        queue: bool | None = None,
    ) -> dict[str, Any]:
        """Press an inline button of a message the bot sent (latest matching by default).

        With ``strict`` the callback_data must be on one of the message's buttons.
        """
        chat_key = str(user_id if chat_id is None else chat_id)
        if message_id is None:
            candidates = [
                m
                for (c, _), m in self.messages.items()
                if c == chat_key
                and m.get("from", {}).get("id") == self.bot_id
                and (
                    not strict
                    or any(
                        b.get("callback_data") == callback_data
                        for b in _inline_buttons(m.get("reply_markup"))
                    )
                )
            ]
            if not candidates:
                raise ValueError(
                    f"no bot message in chat {chat_key} has a button with {callback_data!r}"
                )
            msg = max(candidates, key=lambda m: m["message_id"])
        else:
            found = self.messages.get((chat_key, message_id))
            if found is None:
                raise ValueError(f"no message {message_id} in chat {chat_key}")
            msg = found
            data = [b.get("callback_data") for b in _inline_buttons(msg.get("reply_markup"))]
            if strict and callback_data not in data:
                raise ValueError(f"message {message_id} has no button {callback_data!r}: {data}")
        query_id = str(next(self._callback_ids))
        self._callback_queries.add(query_id)
        body = {
            "callback_query": {
                "id": query_id,
                "from": self._user(user_id),
                "message": copy.deepcopy(msg),
                "chat_instance": str(zlib.crc32(f"{chat_key}:{self.bot_id}".encode()) * 7919),
                "data": callback_data,
            }
        }
        return self._push(body, queue)

    def user_sends(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        chat_type: str = "private",
        chat_id: Any = None,
        language_code: str = "en",
        queue: bool | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Non-text message: photo, voice, sticker, location, document, contact, video.

        Extra ``fields`` override the media object (e.g. ``duration=7``, ``latitude=1.0``).
        """
        user = self._user(user_id, language_code=language_code)
        chat = self._private_or_group_chat(user_id, chat_type, chat_id, None)
        content: dict[str, Any]
        if kind == "photo":
            content = {"photo": self._photo_sizes()}
        elif kind == "voice":
            media = {"duration": 3, "mime_type": "audio/ogg", **self._new_file("AwAC", "oga")}
            content = {"voice": {**media, **fields}}
        elif kind == "sticker":
            media = {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "\N{THUMBS UP SIGN}",
                "set_name": "TestStickers",
                **self._new_file("CAAC", "webp", size=23_456),
            }
            content = {"sticker": {**media, **fields}}
        elif kind == "location":
            content = {"location": {"latitude": 52.520008, "longitude": 13.404954, **fields}}
        elif kind == "document":
            media = {
                "file_name": "report.pdf",
                "mime_type": "application/pdf",
                **self._new_file("BQAC", "pdf", size=54_321),
            }
            content = {"document": {**media, **fields}}
        elif kind == "video":
            media = {
                "width": 640,
                "height": 360,
                "duration": 5,
                "mime_type": "video/mp4",
                **self._new_file("BAAC", "mp4", size=345_678),
            }
            content = {"video": {**media, **fields}}
        elif kind == "contact":
            content = {
                "contact": {
                    "phone_number": "+4915112345678",
                    "first_name": user["first_name"],
                    "user_id": user_id,
                    **fields,
                }
            }
        else:
            raise ValueError(f"unsupported message kind {kind!r}")
        if caption is not None:
            content["caption"] = caption
        msg = self._new_message(chat, user, content)
        return self._push({"message": copy.deepcopy(msg)}, queue)

    def user_edits_message(
        self,
        user_id: int,
        message_id: int,
        new_text: str,
        *,
        chat_id: Any = None,
        queue: bool | None = None,
    ) -> dict[str, Any]:
        """The user edits one of their earlier text messages (edited_message update)."""
        key = (str(user_id if chat_id is None else chat_id), message_id)
        msg = self.messages.get(key)
        if msg is None or msg.get("from", {}).get("id") != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {key[0]}")
        msg["text"] = new_text
        msg["edit_date"] = int(time.time())
        msg.pop("entities", None)
        return self._push({"edited_message": copy.deepcopy(msg)}, queue)

    def group_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int = -1001234567890,
        chat_type: str = "supergroup",
        title: str = "Test group",
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self.user_sends_text(
            user_id, text, chat_type=chat_type, chat_id=chat_id, title=title, **kwargs
        )

    def channel_post(
        self,
        text: str,
        *,
        chat_id: int = -1009876543210,
        title: str = "Test channel",
        username: str | None = None,
        author_signature: str | None = None,
        queue: bool | None = None,
    ) -> dict[str, Any]:
        chat = self._chat(chat_id, "channel", title)
        if username:
            self.chats[str(chat_id)]["username"] = username
            chat["username"] = username
        content: dict[str, Any] = {"sender_chat": dict(chat), "text": text}
        if author_signature:
            content["author_signature"] = author_signature
        msg = self._new_message(chat, None, content)
        return self._push({"channel_post": copy.deepcopy(msg)}, queue)

    def _member(self, user: dict[str, Any], status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": user, "status": status}
        if status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_send_welcome_messages=False,
            )
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "restricted":
            raise ValueError("restricted membership is not supported by the fake")
        return member

    def _my_chat_member(
        self, user_id: int, chat: dict[str, Any], old: str, new: str, queue: bool | None
    ) -> dict[str, Any]:
        body = {
            "my_chat_member": {
                "chat": chat,
                "from": self._user(user_id),
                "date": int(time.time()),
                "old_chat_member": self._member(dict(self.bot_user), old),
                "new_chat_member": self._member(dict(self.bot_user), new),
            }
        }
        return self._push(body, queue)

    def bot_added_to_group(
        self,
        user_id: int,
        chat_id: int = -1001234567890,
        *,
        chat_type: str = "supergroup",
        title: str = "Test group",
        status: str = "member",
        old_status: str = "left",
        queue: bool | None = None,
    ) -> dict[str, Any]:
        """``user_id`` adds the bot to a group (my_chat_member update)."""
        chat = self._chat(chat_id, chat_type, title)
        return self._my_chat_member(user_id, chat, old_status, status, queue)

    def user_blocks_bot(self, user_id: int, *, queue: bool | None = None) -> dict[str, Any]:
        """my_chat_member (member -> kicked); later sends to the user answer 403 blocked."""
        self.blocked_by.add(user_id)
        return self._my_chat_member(
            user_id, self._chat(user_id, "private"), "member", "kicked", queue
        )

    def user_unblocks_bot(self, user_id: int, *, queue: bool | None = None) -> dict[str, Any]:
        self.blocked_by.discard(user_id)
        return self._my_chat_member(
            user_id, self._chat(user_id, "private"), "kicked", "member", queue
        )

    # ------------------------------------------------------------------ webhook delivery
    async def deliver_webhook(
        self,
        url: str,
        update: dict[str, Any],
        secret_token: str | None = None,
        *,
        timeout: float = 10.0,
        execute_reply: bool = True,
    ) -> int:
        """POST ``update`` to the bot's webhook like Telegram; return the HTTP status.

        Like Telegram, a method call in the webhook *response* (aiogram returns one when
        a handler returns e.g. ``message.answer(...)`` unawaited) is executed.
        """
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        async with (
            ClientSession(timeout=ClientTimeout(total=timeout)) as session,
            session.post(url, json=update, headers=headers) as resp,
        ):
            status = resp.status
            reply: dict[str, Any] = {}
            if status == 200 and execute_reply:
                reply = await self._read_webhook_reply(resp)
        if reply.get("method"):
            method = str(reply.pop("method"))
            files = reply.pop("__files__", {})
            call = self._record_call(method, reply, files, via="webhook_reply")
            await self._finish(call, await self._process(method, reply, files, None))
        return status

    async def deliver(self, update: dict[str, Any]) -> int | None:
        """POST to the registered webhook (with its secret), or queue if none is set."""
        if not self.webhook_active:
            if all(u["update_id"] != update["update_id"] for u in self.updates):
                self.updates.append(update)  # helpers already queue in polling mode
                self._wake_pollers()
            return None
        return await self.deliver_webhook(
            self.webhook["url"], update, self.webhook.get("secret_token")
        )

    @staticmethod
    async def _read_webhook_reply(resp: Any) -> dict[str, Any]:
        ctype = resp.content_type
        if ctype == "application/json":
            body = await resp.json(content_type=None)
            return body if isinstance(body, dict) else {}
        if ctype != "multipart/form-data":
            return {}
        reply: dict[str, Any] = {}
        files: dict[str, Any] = {}
        reader = MultipartReader.from_response(resp)
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename:
                files[part.name] = {"filename": part.filename, "data": await part.read()}
            else:
                reply[part.name] = _decode_form_value(part.name, await part.text())
        if files:
            reply["__files__"] = files
        return reply

    # ------------------------------------------------------------------ assertions helpers
    def messages_to(self, chat_id: Any) -> list[dict[str, Any]]:
        """Sent-message records (see ``sent``) addressed to ``chat_id``."""
        return [r for r in self.sent if _same_chat(r["chat_id"], chat_id)]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        lower = method.lower()
        return [c for c in self.calls if c["method"].lower() == lower]

    def mark(self) -> int:
        """Index into ``sent`` to pass as ``since=`` to :meth:`wait_for_sent`."""
        return len(self.sent)

    async def wait_for_sent(
        self,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
        *,
        chat_id: Any = None,
        since: int = 0,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` sent records (from ``sent[since:]``) match; return them all."""

        def matching() -> list[dict[str, Any]]:
            return [
                r
                for r in self.sent[since:]
                if (chat_id is None or _same_chat(r["chat_id"], chat_id))
                and (predicate is None or predicate(r))
            ]

        return await self._wait(matching, count, timeout, "sent messages", self.sent[since:])

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Wait for ``count`` completed calls of ``method`` whose params match ``predicate``."""

        def matching() -> list[dict[str, Any]]:
            return [
                c
                for c in self.calls_to(method)
                if c["status"] is not None and (predicate is None or predicate(c["params"]))
            ]

        return await self._wait(matching, count, timeout, f"{method} calls", self.calls[-20:])

    async def _wait(
        self,
        matching: Callable[[], list[dict[str, Any]]],
        count: int,
        timeout: float,
        what: str,
        context: Iterable[Any],
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = []

        def ready() -> bool:
            nonlocal result
            result = matching()
            return len(result) >= count

        try:
            async with self._cond:
                await asyncio.wait_for(self._cond.wait_for(ready), timeout)
        except TimeoutError:
            seen = [
                {k: r.get(k) for k in ("method", "chat_id", "text", "params", "status")}
                for r in context
            ]
            raise TimeoutError(
                f"waited {timeout}s for {count} matching {what}, got {len(result)}; recent: {seen}"
            ) from None
        return result


# ---------------------------------------------------------------------- parse_mode checks
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _check_html(text: str) -> str:
    """Validate Telegram HTML the way the Bot API does (approximately); return plain text."""
    stack: list[str] = []
    plain: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            match = _TAG_RE.match(text, i)
            if match is None:
                if ">" not in text[i:]:
                    raise BotApiError(
                        400,
                        "Bad Request: can't parse entities: Unclosed start tag at byte offset "
                        f"{_byte_offset(text, i)}",
                    )
                name = re.match(r"</?([^\s>]*)", text[i:])
                raise BotApiError(
                    400,
                    f"Bad Request: can't parse entities: Unsupported start tag \""
                    f'{name.group(1) if name else ""}" at byte offset {_byte_offset(text, i)}',
                )
            closing, name, attrs = match.group(1), match.group(2).lower(), match.group(3)
            if name not in HTML_TAGS:
                raise BotApiError(
                    400,
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at '
                    f"byte offset {_byte_offset(text, i)}",
                )
            if closing:
                if not stack:
                    raise BotApiError(
                        400,
                        "Bad Request: can't parse entities: Unexpected end tag at byte offset "
                        f"{_byte_offset(text, i)}",
                    )
                if stack[-1] != name:
                    raise BotApiError(
                        400,
                        "Bad Request: can't parse entities: Can't find end tag corresponding "
                        f'to start tag "{stack[-1]}"',
                    )
                stack.pop()
            else:
                if name == "span" and "tg-spoiler" not in attrs:
                    raise BotApiError(
                        400,
                        'Bad Request: can\'t parse entities: Tag "span" must have class '
                        '"tg-spoiler" at byte offset ' + str(_byte_offset(text, i)),
                    )
                stack.append(name)
            i = match.end()
            continue
        if ch == ">":
            pass  # tolerated by Telegram
        plain.append(ch)
        i += 1
    if stack:
        raise BotApiError(
            400,
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1]}"',
        )
    return html.unescape("".join(plain))


def _strip_html(text: str) -> str:
    return html.unescape(_TAG_RE.sub("", text))


def _check_markdown_v2(text: str) -> None:
    """Reject reserved characters that are never markup and were not escaped."""
    i = 0
    in_code = False
    in_url = False
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        elif in_code:
            pass
        elif in_url:
            if ch == ")":
                in_url = False
        elif ch == "]" and text[i + 1 : i + 2] == "(":
            in_url = True
            i += 2
            continue
        elif ch in MDV2_NEVER_MARKUP:
            raise BotApiError(
                400,
                f"Bad Request: can't parse entities: Character '{ch}' is reserved and must be "
                "escaped with the preceding '\\'",
            )
        i += 1
