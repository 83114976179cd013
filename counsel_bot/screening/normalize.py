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
  ``می‌خواهم``, ``میخواهم`` and ``می خواهم`` are all ``میخواهم``; an "and" attached to
  an Arabic negation is split off (``وما`` -> ``و ما``);
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
BENGALI = (0x0980, 0x0A00)  # kept whole: its vowel signs (spacing or not) are part of words
GLUE_PREFIXES = ("نمی", "می", "بی")
SPLIT_WORDS = {f"و{w}": ("و", w) for w in ("ما", "لا", "مش", "مو", "لم", "لن")}
"""Arabic negations with an attached "and" (وما, ولا...) are split: "و ما"."""

_CLAUSE_CHARS = ".,;:!?…،؛؟۔।።፣፤\n\r\u2028\u2029—–•"
_VARIANTS = (
    ("ٱ", "ا"), ("ٲ", "ا"), ("ٳ", "ا"), ("ٵ", "ا"),
    ("ى", "ی"), ("ي", "ی"), ("ې", "ی"),
    ("ة", "ه"), ("ە", "ه"), ("ۃ", "ه"), ("ہ", "ه"), ("ھ", "ه"),
    ("ك", "ک"), ("ڪ", "ک"),
    ("œ", "oe"), ("æ", "ae"), ("ø", "o"), ("ł", "l"), ("đ", "d"), ("ı", "i"),
    ("\u02bc", "'"),  # the modifier-letter apostrophe of Ukrainian keyboards ("вбʼє") is a letter
)
_DIGIT_TABLE = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}


def _marks_class() -> str:
    """A regex class of combining marks (harakat...), format characters (ZWNJ, bidi
    marks, soft hyphen) and tatweel, as ranges of the Basic Multilingual Plane."""
    drop = [unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf") for cp in range(0x10000)]
    drop[0x0640] = True  # tatweel
    for cp in range(*BENGALI):  # Bengali vowel signs carry the word ("মরতে" die, "মারতে" hit)
        drop[cp] = False
    ranges, cp = [], 0
    while cp < 0x10000:
        if drop[cp]:
            end = cp
            while end + 1 < 0x10000 and drop[end + 1]:
                end += 1
            ranges.append(f"\\u{cp:04x}-\\u{end:04x}" if end > cp else f"\\u{cp:04x}")
            cp = end
        cp += 1
    return "[" + "".join(ranges) + "]"


_MARKS = re.compile(_marks_class())
_CLAUSE = re.compile("[" + re.escape(_CLAUSE_CHARS) + "]")
_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_SEPARATORS = re.compile(r"[^\w\n\u0980-\u09ff]+")  # Bengali vowel signs are not \w
_BREAKS = re.compile(r" ?\n[\n ]*")
_GLUE = re.compile(r"(?<![^ \n])(نمی|می|بی) (?=\w)")
_SPLIT = re.compile(r"(?<![^ \n])و(ما|لا|مش|مو|لم|لن)(?![^ \n])")
_LONG = re.compile(rf"(?<!\w)(\w{{{MAX_TOKEN}}})\w+")
_PASHTO_ME = re.compile(r"(?<!\w)مې(?!\w)")
"""Pashto's enclitic "مې" (my, me) is not the Persian prefix "می": it becomes "میی", which
is never glued to the next word ("مور مې بې هوښه", "ما مې وهي")."""


def fold(text: str) -> str:
    """Character-level folding: case, marks, letter variants, digits; clause marks become
    newlines. Other symbols (``* { } | _``) are left in place, so the lexicon parser can
    fold a whole pattern before reading its syntax."""
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        if "\u0306" in text:
            text = text.replace("и\u0306", "й")
        text = _MARKS.sub("", text)
        for old, new in _VARIANTS:
            if old in text:
                text = text.replace(old, new)
        if _DIGITS.search(text):
            text = text.translate(_DIGIT_TABLE)
    return _CLAUSE.sub(CLAUSE_BREAK, text)


def tokens_of(folded: str) -> list[str]:
    """The words of text already folded (a list of words, one per line, say)."""
    return _SEPARATORS.sub(" ", folded.replace("_", " ")).split()


def glue(text: str) -> str:
    """Join a standalone Persian ``می``/``نمی``/``بی`` to the following word, and split an
    attached "and" from an Arabic negation (``وما`` -> ``و ما``)."""
    return _SPLIT.sub(r"و \1", _GLUE.sub(r"\1", text))


def normalize(text: str) -> str:
    """Normalize a message for matching (see the module docstring)."""
    text = text[:MAX_CHARS]
    if "مې" in text:
        text = _PASHTO_ME.sub("میی", text)
    text = fold(text).replace("_", " ")
    text = _SEPARATORS.sub(" ", text)
    text = _BREAKS.sub(CLAUSE_BREAK, text).strip(" \n")
    text = _LONG.sub(r"\1", text)
    if not text.isascii():
        text = glue(text)
    return text
