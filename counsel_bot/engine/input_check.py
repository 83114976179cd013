"""Recognise text the engine should not act on: empty, huge or garbled."""

from __future__ import annotations

import unicodedata

MAX_TEXT_LENGTH = 4000
_ALLOWED_CONTROLS = frozenset("\n\t\r")


def _is_garbled(text: str) -> bool:
    for char in text:
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        # Cc: control characters; Cs: lone surrogates from broken UTF-8; U+FFFD: replaced bytes.
        if category in ("Cc", "Cs") or char == "\ufffd":
            return True
    return False


def problem_with(text: str) -> str | None:
    """The system-text key describing what is wrong with `text`, or None if it is fine."""
    if len(text) > MAX_TEXT_LENGTH:
        return "too_long"
    if _is_garbled(text):
        return "garbled_text"
    if not text.strip():
        return "empty_text"
    return None
