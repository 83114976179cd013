"""What a person sends, as the engine sees it, whatever the door it came through."""

from __future__ import annotations

from dataclasses import dataclass

from counsel_bot.cases.model import Session


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    """A button press. `action` is the engine's own action id, never raw callback data."""

    action: str


@dataclass(frozen=True)
class Command:
    name: str
    args: str = ""


@dataclass(frozen=True)
class Joined:
    """An invitation that the runtime redeemed: the chat now belongs to this case."""

    case_id: str
    language: str
    country: str
    timezone: str


@dataclass(frozen=True)
class Start:
    """/start, with an optional deep-link payload and the channel's language hint.

    `invitation` is what the runtime found for the payload: the case joined, or the reason
    the code cannot be used ("malformed", "unknown", "used", "expired").
    """

    payload: str = ""
    language_hint: str | None = None
    language_chosen: bool = False
    invitation: Joined | str | None = None


@dataclass(frozen=True)
class SessionEvent:
    """Something happened to a counselling session: tell the returnee.

    kind: "scheduled", "moved", "cancelled", "reminder_day" or "reminder_hour".
    """

    kind: str
    session: Session
    first: bool = False


@dataclass(frozen=True)
class Unsupported:
    """A photo, voice note, sticker, location, document or anything else but text."""

    kind: str


@dataclass(frozen=True)
class StaleButton:
    """A button the door could not resolve: forged, replayed, expired or someone else's."""


@dataclass(frozen=True)
class CheckinDue:
    """A scheduled check-in (or its one reminder) is due: ask the questions."""

    checkin_id: str
    reminder: bool = False


@dataclass(frozen=True)
class CaseClosed:
    """The case worker closed the case: say goodbye (or, after a death, say nothing)."""

    reason: str


@dataclass(frozen=True)
class Edited:
    """The person edited a message they had sent: its new text, screened like a new one."""

    text: str


@dataclass(frozen=True)
class ConversationLost:
    """The chat's stored conversation was damaged and set aside: the chat starts again.

    `case_id`, `country` and `timezone` are the case link the runtime could recover from the
    case file (the consents cannot be: they are asked again). `closed` is the closing reason
    of the chat's case, when it is closed: after a death the chat stays silent.
    """

    language_hint: str | None = None
    case_id: str | None = None
    country: str | None = None
    timezone: str | None = None
    closed: str | None = None


Inbound = (Text | Press | Command | Start | Unsupported | StaleButton | SessionEvent
           | CheckinDue | CaseClosed | Edited | ConversationLost)


def parse_text(text: str, language_hint: str | None = None) -> Inbound:
    """Read a typed message: `/start PAYLOAD`, `/command@bot args`, or plain text."""
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return Text(text)
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name.isascii() or not name.replace("_", "").isalnum():
        return Text(text)
    if name == "start":
        return Start(payload=args.strip(), language_hint=language_hint)
    return Command(name=name, args=args.strip())
