"""Romanized writing (Arabizi, Finglish, Russian in Latin letters) into native script.

Each lexicon file of a language written in another script may carry a ``transliteration``
table (Latin letters, digraphs or Arabizi digits -> native letters) and a list of
``romanized_markers``: common words of that language in Latin letters ("ana", "mikham",
"ya"). A message is transliterated into a language's script only when it holds one of its
markers (or, for a table that maps digits, a word mixing Arabizi digits and letters), so
English or French messages are not read as romanized Russian or Arabic.

Written by hand, on purpose: no maintained library covers Levantine/Gulf/Maghrebi Arabizi,
Finglish and Russian together, and the tables must stay data that native speakers edit.
The rule is plain greedy longest-match over the table; the ambiguity of romanized vowels
is handled by the matcher, which compares consonant skeletons (see ``skeleton``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ARABIC_VOWELS = "اوی"
_SKELETON_DROP = str.maketrans({"ا": None, "و": None, "ی": None, "ء": None, "ع": None,
                                "ه": None, "ة": None})
_SKELETON_SAME = str.maketrans({"ق": "ک", "غ": "ک", "گ": "ک", "ث": "ت", "ط": "ت",
                                "ص": "س", "ض": "د", "ذ": "ز", "ظ": "ز",
                                "چ": "ش", "پ": "ب", "ژ": "ج"})
_ARABIZI_DIGIT = re.compile(r"[a-z][2-9]|[2-9][a-z]")


def skeleton(word: str) -> str:
    """Consonant skeleton of an Arabic-script word: vowel letters, hamza, ain and h dropped
    (except a first letter), emphatic and dialect-variable letters merged, so that a
    romanized spelling ("mout", "e2tol") and the written word (موت, اقتل) meet."""
    if not word:
        return word
    head, rest = word[0], word[1:]
    if head in "اعءه":
        head = ""
    return (head + rest.translate(_SKELETON_DROP)).translate(_SKELETON_SAME)


# Ethiopic (Ge'ez) is a syllabary: each letter is a consonant with one of seven vowels, the
# letters of one consonant in a row of 8 code points (U+1200 ...). Labialized rows ("kwa")
# of their own: row start -> the consonant they labialize.
_ETH_LABIAL_ROWS = {0x1248: 0x1240, 0x1258: 0x1250, 0x1288: 0x1280, 0x12B0: 0x12A8,
                    0x12C0: 0x12B8, 0x1310: 0x1308}
# consonants merged as romanized writing merges them (base letters of their rows):
# h/H/x/kh, q/k (ቀ ቐ ከ), s/S, t/T, ch/c, p/P, z/zh, b/v; the glottal carriers dropped
# (a vowel in Latin letters); ts/x (ጸ ፀ) is t+s, ny/gn (ኘ) is n+y, so that "ts" or
# "ny" written as two letters meets it.
_ETH_SAME = {"ሐ": "ሀ", "ኀ": "ሀ", "ኸ": "ሀ", "ቐ": "ከ", "ቀ": "ከ", "ሠ": "ሰ", "ጠ": "ተ",
             "ጨ": "ቸ", "ጰ": "ፐ", "ዠ": "ዘ", "ቨ": "በ", "ዸ": "ደ", "ጸ": "ተሰ", "ፀ": "ተሰ",
             "ኘ": "ነየ", "አ": "", "ዐ": ""}


def ethiopic_skeleton(word: str) -> str:
    """Consonant skeleton of an Ethiopic word: each letter reduced to its consonant (the
    vowel order dropped; a labialized letter is its consonant + w), consonants that
    romanized Tigrinya writes alike merged, the glottal vowel carriers (አ ዐ) dropped and
    doubled consonants written once, so that "kimewit", "kmewt" (through the ti table) and
    ክመውት meet. Letters outside the Ethiopic syllables are dropped."""
    out: list[str] = []
    for ch in word:
        cp = ord(ch)
        if not 0x1200 <= cp <= 0x135A:
            continue
        row = cp - (cp - 0x1200) % 8
        labial = (cp - row) == 7 and row not in _ETH_LABIAL_ROWS
        if row in _ETH_LABIAL_ROWS:
            row, labial = _ETH_LABIAL_ROWS[row], True
        base = chr(row)
        for letter in _ETH_SAME.get(base, base) + ("ወ" if labial else ""):
            if not out or out[-1] != letter:
                out.append(letter)
    return "".join(out)


# Ge'ez spellings that vary for one sound (ቅ/ቕ, ሕ/ህ, ጽ/ፅ, ኣ/ዓ, ስ/ሥ): one letter each
_ETH_SPELLING = {"ቐ": "ቀ", "ሐ": "ሀ", "ኀ": "ሀ", "ሠ": "ሰ", "ፀ": "ጸ", "ዐ": "አ"}


def ethiopic_key(word: str) -> str:
    """An Ethiopic word with variable spellings merged (ቅ/ቕ, ሕ/ህ, ጽ/ፅ, ኣ/ዓ) and the
    vowel of its last letter dropped, the inflection of person and gender (ሞይቱ, ሞይታ,
    ሞይተ; ውሒጠ, ውሒጣ): other letters keep their vowel, since a consonant skeleton of a
    Ge'ez word is its root ("ፈቲኑ", he tried, and "ፈተና", exam)."""
    out: list[str] = []
    for i, ch in enumerate(word):
        cp = ord(ch)
        if not 0x1200 <= cp <= 0x135A:
            out.append(ch)
            continue
        order = (cp - 0x1200) % 8
        row = chr(cp - order)
        row = _ETH_SPELLING.get(row, row)
        out.append(row if i == len(word) - 1 else chr(ord(row) + order))
    return "".join(out)


@dataclass(frozen=True)
class Transliterator:
    """One language's table from Latin letters to its script."""

    language: str
    table: tuple[tuple[str, str], ...]  # longest Latin sequence first
    markers: frozenset[str]
    digits: bool  # the table maps Arabizi digits (2 3 5 7 9...)

    @classmethod
    def build(cls, language: str, table: Mapping[str, str],
              markers: Iterable[str]) -> Transliterator:
        pairs = tuple(sorted(((k.casefold(), v) for k, v in table.items()),
                             key=lambda kv: -len(kv[0])))
        return cls(language, pairs, frozenset(m.casefold() for m in markers),
                   any(any(c.isdigit() for c in k) for k, _ in pairs))

    def applies(self, tokens: Iterable[str]) -> bool:
        """Whether a message (its Latin tokens) looks written in this language."""
        for token in tokens:
            if token in self.markers:
                return True
            if self.digits and _ARABIZI_DIGIT.search(token):
                return True
        return False

    def word(self, token: str) -> str:
        """One Latin token in native script (letters without an entry are dropped)."""
        out: list[str] = []
        i = 0
        while i < len(token):
            for latin, native in self.table:
                if token.startswith(latin, i):
                    out.append(native)
                    i += len(latin)
                    break
            else:
                i += 1
        return "".join(out)
