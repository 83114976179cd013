"""Text normalization shared by messages and lexicon patterns.

The normalized form is a string of word tokens (``\\w+``) separated by one space, with a
newline between clauses. Rules (see docs/screening.md):

* case folding; accents and other combining marks removed (``é -> e``, ``ё -> е``), but
  Russian ``й`` is kept;
* Arabic script: alef forms ``أ إ آ ٱ -> ا``, ``ى ي ی -> ی``, ``ة -> ه``, ``ك -> ک``;
  harakat, superscript alef and tatweel removed; ``گ چ پ ژ`` kept;
* Arabic-Indic and Persian digits -> ASCII digits;
* zero-width non-joiner (and other format characters) removed, and the Persian prefixes
  ``می``/``نمی``/``بی`` written as a separate word are joined to the next word, so
  ``می‌خواهم``, ``میخواهم`` and ``می خواهم`` are all ``میخواهم``;
* words are cut to MAX_TOKEN characters;
* apostrophes, hyphens and other symbols separate words; ``. , ; : ! ? …`` and their
  Arabic forms, dashes and line breaks end a clause.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 20_000
"""Only the first MAX_CHARS characters of a message are screened."""
MAX_TOKEN = 40
"""Longer words are cut to this length (no real word is longer; it bounds matching cost)."""

CLAUSE_BREAK = "\n"
GLUE_PREFIXES = ("نمی", "می", "بی")

_CLAUSE_CHARS = ".,;:!?…،؛؟۔\n\r\u2028\u2029—–•"
_APOSTROPHES = "'’‘ʼ`´"
_VARIANTS = {
    "ٱ": "ا", "ٲ": "ا", "ٳ": "ا", "ٵ": "ا",
    "ى": "ی", "ي": "ی", "ې": "ی",
    "ة": "ه", "ە": "ه", "ۃ": "ه", "ہ": "ه", "ھ": "ه",
    "ك": "ک", "ڪ": "ک",
    "œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i",
}


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in range(0x10000):  # the Basic Multilingual Plane covers all marks we care about
        if unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf"):
            table[cp] = None  # combining marks, harakat, ZWNJ/ZWJ, bidi marks, soft hyphen
    table[0x0640] = None  # tatweel
    for i in range(10):
        table[0x0660 + i] = str(i)  # Arabic-Indic digits
        table[0x06F0 + i] = str(i)  # Persian digits
    for ch, repl in _VARIANTS.items():
        table[ord(ch)] = repl
    for ch in _CLAUSE_CHARS:
        table[ord(ch)] = CLAUSE_BREAK
    for ch in _APOSTROPHES:
        table[ord(ch)] = " "
    return table


_TABLE = _build_table()
_ASCII_TABLE = {cp: v for cp, v in _TABLE.items() if cp < 128}
_SEPARATORS = re.compile(r"(?:[^\w\n]|_)+")
_BREAKS = re.compile(r" ?\n[\n ]*")
_GLUE = re.compile(r"(?<![^ \n])(نمی|می|بی) (?=\w)")
_LONG = re.compile(rf"(\w{{{MAX_TOKEN}}})\w+")


def fold(text: str) -> str:
    """Character-level folding: case, marks, letter variants, digits; clause marks become
    newlines and apostrophes spaces. Other symbols (``* { } |``) are left in place, so the
    lexicon parser can fold a whole pattern before reading its syntax."""
    text = text.casefold()
    if text.isascii():
        return text.translate(_ASCII_TABLE)
    text = unicodedata.normalize("NFKD", text).replace("и\u0306", "й")
    return text.translate(_TABLE)


def glue(text: str) -> str:
    """Join a standalone Persian ``می``/``نمی``/``بی`` to the following word."""
    return _GLUE.sub(r"\1", text)


def normalize(text: str) -> str:
    """Normalize a message for matching (see the module docstring)."""
    text = fold(text[:MAX_CHARS])
    text = _SEPARATORS.sub(" ", text)
    text = _BREAKS.sub(CLAUSE_BREAK, text).strip(" \n")
    text = _LONG.sub(r"\1", text)
    if not text.isascii():
        text = glue(text)
    return text
