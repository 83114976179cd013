"""Which enabled language a person writes in, for the first message when Telegram's
language_code is missing or names a language the deployment does not enable.

Two steps:
1. The script, by hand, where it decides alone: Ethiopic letters are Tigrinya (the only
   enabled language in that script), Bengali letters are Bengali, and in Arabic script the
   letters only Pashto uses (ټ ډ ړ ږ ښ ګ ڼ ې ۍ ځ څ) or only Urdu uses (ٹ ڈ ڑ ں ے ھ) decide
   between them. lingua knows neither Pashto nor Tigrinya, so these rules are needed.
2. Otherwise lingua-language-detector (a maintained library that ships its models), limited
   to the enabled languages it knows, in low-accuracy mode (trigrams only: a fraction of the
   memory and time, and still reliable on a sentence), and only when it is clearly sure.

It returns None rather than guess: the bot then keeps its default and the full list.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache

# lingua's names for the supported languages it knows (no Pashto, no Tigrinya).
LINGUA_NAMES = {"en": "ENGLISH", "fr": "FRENCH", "ar": "ARABIC", "fa": "PERSIAN",
                "es": "SPANISH", "ru": "RUSSIAN", "ur": "URDU", "uk": "UKRAINIAN",
                "so": "SOMALI", "bn": "BENGALI"}
PASHTO_LETTERS = frozenset("ټډړږښګڼېۍځڅ")
URDU_LETTERS = frozenset("ٹڈڑںےھۓ")
MIN_LETTERS = 8  # shorter texts ("ok", "hi", "salam") say too little
MIN_CONFIDENCE = 0.6  # lingua's confidence for the first language, 0..1


def _is_ethiopic(ch: str) -> bool:
    return "\u1200" <= ch <= "\u139f" or "\u2d80" <= ch <= "\u2ddf"


def _is_bengali(ch: str) -> bool:
    return "\u0980" <= ch <= "\u09ff"


def _is_arabic(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufefc"


def by_script(text: str, enabled: frozenset[str]) -> str | None:
    """The language the script alone shows, among the enabled ones; None when it does not."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    counts = {"ti": 0, "bn": 0, "arabic": 0, "ps": 0, "ur": 0}
    for ch in letters:
        if _is_ethiopic(ch):
            counts["ti"] += 1
        elif _is_bengali(ch):
            counts["bn"] += 1
        elif _is_arabic(ch):
            counts["arabic"] += 1
            if ch in PASHTO_LETTERS:
                counts["ps"] += 1
            elif ch in URDU_LETTERS:
                counts["ur"] += 1
    half = len(letters) / 2
    for lang in ("ti", "bn"):
        if counts[lang] > half and lang in enabled:
            return lang
    if counts["arabic"] > half:
        ps, ur = counts["ps"] if "ps" in enabled else 0, counts["ur"] if "ur" in enabled else 0
        if ps > ur:
            return "ps"
        if ur > ps:
            return "ur"
    return None


class LanguageDetector:
    """detect(text) -> an enabled language code, or None when unsure. Thread-safe; lingua's
    models load on the first text that needs them, not at start-up."""

    def __init__(self, languages: Iterable[str]) -> None:
        self.enabled = frozenset(languages)
        self._lingua_codes = sorted(code for code in self.enabled if code in LINGUA_NAMES)
        self._detector: object | None = None
        self._lock = threading.Lock()
        self.detect = lru_cache(maxsize=1024)(self._detect)

    def _lingua(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._detector is None:
                from lingua import Language, LanguageDetectorBuilder

                languages = [getattr(Language, LINGUA_NAMES[c]) for c in self._lingua_codes]
                self._detector = (LanguageDetectorBuilder.from_languages(*languages)
                                  .with_low_accuracy_mode().build())
            return self._detector

    def _detect(self, text: str) -> str | None:
        if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
            return None
        found = by_script(text, self.enabled)
        if found is not None:
            return found
        if len(self._lingua_codes) < 2:
            return None  # lingua needs two languages to choose between
        values = self._lingua().compute_language_confidence_values(text[:400])
        if not values or values[0].value < MIN_CONFIDENCE:
            return None
        name = values[0].language.name
        return next(code for code, lingua_name in LINGUA_NAMES.items() if lingua_name == name)
