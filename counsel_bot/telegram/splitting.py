"""Split long texts for Telegram's 4,096-character limit at natural boundaries.

Telegram counts UTF-16 code units, so an emoji counts twice; the split does the same.
"""

from __future__ import annotations

TELEGRAM_LIMIT = 4096


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of `text` that fit in `limit` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut at a paragraph, else a line, else a space, else hard."""
    parts: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        fit = _fitting_prefix(rest, limit)
        window = rest[:fit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < fit // 2:
            cut = window.rfind(" ")
        if cut < fit // 2:
            cut = fit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts
