"""Distress screening: every message is checked against the lexicons of all languages.

Typical use (build once at start-up, then screen each message)::

    screener = Screener.from_locales(Path("locales"), SUPPORTED_LANGUAGES)
    result = screener.screen("je ne sais plus quoi faire, je veux mourir", lang="en")
    result.severity  # "urgent"
"""

from counsel_bot.screening.lexicon import CATEGORIES, LexiconError
from counsel_bot.screening.normalize import MAX_CHARS, normalize
from counsel_bot.screening.screener import (
    DEFAULT_LOCALES_DIR,
    NO_SIGNAL,
    SUPPORTED_LANGUAGES,
    Screener,
    ScreeningResult,
    default_screener,
    merge,
    screen_checkin,
    screen_help_request,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_LOCALES_DIR",
    "MAX_CHARS",
    "NO_SIGNAL",
    "SUPPORTED_LANGUAGES",
    "LexiconError",
    "Screener",
    "ScreeningResult",
    "default_screener",
    "merge",
    "normalize",
    "screen_checkin",
    "screen_help_request",
]
