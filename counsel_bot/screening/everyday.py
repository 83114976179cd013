"""Everyday words of each language, so that typo tolerance does not read one word as another.

Typo tolerance (one edit in words of 5-7 letters, two in longer ones) finds "hiting" for
"hitting", and it also found "eating" for "hitting", "perdu" (lost) for "pendu" (hanged),
"poison" for "prison" and "hombre" (man) for "hambre" (hunger). Those are two words, not a
typo, and round 11 of issue 11 excluded them one by one. This module makes the rule
general: when the message's word and the lexicon word closest to it are **both everyday
words of one language**, and they differ before the last two letters of the shorter one,
the message's word is taken as written. A difference in the ending alone is inflection,
which typo tolerance is also there to catch ("купив" for "купити", "убили" for "убил").

"Everyday" is wordfreq's small list for the language (words seen about once per million
words or more, from Wikipedia, subtitles, news, books and the web). wordfreq is no longer
updated (its data stops in 2021), which suits a list of everyday words; it has no list for
Pashto, Somali or Tigrinya, whose typo tolerance is unchanged.

The same lists keep an everyday word of a Latin-script language from being read as
romanized Arabic, Persian, Urdu, Pashto or Tigrinya by stem, typo or consonant skeleton:
Spanish "explica" had been read as a romanized word for hope. A romanized word the
lexicon lists as written is still found.

A list is kept as a sorted array of the words' hashes (about 2 MB for nine languages,
against 39 MB as sets of strings), built once per process and language.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import numpy as np
import wordfreq
from rapidfuzz.distance import Prefix

from counsel_bot.screening.normalize import fold, tokens_of

WORDLIST = "small"
INFLECTION = 2
"""Two everyday words that differ only in their last this many letters are one word."""


@cache
def _available() -> frozenset[str]:
    return frozenset(wordfreq.available_languages(WORDLIST))


@cache
def everyday_hashes(language: str, min_length: int) -> np.ndarray:
    """The sorted hashes of the language's everyday words of ``min_length`` letters or more,
    folded as messages are (case, accents, letter variants); empty when wordfreq has no
    list for the language."""
    if language not in _available():
        return np.empty(0, dtype=np.int64)
    # the undecorated function: wordfreq's own cache would keep the whole list in memory
    buckets = wordfreq.get_frequency_list.__wrapped__(language, WORDLIST)
    words = tokens_of(fold("\n".join(word for bucket in buckets for word in bucket)))
    return np.unique(np.fromiter((hash(w) for w in words if len(w) >= min_length),
                                 dtype=np.int64))


class EverydayWords:
    """Answers "are these two words both everyday words of one of these languages?"."""

    def __init__(self, languages: Iterable[str], min_length: int) -> None:
        self._lists = {lang: everyday_hashes(lang, min_length) for lang in languages}

    def _has(self, language: str, word: str) -> bool:
        hashes = self._lists.get(language)
        if hashes is None or not len(hashes):
            return False
        key = hash(word)
        at = int(np.searchsorted(hashes, key))
        return at < len(hashes) and int(hashes[at]) == key

    def is_everyday(self, token: str, languages: Iterable[str]) -> bool:
        """Whether ``token`` is an everyday word of one of ``languages``."""
        return any(self._has(lang, token) for lang in languages)

    def two_words(self, token: str, word: str, languages: Iterable[str]) -> bool:
        """True when ``token`` is not a misspelling of ``word``: both are everyday words of
        one of ``languages`` and they differ before their endings."""
        if Prefix.similarity(token, word) >= min(len(token), len(word)) - INFLECTION:
            return False
        return any(self._has(lang, token) and self._has(lang, word) for lang in languages)
