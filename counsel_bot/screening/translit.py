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
