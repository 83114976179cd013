"""A Bot API update (JSON, as Telegram sends it) reduced to what the bot needs.

Reading never raises: an update of a kind the bot does not use, or one whose shape is not
what the Bot API documents (a field missing, a wrong type), becomes None, and the caller
logs it without its content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHANNEL = "telegram"
MEDIA_KINDS = ("photo", "voice", "sticker", "location", "document", "video", "audio",
               "animation", "video_note", "contact", "venue", "poll", "dice")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member",
                   "channel_post"]
_MESSAGE_FIELDS = (("message", False), ("edited_message", True), ("channel_post", False))


@dataclass(frozen=True)
class IncomingUpdate:
    """A Telegram update reduced to what the bot needs, whatever framework parsed it."""

    update_id: int
    chat_id: int
    chat_type: str  # private, group, supergroup, channel
    kind: str  # text, callback, edited, added_to_group, photo, voice, sticker, ...
    language_code: str | None = None
    text: str = ""
    callback_id: str | None = None
    callback_data: str | None = None


def chat_key(chat_id: int) -> str:
    return f"{CHANNEL}:{chat_id}"


def chat_id_of(chat: str) -> int:
    return int(chat.split(":", 1)[1])


def update_id_of(update: Any) -> int | None:
    """The update's id, or None when the body is not a Bot API update at all."""
    if not isinstance(update, dict):
        return None
    update_id = update.get("update_id")
    return update_id if isinstance(update_id, int) and not isinstance(update_id, bool) else None


def chat_of(update: dict[str, Any]) -> int | None:
    """The chat an update belongs to, read cheaply (to keep each chat's updates in order)."""
    try:
        if "callback_query" in update:
            query = update["callback_query"]
            message = query.get("message") or {}
            return int((message.get("chat") or {}).get("id") or query["from"]["id"])
        for field, _edited in _MESSAGE_FIELDS:
            if field in update:
                return int(update[field]["chat"]["id"])
        if "my_chat_member" in update:
            return int(update["my_chat_member"]["chat"]["id"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return None


def _message_kind(message: dict[str, Any]) -> str:
    if isinstance(message.get("text"), str):
        return "text"
    return next((kind for kind in MEDIA_KINDS if kind in message), "other")


def _language(user: Any) -> str | None:
    code = user.get("language_code") if isinstance(user, dict) else None
    return code if isinstance(code, str) else None


def incoming_from_dict(update: dict[str, Any]) -> IncomingUpdate | None:
    """Read a Bot API update into an IncomingUpdate; None for what the bot does not use."""
    try:
        return _read(update)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _read(update: dict[str, Any]) -> IncomingUpdate | None:
    update_id = int(update["update_id"])
    if "callback_query" in update:
        query = update["callback_query"]
        chat = (query.get("message") or {}).get("chat") or {"id": query["from"]["id"],
                                                             "type": "private"}
        data = query.get("data")
        return IncomingUpdate(update_id, int(chat["id"]), str(chat["type"]), "callback",
                              language_code=_language(query.get("from")),
                              callback_id=str(query["id"]),
                              callback_data=data if isinstance(data, str) else None)
    for field, edited in _MESSAGE_FIELDS:
        if field in update:
            message = update[field]
            kind = _message_kind(message)
            if edited:
                kind = "edited" if kind == "text" else "edited_media"
            text = message.get("text")
            return IncomingUpdate(update_id, int(message["chat"]["id"]),
                                  str(message["chat"]["type"]), kind,
                                  language_code=_language(message.get("from")),
                                  text=text if isinstance(text, str) else "")
    if "my_chat_member" in update:
        member = update["my_chat_member"]
        status = (member.get("new_chat_member") or {}).get("status")
        if member["chat"]["type"] != "private" and status in ("member", "administrator"):
            return IncomingUpdate(update_id, int(member["chat"]["id"]),
                                  str(member["chat"]["type"]), "added_to_group",
                                  language_code=_language(member.get("from")))
    return None
