"""Dictionary forms of Russian and Ukrainian words (pymorphy3 and its OpenCorpora / LanguageTool
dictionaries), so that a lexicon word meets its other forms by what the word is, not by how
it begins.

Why not only the Snowball stemmer: a stem is where a word's ending is cut, and two words can
share one. Russian "долго" (for a long time) and "долг" (a debt) both stem to "долг", so
"the bank blocked my card because I was away for a long time" was a debt. Ukrainian has no
Snowball stemmer at all, so its lexicon met only the forms it listed ("вмирати" but not
"вмираю"). A dictionary knows each form's lemma: "долго" is the adverb "долго", "вмираю" is
"вмирати", "убьёт" is "убить". For a word the dictionary does not know (a typo, slang, a
name), the stemmer and typo tolerance are used as before.
"""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

LANGUAGES = ("ru", "uk")
MIN_SCORE = 0.05
"""Readings of a form less likely than this (pymorphy3's estimate) are not used: "долго"
is also a rare short adjective of "долгий", which is not meant."""


class Lemmatiser:
    """The lemmas of one language's word forms (thread-safe; cached)."""

    def __init__(self, language: str) -> None:
        import pymorphy3

        self.language = language
        self._morph = pymorphy3.MorphAnalyzer(lang=language)
        self.lemmas = lru_cache(maxsize=100_000)(self._lemmas)

    def lemma(self, word: str) -> str | None:
        """The most likely dictionary form of a lexicon word, None when unknown."""
        if not self._morph.word_is_known(word):
            return None
        return _plain(self._morph.parse(word)[0].normal_form)

    def _lemmas(self, word: str) -> frozenset[str]:
        """The dictionary forms of ``word`` (normalized), empty when the dictionary does not
        know it."""
        if not self._morph.word_is_known(word):
            return frozenset()
        return frozenset(_plain(p.normal_form) for p in self._morph.parse(word)
                         if p.score >= MIN_SCORE)


def _plain(lemma: str) -> str:
    """A lemma as messages are normalized (ё is е), and a reflexive verb as its verb: the
    dictionaries list "закончиться" (to come to an end) apart from "закончить" (to end),
    and "всё закончится" must meet the lexicon's "закончить"."""
    lemma = lemma.replace("ё", "е")
    if lemma.endswith(("ться", "тись", "тися", "чься")):
        return lemma[:-2] if lemma.endswith(("ся", "сь")) else lemma
    return lemma


def lemmatisers(languages: list[str] | tuple[str, ...]) -> dict[str, Lemmatiser]:
    """A lemmatiser for each of ``languages`` that has one; none, said once, when pymorphy3
    or a dictionary cannot be loaded (the stemmer and typo tolerance still work)."""
    found: dict[str, Lemmatiser] = {}
    for language in languages:
        if language not in LANGUAGES:
            continue
        try:
            found[language] = Lemmatiser(language)
        except Exception as exc:  # a missing dictionary package: screening goes on without
            log.warning("screening: no %s dictionary forms (%s: %s); stems and typos only",
                        language, type(exc).__name__, exc)
    return found
